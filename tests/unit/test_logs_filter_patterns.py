"""CloudWatch Logs filter patterns, case by case against the syntax AWS documents
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html)."""

import json

import pytest

from lakestack.aws.errors import AwsError
from lakestack.services.logs.filter_patterns import compile_pattern


def matches(pattern: str, message: str) -> bool:
    return compile_pattern(pattern)(message)


@pytest.mark.parametrize("pattern,message,expected", [
    ("", "anything at all", True),
    ('""', "anything at all", True),
    ("ERROR", "[ERROR] disk full", True),
    ("ERROR", "all good", False),
    ("ERROR", "error in lower case", False),  # terms are case-sensitive
    ("ERROR disk", "[ERROR] disk full", True),
    ("ERROR memory", "[ERROR] disk full", False),  # every term must be there
    ('"Failed to connect"', "2024 Failed to connect to db", True),
    ('"Failed to connect"', "Failed, then connect to", False),
    ("?ERROR ?WARN", "WARN low disk", True),
    ("?ERROR ?WARN", "INFO fine", False),
    ("ERROR -Retrying", "ERROR timeout Retrying", False),
    ("ERROR -Retrying", "ERROR timeout", True),
    ('ERROR -"will retry"', "ERROR timeout, will retry", False),
    ("%ERR[0-9]+%", "code ERR42 seen", True),
    ("%ERR[0-9]+%", "code ERR seen", False),
])
def test_term_patterns(pattern, message, expected):
    assert matches(pattern, message) is expected


EVENT = json.dumps({"level": "ERROR", "latency": 150, "user": {"id": 7, "name": "ada"}, "tags": ["a", "b"],
                    "ok": False, "missing_value": None, "path": "/api/v1/items"})


@pytest.mark.parametrize("pattern,expected", [
    ('{ $.level = "ERROR" }', True),
    ('{ $.level = "INFO" }', False),
    ("{ $.level = ERROR }", True),  # unquoted strings are allowed
    ('{ $.level != "INFO" }', True),
    ('{ $.path = "/api/*" }', True),  # wildcard
    ('{ $.path = "/web/*" }', False),
    ("{ $.latency > 100 }", True),
    ("{ $.latency >= 150 }", True),
    ("{ $.latency < 100 }", False),
    ("{ $.latency = 150 }", True),
    ("{ $.latency != 150 }", False),
    ('{ $.user.name = "ada" }', True),
    ("{ $.user.id = 7 }", True),
    ('{ $.tags[1] = "b" }', True),
    ('{ ($.level = "ERROR") && ($.latency > 100) }', True),
    ('{ ($.level = "ERROR") && ($.latency > 500) }', False),
    ('{ $.level = "INFO" || $.latency > 100 }', True),
    ('{ ($.level = "INFO" || $.latency > 500) && $.ok IS FALSE }', False),
    ('{ $.level = "INFO" || ($.latency > 100 && $.ok IS FALSE) }', True),
    ("{ $.missing_value IS NULL }", True),
    ("{ $.nothing NOT EXISTS }", True),
    ("{ $.level NOT EXISTS }", False),
    ("{ $.nothing = 1 }", False),
    ("{ $.path = %^/api/v[0-9]% }", True),
])
def test_json_patterns(pattern, expected):
    assert matches(pattern, EVENT) is expected


def test_json_patterns_only_match_json_objects():
    assert not matches('{ $.level = "ERROR" }', '[ERROR] level = "ERROR"')
    assert not matches('{ $.level = "ERROR" }', '["ERROR"]')


@pytest.mark.parametrize("pattern,message,expected", [
    ("[ip, user, status, size]", "10.0.0.1 ada 200 512", True),
    ("[ip, user, status, size]", "10.0.0.1 ada 200", False),  # four fields, three values
    ("[ip, user, status = 404, size]", "10.0.0.1 ada 404 512", True),
    ("[ip, user, status = 4*, size > 1000]", "10.0.0.1 ada 404 512", False),
    ("[ip, ..., status = 4* || status = 5*, size]", "10.0.0.1 ada GET /x 503 10", True),
    ("[ip, ..., status = 4* || status = 5*, size]", "10.0.0.1 ada GET /x 200 10", False),
    ('[ip, user, request = "GET /*", status]', '10.0.0.1 ada "GET /index.html" 200', True),
])
def test_space_delimited_patterns(pattern, message, expected):
    assert matches(pattern, message) is expected


@pytest.mark.parametrize("pattern", ["{ $.level = ", "{ $.a = 1", "{ level = 1 }", '{ $.a > "x" }', "[a, b",
                                     "{ $.a IS MAYBE }", "ERROR && WARN"])
def test_invalid_patterns_are_refused_as_aws_does(pattern):
    with pytest.raises(AwsError) as caught:
        compile_pattern(pattern)
    assert caught.value.code == "InvalidParameterException"
