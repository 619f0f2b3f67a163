"""The partition predicate language of GetPartitions."""

import pytest

from lakestack.aws.errors import AwsError
from lakestack.services.glue.expressions import ExpressionError, compile_predicate, parse

KEYS = [{"Name": "year", "Type": "int"}, {"Name": "region", "Type": "string"}, {"Name": "day", "Type": "date"},
        {"Name": "price", "Type": "decimal(10,2)"}]
ROWS = [
    ["2019", "eu-west", "2019-01-31", "9.50"],
    ["2020", "us-east", "2020-02-29", "10.00"],
    ["2021", "eu-north", "2021-12-01", "100.25"],
    ["2100", "ap-south", "2100-01-01", "0"],
]


def select(expression: str) -> list[str]:
    test = compile_predicate(expression, KEYS)
    return [row[0] for row in ROWS if test(row)]


@pytest.mark.parametrize("expression, years", [
    ("year = 2020", ["2020"]),
    ("year > 2019 AND year < 2100", ["2020", "2021"]),
    ("year >= '2020'", ["2020", "2021", "2100"]),  # a quoted literal still compares as the key's type
    ("year <> 2020", ["2019", "2021", "2100"]),
    ("year != 2020", ["2019", "2021", "2100"]),
    ("year <= 2019 OR region = 'ap-south'", ["2019", "2100"]),
    ("NOT year = 2019", ["2020", "2021", "2100"]),
    ("year BETWEEN 2019 AND 2020", ["2019", "2020"]),
    ("year NOT BETWEEN 2019 AND 2020", ["2021", "2100"]),
    ("year IN (2019, 2021)", ["2019", "2021"]),
    ("region NOT IN ('eu-west', 'us-east')", ["2021", "2100"]),
    ("region LIKE 'eu-%'", ["2019", "2021"]),
    ("region LIKE '__-east'", ["2020"]),
    ("region NOT LIKE 'eu%'", ["2020", "2100"]),
    ("(year = 2019 OR year = 2020) AND region LIKE '%east'", ["2020"]),
    ("year = 2019 OR year = 2020 AND region LIKE '%east'", ["2019", "2020"]),  # AND binds tighter
    ("day > '2020-01-01' AND day < '2021-12-31'", ["2020", "2021"]),
    ("price >= 10", ["2020", "2021"]),
    ("price = 10.0", ["2020"]),
    ("`year` = 2021", ["2021"]),
    ("YEAR = 2021 and Region like 'eu%'", ["2021"]),  # keywords and keys are case-insensitive
    ("region = 'it''s'", []),
    ("region IS NULL", []),
    ("region IS NOT NULL", ["2019", "2020", "2021", "2100"]),
])
def test_predicates(expression, years):
    assert select(expression) == years


def test_integers_compare_numerically_and_strings_lexicographically():
    keys = [{"Name": "n", "Type": "bigint"}, {"Name": "s", "Type": "string"}]
    numeric = compile_predicate("n > 9", keys)
    text = compile_predicate("s > '9'", keys)
    assert numeric(["10", "10"]) and not text(["10", "10"])


def test_value_not_of_the_key_type_does_not_match():
    test = compile_predicate("year > 2000", KEYS)
    assert not test(["twenty", "x", "2020-01-01", "1"])


def test_parse_tree_shape():
    assert parse("a = 1 AND NOT (b IN ('x', 'y') OR c BETWEEN 1 AND 2)") == (
        "and", ("cmp", "=", ("col", "a"), ("num", "1")),
        ("not", ("or", ("in", ("col", "b"), [("str", "x"), ("str", "y")]),
                 ("between", ("col", "c"), ("num", "1"), ("num", "2")))))


@pytest.mark.parametrize("expression", [
    "year >",
    "year = 2020 AND",
    "(year = 2020",
    "year = 2020)",
    "year BETWEEN 2019",
    "year IN 2019",
    "year IN ()",
    "year === 2020",
    "region = 'unterminated",
    "unknown_key = 1",
    "year = 'not a number'",
    "region LIKE region",
    "= 2020",
    "year 2020",
    "year = 2020 ; DROP TABLE x",
])
def test_malformed_expressions_are_invalid_input(expression):
    with pytest.raises(AwsError) as info:
        compile_predicate(expression, KEYS)
    assert info.value.code == "InvalidInputException"


def test_parse_errors_say_where():
    with pytest.raises(ExpressionError, match="position 6"):
        parse("year >")
