"""Kinesis Data Streams through boto3, against both stream engines (embedded segment files
and NATS JetStream): streams, records, every iterator type, limits, retention, errors."""

import datetime as dt
import hashlib
import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from helpers import error_of, wait_active

from lakestack.services.kinesis import aggregation

NO_RETRY = Config(retries={"max_attempts": 0})


@pytest.fixture(scope="module")
def stack(kinesis_stack):
    # Limits are off here so tests can read eagerly; the limit tests turn them on.
    return kinesis_stack


@pytest.fixture(scope="module")
def kinesis(stack):
    return stack.client("kinesis", config=NO_RETRY)


@pytest.fixture(scope="module")
def provider(stack):
    return stack.stack.provider("kinesis")




def make_stream(kinesis, name, shards=1, **kwargs):
    kinesis.create_stream(StreamName=name, ShardCount=shards, **kwargs)
    wait_active(kinesis, name)




def read_all(kinesis, name, shard_id, kind="TRIM_HORIZON", **kwargs):
    iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=shard_id, ShardIteratorType=kind,
                                          **kwargs)["ShardIterator"]
    records = []
    while True:
        page = kinesis.get_records(ShardIterator=iterator)
        records += page["Records"]
        iterator = page.get("NextShardIterator")
        if not page["Records"] or iterator is None:
            return records


# -- streams --------------------------------------------------------------------------------


@pytest.fixture
def limits(provider):
    """AWS's per-shard throughput limits, enforced for one test."""
    provider.throughput.enforce = True
    yield
    provider.throughput.enforce = False


@pytest.fixture
def slow_transitions(provider):
    """Statuses that last long enough to be seen (the module otherwise shortens them)."""
    provider.transition_seconds = 1.0
    yield
    provider.transition_seconds = 0.05


def test_stream_lifecycle(kinesis, slow_transitions):
    kinesis.create_stream(StreamName="life", ShardCount=3, Tags={"team": "data"})
    described = kinesis.describe_stream(StreamName="life")["StreamDescription"]
    assert described["StreamStatus"] == "CREATING"
    assert error_of(kinesis.put_record, StreamName="life", Data=b"x", PartitionKey="k")["Error"]["Code"] == \
        "ResourceNotFoundException"
    wait_active(kinesis, "life")
    described = kinesis.describe_stream(StreamName="life")["StreamDescription"]
    assert described["StreamARN"] == "arn:aws:kinesis:us-east-1:000000000000:stream/life"
    assert described["RetentionPeriodHours"] == 24
    assert described["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert described["EncryptionType"] == "NONE"
    shards = described["Shards"]
    assert [s["ShardId"] for s in shards] == [f"shardId-00000000000{i}" for i in range(3)]
    # The hash-key space is tiled without gaps.
    assert shards[0]["HashKeyRange"]["StartingHashKey"] == "0"
    assert shards[-1]["HashKeyRange"]["EndingHashKey"] == str(2**128 - 1)
    for left, right in zip(shards, shards[1:], strict=False):
        assert int(left["HashKeyRange"]["EndingHashKey"]) + 1 == int(right["HashKeyRange"]["StartingHashKey"])
    summary = kinesis.describe_stream_summary(StreamName="life")["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 3 and summary["ConsumerCount"] == 0
    page = kinesis.describe_stream(StreamName="life", Limit=2)["StreamDescription"]
    assert len(page["Shards"]) == 2 and page["HasMoreShards"]
    rest = kinesis.describe_stream(StreamName="life", ExclusiveStartShardId="shardId-000000000001")
    assert [s["ShardId"] for s in rest["StreamDescription"]["Shards"]] == ["shardId-000000000002"]
    assert "life" in kinesis.list_streams()["StreamNames"]
    assert kinesis.list_tags_for_stream(StreamName="life")["Tags"] == [{"Key": "team", "Value": "data"}]

    kinesis.delete_stream(StreamName="life")
    status = kinesis.describe_stream_summary(StreamName="life")["StreamDescriptionSummary"]["StreamStatus"]
    assert status == "DELETING"
    deadline = time.monotonic() + 5
    while "life" in kinesis.list_streams()["StreamNames"] and time.monotonic() < deadline:
        time.sleep(0.02)
    response = error_of(kinesis.describe_stream, StreamName="life")
    assert response["Error"]["Code"] == "ResourceNotFoundException"
    assert response["Error"]["Message"] == "Stream life under account 000000000000 not found."
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # The name is free again, and the new stream starts empty.
    make_stream(kinesis, "life")
    assert read_all(kinesis, "life", "shardId-000000000000") == []


def test_create_errors_and_on_demand(kinesis):
    make_stream(kinesis, "dup")
    response = error_of(kinesis.create_stream, StreamName="dup", ShardCount=1)
    assert response["Error"]["Code"] == "ResourceInUseException"
    assert response["Error"]["Message"] == "Stream dup under account 000000000000 already exists."
    response = error_of(kinesis.create_stream, StreamName="huge", ShardCount=1000)
    assert response["Error"]["Code"] == "LimitExceededException"
    assert "shard limit for the account 000000000000 in us-east-1" in response["Error"]["Message"]
    response = error_of(kinesis.create_stream, StreamName="bad name!", ShardCount=1)
    assert response["Error"]["Code"] == "ValidationException"
    kinesis.create_stream(StreamName="ondemand", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    wait_active(kinesis, "ondemand")
    summary = kinesis.describe_stream_summary(StreamName="ondemand")["StreamDescriptionSummary"]
    assert summary["StreamModeDetails"]["StreamMode"] == "ON_DEMAND" and summary["OpenShardCount"] == 4
    limits = kinesis.describe_limits()
    assert limits["ShardLimit"] == 500 and limits["OnDemandStreamCount"] >= 1


def test_list_streams_paginates(kinesis):
    for i in range(3):
        make_stream(kinesis, f"page-{i}")
    first = kinesis.list_streams(Limit=1, ExclusiveStartStreamName="page-")
    assert first["StreamNames"] == ["page-0"] and first["HasMoreStreams"]
    second = kinesis.list_streams(NextToken=first["NextToken"], Limit=2)
    assert second["StreamNames"] == ["page-1", "page-2"]
    assert second["StreamSummaries"][0]["StreamARN"].endswith(":stream/page-1")


def test_stream_arn_works_wherever_stream_name_does(kinesis):
    make_stream(kinesis, "by-arn", shards=2)
    arn = kinesis.describe_stream_summary(StreamName="by-arn")["StreamDescriptionSummary"]["StreamARN"]
    put = kinesis.put_record(StreamARN=arn, Data=b"via arn", PartitionKey="p")
    kinesis.put_records(StreamARN=arn, Records=[{"Data": b"batch", "PartitionKey": "p"}])
    assert kinesis.describe_stream(StreamARN=arn)["StreamDescription"]["StreamName"] == "by-arn"
    assert len(kinesis.list_shards(StreamARN=arn)["Shards"]) == 2
    iterator = kinesis.get_shard_iterator(StreamARN=arn, ShardId=put["ShardId"],
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=iterator, StreamARN=arn)["Records"]] == [
        b"via arn", b"batch"]
    kinesis.add_tags_to_stream(StreamARN=arn, Tags={"a": "1"})
    kinesis.increase_stream_retention_period(StreamARN=arn, RetentionPeriodHours=48)
    assert kinesis.describe_stream_summary(StreamARN=arn)["StreamDescriptionSummary"]["RetentionPeriodHours"] == 48
    missing = arn.replace("by-arn", "nope")
    assert error_of(kinesis.describe_stream, StreamARN=missing)["Error"]["Message"] == \
        "Stream nope under account 000000000000 not found."


def test_list_shards_filters_and_pages(kinesis):
    make_stream(kinesis, "shardlist", shards=5)
    page = kinesis.list_shards(StreamName="shardlist", MaxResults=2)
    assert [s["ShardId"] for s in page["Shards"]] == ["shardId-000000000000", "shardId-000000000001"]
    rest = kinesis.list_shards(NextToken=page["NextToken"])
    assert [s["ShardId"][-1] for s in rest["Shards"]] == ["2", "3", "4"]
    after = kinesis.list_shards(StreamName="shardlist", ShardFilter={"Type": "AFTER_SHARD_ID",
                                                                     "ShardId": "shardId-000000000003"})
    assert [s["ShardId"] for s in after["Shards"]] == ["shardId-000000000004"]
    assert len(kinesis.list_shards(StreamName="shardlist", ShardFilter={"Type": "AT_LATEST"})["Shards"]) == 5
    both = error_of(kinesis.list_shards, StreamName="shardlist", NextToken=page["NextToken"])
    assert both["Error"] == {"Code": "InvalidArgumentException",
                             "Message": "NextToken and StreamName cannot be provided together."}


# -- records ---------------------------------------------------------------------------------


def test_put_record_and_every_iterator_type(kinesis):
    make_stream(kinesis, "iters")
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    puts = [kinesis.put_record(StreamName="iters", Data=f"r{i}".encode(), PartitionKey="k") for i in range(5)]
    sequence_numbers = [p["SequenceNumber"] for p in puts]
    assert all(p["ShardId"] == "shardId-000000000000" for p in puts)
    assert sequence_numbers == sorted(sequence_numbers, key=int) and len(set(sequence_numbers)) == 5
    assert all(len(s) == 56 and s.isdigit() for s in sequence_numbers)

    everything = read_all(kinesis, "iters", "shardId-000000000000")
    assert [r["Data"] for r in everything] == [b"r0", b"r1", b"r2", b"r3", b"r4"]
    assert [r["SequenceNumber"] for r in everything] == sequence_numbers
    assert all(r["PartitionKey"] == "k" for r in everything)
    arrival = everything[0]["ApproximateArrivalTimestamp"]
    assert abs((arrival - dt.datetime.now(dt.UTC)).total_seconds()) < 30

    at = read_all(kinesis, "iters", "shardId-000000000000", "AT_SEQUENCE_NUMBER",
                  StartingSequenceNumber=sequence_numbers[2])
    assert [r["Data"] for r in at] == [b"r2", b"r3", b"r4"]
    after = read_all(kinesis, "iters", "shardId-000000000000", "AFTER_SEQUENCE_NUMBER",
                     StartingSequenceNumber=sequence_numbers[2])
    assert [r["Data"] for r in after] == [b"r3", b"r4"]
    assert len(read_all(kinesis, "iters", "shardId-000000000000", "AT_TIMESTAMP", Timestamp=before)) == 5
    later = dt.datetime.fromtimestamp(everything[-1]["ApproximateArrivalTimestamp"].timestamp() + 0.001, dt.UTC)
    assert read_all(kinesis, "iters", "shardId-000000000000", "AT_TIMESTAMP", Timestamp=later) == []

    latest = kinesis.get_shard_iterator(StreamName="iters", ShardId="shardId-000000000000",
                                        ShardIteratorType="LATEST")["ShardIterator"]
    assert kinesis.get_records(ShardIterator=latest)["Records"] == []
    kinesis.put_record(StreamName="iters", Data=b"new", PartitionKey="k",
                       SequenceNumberForOrdering=sequence_numbers[-1])
    page = kinesis.get_records(ShardIterator=latest)
    assert [r["Data"] for r in page["Records"]] == [b"new"]
    assert page["MillisBehindLatest"] == 0

    # Limit pages through the shard, each page handing the next iterator on.
    iterator = kinesis.get_shard_iterator(StreamName="iters", ShardId="shardId-000000000000",
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    seen = []
    for _ in range(3):
        page = kinesis.get_records(ShardIterator=iterator, Limit=2)
        seen += [r["Data"] for r in page["Records"]]
        iterator = page["NextShardIterator"]
    assert seen == [b"r0", b"r1", b"r2", b"r3", b"r4", b"new"]


def test_records_go_to_the_shard_owning_their_hash_key(kinesis):
    make_stream(kinesis, "routing", shards=4)
    shards = kinesis.list_shards(StreamName="routing")["Shards"]

    def owner(hash_key):
        for shard in shards:
            if int(shard["HashKeyRange"]["StartingHashKey"]) <= hash_key <= int(shard["HashKeyRange"]["EndingHashKey"]):
                return shard["ShardId"]

    keys = [f"device-{i}" for i in range(40)]
    result = kinesis.put_records(StreamName="routing", Records=[{"Data": k.encode(), "PartitionKey": k} for k in keys])
    assert result["FailedRecordCount"] == 0
    for key, record in zip(keys, result["Records"], strict=True):
        assert record["ShardId"] == owner(int(hashlib.md5(key.encode()).hexdigest(), 16))
    explicit = kinesis.put_record(StreamName="routing", Data=b"e", PartitionKey="any", ExplicitHashKey=str(2**128 - 1))
    assert explicit["ShardId"] == "shardId-000000000003"
    by_shard = {s["ShardId"]: read_all(kinesis, "routing", s["ShardId"]) for s in shards}
    assert sum(len(v) for v in by_shard.values()) == 41


def test_put_records_reports_partial_failures(kinesis, provider, limits):
    make_stream(kinesis, "partial")
    provider.clock.advance(2)  # a fresh second's budget for the shard
    big = b"x" * 3000
    result = kinesis.put_records(StreamName="partial", Records=[{"Data": big, "PartitionKey": str(i)}
                                                                 for i in range(500)])
    failed = [r for r in result["Records"] if "ErrorCode" in r]
    assert result["FailedRecordCount"] == len(failed) > 0
    assert len(result["Records"]) == 500
    assert failed[0]["ErrorCode"] == "ProvisionedThroughputExceededException"
    assert failed[0]["ErrorMessage"] == \
        "Rate exceeded for shard shardId-000000000000 in stream partial under account 000000000000."
    succeeded = [r["SequenceNumber"] for r in result["Records"] if "SequenceNumber" in r]
    assert 300 <= len(succeeded) <= 350  # 1 MiB/s of 3000-byte records
    # The shard's byte budget is spent: a large PutRecord has to wait for it to refill.
    response = error_of(kinesis.put_record, StreamName="partial", Data=b"y" * 1_000_000, PartitionKey="p")
    assert response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    stored = read_all(kinesis, "partial", "shardId-000000000000")
    assert [r["SequenceNumber"] for r in stored] == succeeded
    provider.clock.advance(2)
    assert kinesis.put_record(StreamName="partial", Data=b"y" * 1_000_000, PartitionKey="p")["SequenceNumber"]


def test_get_records_is_limited_to_five_calls_a_second(kinesis, provider, limits):
    make_stream(kinesis, "reads")
    kinesis.put_record(StreamName="reads", Data=b"x", PartitionKey="p")
    provider.clock.advance(2)
    iterator = kinesis.get_shard_iterator(StreamName="reads", ShardId="shardId-000000000000",
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    codes = []
    for _ in range(6):
        try:
            kinesis.get_records(ShardIterator=iterator)
            codes.append("ok")
        except ClientError as error:
            codes.append(error.response["Error"]["Code"])
    assert codes[:5] == ["ok"] * 5 and codes[5] == "ProvisionedThroughputExceededException"
    provider.clock.advance(1)
    assert kinesis.get_records(ShardIterator=iterator)["Records"]


def test_bad_input_gets_the_kinesis_error(kinesis):
    make_stream(kinesis, "strict", shards=2)
    cases = [
        (kinesis.put_record, {"StreamName": "ghost", "Data": b"x", "PartitionKey": "p"},
         "ResourceNotFoundException", "Stream ghost under account 000000000000 not found."),
        (kinesis.get_records, {"ShardIterator": "AAAAAAAAAAAAAAAAbm90IGFuIGl0ZXJhdG9y"},
         "InvalidArgumentException", "Invalid ShardIterator."),
        (kinesis.put_record, {"StreamName": "strict", "Data": b"x", "PartitionKey": "p",
                              "ExplicitHashKey": str(2**128)},
         "InvalidArgumentException", "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
                                     f"Specified value was {2**128}"),
        (kinesis.put_record, {"StreamName": "strict", "Data": b"x" * (1024 * 1024 + 1), "PartitionKey": "p"},
         "ValidationException", "1 validation error detected: Value at 'data' failed to satisfy constraint: "
                                "Member must have length less than or equal to 1048576"),
        (kinesis.put_records, {"StreamName": "strict", "Records": [{"Data": b"ok", "PartitionKey": "p"},
                                                                   {"Data": b"x" * (1024 * 1024 + 1),
                                                                    "PartitionKey": "p"}]},
         "ValidationException", "1 validation error detected: Value at 'records.2.member.data' failed to satisfy "
                                "constraint: Member must have length less than or equal to 1048576"),
        (kinesis.get_shard_iterator, {"StreamName": "strict", "ShardId": "shardId-000000000007",
                                      "ShardIteratorType": "TRIM_HORIZON"},
         "ResourceNotFoundException", "Shard shardId-000000000007 in stream strict under account 000000000000 "
                                      "does not exist"),
        (kinesis.get_shard_iterator, {"StreamName": "strict", "ShardId": "shardId-000000000000",
                                      "ShardIteratorType": "AT_SEQUENCE_NUMBER", "StartingSequenceNumber": "12345"},
         "InvalidArgumentException", "StartingSequenceNumber 12345 used in GetShardIterator on shard "
                                     "shardId-000000000000 in stream strict under account 000000000000 is invalid."),
        (kinesis.get_shard_iterator, {"StreamName": "strict", "ShardId": "shardId-000000000000",
                                      "ShardIteratorType": "AFTER_SEQUENCE_NUMBER"},
         "InvalidArgumentException", None),
        (kinesis.get_shard_iterator, {"StreamName": "strict", "ShardId": "shardId-000000000000",
                                      "ShardIteratorType": "AT_TIMESTAMP"},
         "InvalidArgumentException", None),
        (kinesis.get_shard_iterator, {"StreamName": "strict", "ShardId": "shardId-000000000000",
                                      "ShardIteratorType": "SIDEWAYS"},
         "ValidationException", None),
        (kinesis.put_records, {"StreamName": "strict", "Records": [{"Data": b"x", "PartitionKey": "p"}] * 501},
         "ValidationException", None),
        (kinesis.split_shard, {"StreamName": "strict", "ShardToSplit": "shardId-000000000009",
                               "NewStartingHashKey": "5"},
         "ResourceNotFoundException", "Could not find shard shardId-000000000009 in stream strict under account "
                                      "000000000000."),
        (kinesis.decrease_stream_retention_period, {"StreamName": "strict", "RetentionPeriodHours": 12},
         "InvalidArgumentException", "Minimum allowed retention period is 24 hours. Requested retention period "
                                     "(12 hours) is too short."),
    ]
    for call, kwargs, code, message in cases:
        response = error_of(call, **kwargs)
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 400, (call, kwargs)
        assert response["Error"]["Code"] == code, (kwargs, response["Error"])
        if message is not None:
            assert response["Error"]["Message"] == message
    # A sequence number from another shard names the shard it came from.
    put = kinesis.put_record(StreamName="strict", Data=b"x", PartitionKey="p", ExplicitHashKey="0")
    response = error_of(kinesis.get_shard_iterator, StreamName="strict", ShardId="shardId-000000000001",
                        ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber=put["SequenceNumber"])
    assert response["Error"]["Message"] == ("Invalid StartingSequenceNumber. It encodes shardId-000000000000, while "
                                            "it was used in a call to a shard with shardId-000000000001")


def test_iterators_expire_after_five_minutes(kinesis, provider):
    make_stream(kinesis, "expiry")
    kinesis.put_record(StreamName="expiry", Data=b"x", PartitionKey="p")
    iterator = kinesis.get_shard_iterator(StreamName="expiry", ShardId="shardId-000000000000",
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    provider.clock.advance(299)
    page = kinesis.get_records(ShardIterator=iterator)  # still fresh; hands on a new one
    provider.clock.advance(2)
    assert kinesis.get_records(ShardIterator=page["NextShardIterator"])["Records"] == []
    response = error_of(kinesis.get_records, ShardIterator=iterator)
    assert response["Error"]["Code"] == "ExpiredIteratorException"
    assert response["Error"]["Message"].startswith("Iterator expired. The iterator was created at time ")
    assert response["Error"]["Message"].endswith(
        "which is further in the future than the tolerated delay of 300000 milliseconds.")


def test_retention_trims_expired_records(kinesis, provider, stack):
    make_stream(kinesis, "aging")
    response = error_of(kinesis.increase_stream_retention_period, StreamName="aging", RetentionPeriodHours=9000)
    assert response["Error"]["Code"] == "InvalidArgumentException"
    kinesis.increase_stream_retention_period(StreamName="aging", RetentionPeriodHours=48)
    response = error_of(kinesis.increase_stream_retention_period, StreamName="aging", RetentionPeriodHours=30)
    assert "can not be shorter than existing retention period (48 hours)" in response["Error"]["Message"]
    kinesis.decrease_stream_retention_period(StreamName="aging", RetentionPeriodHours=24)
    old = kinesis.put_records(StreamName="aging", Records=[{"Data": b"old%d" % i, "PartitionKey": "p"}
                                                           for i in range(20)])
    assert old["FailedRecordCount"] == 0
    stream = provider.catalog.get("000000000000", "us-east-1", "aging")
    ref = stream.ref(stream.shards[0])
    first_before = provider.engine.bounds(ref)[0]

    provider.clock.advance(23 * 3600)
    assert len(read_all(kinesis, "aging", "shardId-000000000000")) == 20  # not yet expired
    provider.clock.advance(2 * 3600)
    # Expired records are gone for readers at once, and from disk after the background pass.
    assert read_all(kinesis, "aging", "shardId-000000000000") == []
    assert provider.retention.trim_now()
    assert provider.engine.bounds(ref)[0] > first_before
    kinesis.put_record(StreamName="aging", Data=b"fresh", PartitionKey="p")
    if stack.settings.stream_engine == "embedded":
        shard_dir = stack.home / "streams" / "000000000000" / "us-east-1" / "aging" / "shardId-000000000000"
        data = b"".join(p.read_bytes() for p in shard_dir.glob("*.seg"))
        assert b"old" not in data and b"fresh" in data
    assert [r["Data"] for r in read_all(kinesis, "aging", "shardId-000000000000")] == [b"fresh"]


# -- tags, encryption, monitoring, aggregation -------------------------------------------------


def test_tags(kinesis):
    make_stream(kinesis, "tagged")
    arn = kinesis.describe_stream_summary(StreamName="tagged")["StreamDescriptionSummary"]["StreamARN"]
    kinesis.add_tags_to_stream(StreamName="tagged", Tags={"b": "2", "a": "1", "c": "3"})
    page = kinesis.list_tags_for_stream(StreamName="tagged", Limit=2)
    assert page["Tags"] == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}] and page["HasMoreTags"]
    rest = kinesis.list_tags_for_stream(StreamName="tagged", ExclusiveStartTagKey="b")
    assert rest["Tags"] == [{"Key": "c", "Value": "3"}] and not rest["HasMoreTags"]
    kinesis.remove_tags_from_stream(StreamName="tagged", TagKeys=["b"])
    kinesis.tag_resource(ResourceARN=arn, Tags={"d": "4"})
    kinesis.untag_resource(ResourceARN=arn, TagKeys=["a"])
    assert kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "c", "Value": "3"},
                                                                      {"Key": "d", "Value": "4"}]
    response = error_of(kinesis.add_tags_to_stream, StreamName="tagged", Tags={f"k{i}": "v" for i in range(50)})
    assert response["Error"]["Code"] == "InvalidArgumentException"


def test_encryption_flags_and_monitoring(kinesis):
    make_stream(kinesis, "secret")
    kinesis.start_stream_encryption(StreamName="secret", EncryptionType="KMS", KeyId="alias/aws/kinesis")
    summary = kinesis.describe_stream_summary(StreamName="secret")["StreamDescriptionSummary"]
    assert summary["StreamStatus"] == "UPDATING"
    assert summary["EncryptionType"] == "KMS" and summary["KeyId"] == "alias/aws/kinesis"
    wait_active(kinesis, "secret")
    assert kinesis.put_record(StreamName="secret", Data=b"x", PartitionKey="p")["EncryptionType"] == "KMS"
    assert read_all(kinesis, "secret", "shardId-000000000000")[0]["EncryptionType"] == "KMS"
    kinesis.stop_stream_encryption(StreamName="secret", EncryptionType="KMS", KeyId="alias/aws/kinesis")
    wait_active(kinesis, "secret")
    assert kinesis.describe_stream_summary(StreamName="secret")["StreamDescriptionSummary"]["EncryptionType"] == "NONE"

    enabled = kinesis.enable_enhanced_monitoring(StreamName="secret", ShardLevelMetrics=["IncomingBytes"])
    assert enabled["CurrentShardLevelMetrics"] == [] and enabled["DesiredShardLevelMetrics"] == ["IncomingBytes"]
    disabled = kinesis.disable_enhanced_monitoring(StreamName="secret", ShardLevelMetrics=["ALL"])
    assert disabled["DesiredShardLevelMetrics"] == []


def test_kpl_aggregated_records_are_stored_as_sent(kinesis):
    make_stream(kinesis, "kpl")
    blob = aggregation.aggregate([("user-1", b"one"), ("user-2", b"two"), ("user-1", b"three")])
    put = kinesis.put_record(StreamName="kpl", Data=blob, PartitionKey="agg")
    [record] = read_all(kinesis, "kpl", put["ShardId"])
    assert record["Data"] == blob
    users = aggregation.deaggregate(record)
    assert [(u["PartitionKey"], u["Data"], u["SubSequenceNumber"]) for u in users] == [
        ("user-1", b"one", 0), ("user-2", b"two", 1), ("user-1", b"three", 2)]
    assert {u["SequenceNumber"] for u in users} == {put["SequenceNumber"]}
