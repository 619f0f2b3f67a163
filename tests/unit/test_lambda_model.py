"""Lambda's pure rules: function names, resource policies, configuration checks, the
Kinesis event record and batch-failure responses."""

import datetime as dt
import json

import pytest

from lakestack.aws.errors import AwsError
from lakestack.services.awslambda import configuration, names, policies
from lakestack.services.awslambda.functions import pick_alias_version
from lakestack.services.awslambda.kinesis_poller import _event_record, _first_failure, _fitting

ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.mark.parametrize("text,qualifier,expected", [
    ("fn", None, (ACCOUNT, REGION, "fn", None)),
    ("fn:live", None, (ACCOUNT, REGION, "fn", "live")),
    ("fn", "3", (ACCOUNT, REGION, "fn", "3")),
    ("111122223333:function:fn", None, ("111122223333", REGION, "fn", None)),
    ("arn:aws:lambda:us-east-1:111122223333:function:fn:$LATEST", None, ("111122223333", REGION, "fn", "$LATEST")),
])
def test_function_names(text, qualifier, expected):
    ref = names.parse(text, ACCOUNT, REGION, qualifier)
    assert (ref.account, ref.region, ref.name, ref.qualifier) == expected


def test_function_name_errors():
    with pytest.raises(AwsError) as caught:
        names.parse("fn:live", ACCOUNT, REGION, "other")
    assert caught.value.code == "InvalidParameterValueException"
    with pytest.raises(AwsError):
        names.parse("not a name", ACCOUNT, REGION)
    with pytest.raises(AwsError):
        names.parse("x" * 65, ACCOUNT, REGION)


def test_add_permission_writes_statements_as_lambda_does():
    resource = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn"
    statement = policies.statement({"StatementId": "s3", "Action": "lambda:InvokeFunction",
                                    "Principal": "s3.amazonaws.com", "SourceArn": "arn:aws:s3:::bucket",
                                    "SourceAccount": ACCOUNT}, resource)
    assert statement == {
        "Sid": "s3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction", "Resource": resource,
        "Condition": {"StringEquals": {"AWS:SourceAccount": ACCOUNT}, "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"}},
    }
    policy = policies.add(None, statement)
    assert policies.allows_service(policy, "s3.amazonaws.com", "lambda:InvokeFunction", resource,
                                   "arn:aws:s3:::bucket", ACCOUNT)
    assert not policies.allows_service(policy, "s3.amazonaws.com", "lambda:InvokeFunction", resource,
                                       "arn:aws:s3:::other", ACCOUNT)
    assert not policies.allows_service(policy, "s3.amazonaws.com", "lambda:InvokeFunction", resource,
                                       "arn:aws:s3:::bucket", "999999999999")
    assert not policies.allows_service(policy, "sns.amazonaws.com", "lambda:InvokeFunction", resource,
                                       "arn:aws:s3:::bucket", ACCOUNT)
    with pytest.raises(AwsError) as caught:
        policies.add(policy, statement)
    assert caught.value.code == "ResourceConflictException"
    assert policies.remove(policy, "s3") is None
    with pytest.raises(AwsError) as caught:
        policies.remove(policy, "nope")
    assert caught.value.code == "ResourceNotFoundException"


def test_principals_of_add_permission():
    assert policies.principal_element("123456789012") == {"AWS": "arn:aws:iam::123456789012:root"}
    assert policies.principal_element("arn:aws:iam::123456789012:role/r") == {"AWS": "arn:aws:iam::123456789012:role/r"}
    assert policies.principal_element("*") == "*"
    assert policies.principal_element("events.amazonaws.com") == {"Service": "events.amazonaws.com"}


def test_configuration_rules():
    configuration.check_runtime("python3.12")
    for runtime, text in (("python3.8", "no longer supported"), ("nodejs20.x", "Python functions only")):
        with pytest.raises(AwsError) as caught:
            configuration.check_runtime(runtime)
        assert text in caught.value.message
    with pytest.raises(AwsError) as caught:
        configuration.check_environment({"Variables": {"AWS_REGION": "x"}})
    assert "Reserved keys used in this request: AWS_REGION" in caught.value.message
    with pytest.raises(AwsError) as caught:
        configuration.check_environment({"Variables": {"BIG": "x" * 5000}})
    assert "exceeded the 4KB limit" in caught.value.message
    assert configuration.check_environment({"Variables": {}}) is None


def test_weighted_alias_routing():
    alias = {"FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.25}}}
    picks = [pick_alias_version(alias) for _ in range(4000)]
    assert 0.2 < picks.count("2") / len(picks) < 0.3
    assert set(picks) == {"1", "2"}


class _Mapping:
    document = {"EventSourceArn": "arn:aws:kinesis:us-east-1:123456789012:stream/s"}


def test_kinesis_event_record_shape():
    arrival = dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    record = {"Data": b"hello", "PartitionKey": "pk", "SequenceNumber": "4959", "ApproximateArrivalTimestamp": arrival}
    event = _event_record(record, "shardId-000000000001", _Mapping(), "arn:aws:iam::123456789012:role/r")
    assert event == {
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "pk", "sequenceNumber": "4959",
                    "data": "aGVsbG8=", "approximateArrivalTimestamp": arrival.timestamp()},
        "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": "shardId-000000000001:4959",
        "eventName": "aws:kinesis:record", "invokeIdentityArn": "arn:aws:iam::123456789012:role/r",
        "awsRegion": "us-east-1", "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/s",
    }


def test_batch_item_failures():
    batch = [{"SequenceNumber": s} for s in ("1", "2", "3")]
    assert _first_failure(b"null", batch) is None
    assert _first_failure(json.dumps({"batchItemFailures": []}).encode(), batch) is None
    assert _first_failure(json.dumps({"batchItemFailures": [{"itemIdentifier": "3"}, {"itemIdentifier": "2"}]})
                          .encode(), batch) == 1
    assert _first_failure(json.dumps({"batchItemFailures": [{"itemIdentifier": "9"}]}).encode(), batch) == 0


def test_batches_stay_under_the_payload_limit():
    small = [{"Data": b"x" * 10}] * 50
    assert _fitting(small, 20) == 20
    big = [{"Data": b"x" * (1 << 20)}] * 10
    assert _fitting(big, 10) == 4  # 4 MiB of data is ~5.3 MiB once base64-encoded
