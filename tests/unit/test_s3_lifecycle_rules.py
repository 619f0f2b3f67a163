"""Lifecycle's pure parts: when days come due, which objects a rule selects, x-amz-expiration."""

import datetime as dt

import pytest

from lakestack.aws.errors import AwsError
from lakestack.services.s3 import lifecycle

DAY = 86400.0


def ts(*args) -> float:
    return dt.datetime(*args, tzinfo=dt.UTC).timestamp()


def test_days_round_up_to_the_next_midnight_utc():
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/intro-lifecycle-rules.html
    assert lifecycle.due(ts(2026, 1, 1, 10, 30), 1, DAY) == ts(2026, 1, 3)
    assert lifecycle.due(ts(2026, 1, 1), 1, DAY) == ts(2026, 1, 2)
    assert lifecycle.due(12.5, 2, 10.0) == 40.0  # a scaled day: the next multiple of it


def test_filters_select_by_prefix_size_and_tags():
    rule = {"Filter": {"And": {"Prefix": "logs/", "ObjectSizeGreaterThan": 10, "ObjectSizeLessThan": 100,
                               "Tags": [{"Key": "t", "Value": "v"}]}}}
    assert lifecycle.matches(rule, "logs/a", 50, {"t": "v"})
    assert not lifecycle.matches(rule, "logs/a", 50)
    assert not lifecycle.matches(rule, "logs/a", 100, {"t": "v"})
    assert not lifecycle.matches(rule, "data/a", 50, {"t": "v"})
    assert lifecycle.matches({"Prefix": "x/"}, "x/y", 0)
    assert lifecycle.matches({"Filter": {}}, "anything", 0)


def test_expiration_header_names_the_earliest_rule():
    config = lifecycle.check_configuration({"Rules": [
        {"ID": "late rule", "Filter": {}, "Status": "Enabled", "Expiration": {"Days": 30}},
        {"ID": "early", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled", "Expiration": {"Days": 2}},
        {"ID": "off", "Filter": {}, "Status": "Disabled", "Expiration": {"Days": 1}},
    ]}, None)
    created = ts(2026, 1, 1, 8)
    assert lifecycle.expiration_header(config, "tmp/a", 1, created, DAY) == (
        'expiry-date="Sun, 04 Jan 2026 00:00:00 GMT", rule-id="early"')
    assert lifecycle.expiration_header(config, "a", 1, created, DAY).endswith('rule-id="late%20rule"')


def test_stored_dates_are_midnights():
    config = lifecycle.check_configuration({"Rules": [
        {"ID": "d", "Prefix": "", "Status": "Enabled", "Expiration": {"Date": dt.datetime(2030, 1, 1)}}]}, None)
    assert config["Rules"][0]["Expiration"]["Date"] == "2030-01-01T00:00:00Z"
    with pytest.raises(AwsError) as caught:
        lifecycle.check_configuration({"Rules": [
            {"ID": "d", "Prefix": "", "Status": "Enabled", "Expiration": {"Date": dt.datetime(2030, 1, 1, 1)}}]}, None)
    assert caught.value.code == "InvalidArgument"
