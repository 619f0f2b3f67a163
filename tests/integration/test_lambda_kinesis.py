"""Kinesis event source mappings through boto3: the mapping's lifecycle and rules, AWS's
Kinesis event, batching, retries with bisection, partial batch failures, starting
positions, resharding, and KPL-aggregated records."""

import base64
import io
import json
import time
import zipfile

import pytest
from botocore.exceptions import ClientError

from lakestack.inprocess import LocalStack
from lakestack.services.awslambda import event_source_mappings, kinesis_poller
from lakestack.services.kinesis import aggregation

ACCOUNT = "000000000000"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
READ_STREAMS = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [
    "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStream", "kinesis:ListShards"],
    "Resource": "*"}]})
# Stores each successful batch in the "batches" bucket under <function>/<stream>/<shard>/<n>.
RECORDER = '''
import base64, json, os, time, boto3
from botocore.exceptions import ClientError
s3 = boto3.client("s3")

def handler(event, context):
    records = event["Records"]
    values = [base64.b64decode(r["kinesis"]["data"]).decode("latin-1") for r in records]
    mode = os.environ.get("MODE")
    if mode == "poison" and "poison" in values:
        raise ValueError("poisoned batch")
    failures = []
    if mode == "partial":
        for r, value in zip(records, values):
            marker = "marker/" + r["kinesis"]["sequenceNumber"]
            if value == "bad":
                try:
                    s3.head_object(Bucket="batches", Key=marker)
                except ClientError:
                    s3.put_object(Bucket="batches", Key=marker, Body=b"")
                    failures.append({"itemIdentifier": r["kinesis"]["sequenceNumber"]})
    stream = records[0]["eventSourceARN"].rsplit("/", 1)[1]
    shard = records[0]["eventID"].split(":")[0]
    key = f"{context.function_name}/{stream}/{shard}/{time.time_ns()}"
    s3.put_object(Bucket="batches", Key=key, Body=json.dumps({"values": values, "records": records}).encode())
    return {"batchItemFailures": failures}
'''


def zip_of(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def stack():
    saved = (kinesis_poller.ShardReader.retry_base_seconds, kinesis_poller.ShardReader.idle_poll_seconds,
             event_source_mappings.TRANSITION_SECONDS)
    kinesis_poller.ShardReader.retry_base_seconds = 0.05
    kinesis_poller.ShardReader.idle_poll_seconds = 0.05
    event_source_mappings.TRANSITION_SECONDS = 0.05
    with LocalStack(kinesis_enforce_limits=False) as running:
        running.stack.provider("kinesis").transition_seconds = 0.05
        iam = running.client("iam")
        iam.create_role(RoleName="consumer", AssumeRolePolicyDocument=TRUST)
        iam.attach_role_policy(RoleName="consumer", PolicyArn="arn:aws:iam::aws:policy/AmazonS3FullAccess")
        running.client("s3").create_bucket(Bucket="batches")
        yield running
    (kinesis_poller.ShardReader.retry_base_seconds, kinesis_poller.ShardReader.idle_poll_seconds,
     event_source_mappings.TRANSITION_SECONDS) = saved


@pytest.fixture(scope="module")
def lam(stack):
    return stack.client("lambda")


@pytest.fixture(scope="module")
def kinesis(stack):
    return stack.client("kinesis")


@pytest.fixture(scope="module")
def readable(stack):
    stack.client("iam").put_role_policy(RoleName="consumer", PolicyName="read", PolicyDocument=READ_STREAMS)


def wait_for(check, timeout=30.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def new_stream(kinesis, name, shards=1) -> str:
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    wait_for(lambda: kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"]
             == "ACTIVE")
    return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]


def new_function(stack, lam, name, mode="", timeout=10) -> str:
    role = f"arn:aws:iam::{ACCOUNT}:role/consumer"
    arn = lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler",
                              Code={"ZipFile": zip_of({"app.py": RECORDER})}, Timeout=timeout,
                              Environment={"Variables": {"MODE": mode}})["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return arn


def batches(s3, prefix) -> list[dict]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="batches", Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return [json.loads(s3.get_object(Bucket="batches", Key=k)["Body"].read()) for k in sorted(keys)]


def delivered(s3, prefix) -> list[str]:
    return [v for batch in batches(s3, prefix) for v in batch["values"]]


def wait_state(lam, uuid, state):
    return wait_for(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == state)


def test_mapping_lifecycle_and_rules(stack, lam, kinesis):
    source = new_stream(kinesis, "lifecycle")
    new_function(stack, lam, "lifecycle-fn")
    with pytest.raises(ClientError) as caught:  # the role cannot read the stream yet
        lam.create_event_source_mapping(EventSourceArn=source, FunctionName="lifecycle-fn",
                                        StartingPosition="LATEST")
    assert caught.value.response["Error"]["Message"] == (
        f"Cannot access stream {source}. Please ensure the role can perform the GetRecords, GetShardIterator, "
        "DescribeStream, and ListShards Actions on your stream in IAM.")
    stack.client("iam").put_role_policy(RoleName="consumer", PolicyName="read", PolicyDocument=READ_STREAMS)
    for kwargs, code in (
        ({"EventSourceArn": "arn:aws:sqs:us-east-1:000000000000:q", "FunctionName": "lifecycle-fn"},
         "InvalidParameterValueException"),
        ({"EventSourceArn": source, "FunctionName": "nothing", "StartingPosition": "LATEST"},
         "ResourceNotFoundException"),
        ({"EventSourceArn": source.replace("lifecycle", "nope"), "FunctionName": "lifecycle-fn",
          "StartingPosition": "LATEST"}, "InvalidParameterValueException"),
        ({"EventSourceArn": source, "FunctionName": "lifecycle-fn", "StartingPosition": "LATEST", "BatchSize": 20000},
         "ValidationException"),
    ):
        with pytest.raises(ClientError) as caught:
            lam.create_event_source_mapping(**kwargs)
        assert caught.value.response["Error"]["Code"] == code, kwargs
    created = lam.create_event_source_mapping(EventSourceArn=source, FunctionName="lifecycle-fn",
                                              StartingPosition="TRIM_HORIZON", BatchSize=10,
                                              MaximumBatchingWindowInSeconds=1, MaximumRetryAttempts=3,
                                              BisectBatchOnFunctionError=True)
    uuid = created["UUID"]
    assert created["State"] == "Creating" and created["BatchSize"] == 10
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:lifecycle-fn"
    assert created["EventSourceMappingArn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:event-source-mapping:{uuid}"
    wait_state(lam, uuid, "Enabled")
    got = lam.get_event_source_mapping(UUID=uuid)
    assert (got["MaximumRetryAttempts"], got["BisectBatchOnFunctionError"], got["StartingPosition"]) == (
        3, True, "TRIM_HORIZON")
    assert [m["UUID"] for m in lam.list_event_source_mappings(FunctionName="lifecycle-fn")["EventSourceMappings"]] \
        == [uuid]
    assert [m["UUID"] for m in lam.list_event_source_mappings(EventSourceArn=source)["EventSourceMappings"]] == [uuid]
    with pytest.raises(ClientError) as caught:
        lam.create_event_source_mapping(EventSourceArn=source, FunctionName="lifecycle-fn",
                                        StartingPosition="LATEST")
    assert caught.value.response["Error"]["Code"] == "ResourceConflictException"
    updated = lam.update_event_source_mapping(UUID=uuid, Enabled=False, BatchSize=50)
    assert updated["State"] == "Disabling" and updated["BatchSize"] == 50
    wait_state(lam, uuid, "Disabled")
    assert lam.delete_event_source_mapping(UUID=uuid)["State"] == "Deleting"
    wait_for(lambda: not lam.list_event_source_mappings(FunctionName="lifecycle-fn")["EventSourceMappings"])
    with pytest.raises(ClientError) as caught:
        lam.get_event_source_mapping(UUID=uuid)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_event_shape_and_batching(stack, lam, kinesis, s3, readable):
    source = new_stream(kinesis, "shape")
    new_function(stack, lam, "shape-fn")
    put = [kinesis.put_record(StreamName="shape", Data=f"r{i}".encode(), PartitionKey=f"pk{i}") for i in range(10)]
    mapping = lam.create_event_source_mapping(EventSourceArn=source, FunctionName="shape-fn",
                                              StartingPosition="TRIM_HORIZON", BatchSize=4)
    wait_for(lambda: len(delivered(s3, "shape-fn/")) == 10)
    found = batches(s3, "shape-fn/")
    assert [len(b["values"]) for b in found] == [4, 4, 2]
    assert [v for b in found for v in b["values"]] == [f"r{i}" for i in range(10)]
    record = found[0]["records"][0]
    assert record["eventSource"] == "aws:kinesis" and record["eventVersion"] == "1.0"
    assert record["eventName"] == "aws:kinesis:record" and record["awsRegion"] == "us-east-1"
    assert record["eventSourceARN"] == source
    assert record["invokeIdentityArn"] == f"arn:aws:iam::{ACCOUNT}:role/consumer"
    assert record["eventID"] == f"{put[0]['ShardId']}:{put[0]['SequenceNumber']}"
    kinesis_part = record["kinesis"]
    assert kinesis_part["kinesisSchemaVersion"] == "1.0" and kinesis_part["partitionKey"] == "pk0"
    assert kinesis_part["sequenceNumber"] == put[0]["SequenceNumber"]
    assert base64.b64decode(kinesis_part["data"]) == b"r0"
    assert abs(kinesis_part["approximateArrivalTimestamp"] - time.time()) < 60
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["LastProcessingResult"] == "OK"


def test_latest_starts_after_creation(stack, lam, kinesis, s3, readable):
    source = new_stream(kinesis, "latest")
    new_function(stack, lam, "latest-fn")
    kinesis.put_record(StreamName="latest", Data=b"before", PartitionKey="k")
    mapping = lam.create_event_source_mapping(EventSourceArn=source, FunctionName="latest-fn",
                                              StartingPosition="LATEST")
    time.sleep(0.05)
    kinesis.put_record(StreamName="latest", Data=b"after", PartitionKey="k")
    wait_for(lambda: delivered(s3, "latest-fn/") == ["after"])
    wait_state(lam, mapping["UUID"], "Enabled")


def test_failed_batches_are_bisected_and_retried(stack, lam, kinesis, s3, readable):
    source = new_stream(kinesis, "poisoned")
    new_function(stack, lam, "poison-fn", mode="poison")
    values = ["a", "b", "c", "d", "e", "poison", "g", "h"]
    kinesis.put_records(StreamName="poisoned", Records=[{"Data": v.encode(), "PartitionKey": "k"} for v in values])
    lam.create_event_source_mapping(EventSourceArn=source, FunctionName="poison-fn", StartingPosition="TRIM_HORIZON",
                                    BatchSize=8, BisectBatchOnFunctionError=True, MaximumRetryAttempts=1)
    # Halves succeed, the poisoned record is retried once and then skipped; order is kept.
    wait_for(lambda: delivered(s3, "poison-fn/") == ["a", "b", "c", "d", "e", "g", "h"])
    kinesis.put_record(StreamName="poisoned", Data=b"later", PartitionKey="k")
    wait_for(lambda: delivered(s3, "poison-fn/")[-1:] == ["later"])


def test_partial_batch_failures(stack, lam, kinesis, s3, readable):
    source = new_stream(kinesis, "partial")
    new_function(stack, lam, "partial-fn", mode="partial")
    kinesis.put_records(StreamName="partial", Records=[{"Data": v.encode(), "PartitionKey": "k"}
                                                       for v in ("a", "b", "bad", "c")])
    lam.create_event_source_mapping(EventSourceArn=source, FunctionName="partial-fn", StartingPosition="TRIM_HORIZON",
                                    BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"])
    # The batch reports "bad" as failed: everything from it on comes again.
    wait_for(lambda: delivered(s3, "partial-fn/") == ["a", "b", "bad", "c", "bad", "c"])


def test_child_shards_follow_their_parent(stack, lam, kinesis, s3, readable):
    source = new_stream(kinesis, "resharded")
    new_function(stack, lam, "reshard-fn")
    lam.create_event_source_mapping(EventSourceArn=source, FunctionName="reshard-fn", StartingPosition="TRIM_HORIZON",
                                    BatchSize=50)
    kinesis.put_records(StreamName="resharded", Records=[{"Data": f"{i}".encode(), "PartitionKey": "same"}
                                                         for i in range(100)])
    shard = kinesis.list_shards(StreamName="resharded")["Shards"][0]
    middle = (int(shard["HashKeyRange"]["StartingHashKey"]) + int(shard["HashKeyRange"]["EndingHashKey"])) // 2
    kinesis.split_shard(StreamName="resharded", ShardToSplit=shard["ShardId"], NewStartingHashKey=str(middle))
    wait_for(lambda: kinesis.describe_stream_summary(StreamName="resharded")["StreamDescriptionSummary"][
        "StreamStatus"] == "ACTIVE")
    kinesis.put_records(StreamName="resharded", Records=[{"Data": f"{i}".encode(), "PartitionKey": "same"}
                                                         for i in range(100, 200)])
    values = wait_for(lambda: (got := delivered(s3, "reshard-fn/")) and len(got) == 200 and got)
    found = batches(s3, "reshard-fn/")
    shards = [b["records"][0]["eventID"].split(":")[0] for b in found]
    assert shards[0] == shard["ShardId"] and shards[-1] != shard["ShardId"]
    # The parent's records are all delivered before its child's, so the key's order holds.
    assert [int(v) for v in values] == list(range(200))


def test_aggregated_records_arrive_as_stored(stack, lam, kinesis, s3, readable):
    source = new_stream(kinesis, "aggregated")
    new_function(stack, lam, "kpl-fn")
    packed = aggregation.aggregate([("a", b"one"), ("b", b"two")])
    kinesis.put_record(StreamName="aggregated", Data=packed, PartitionKey="a")
    lam.create_event_source_mapping(EventSourceArn=source, FunctionName="kpl-fn", StartingPosition="TRIM_HORIZON")
    found = wait_for(lambda: batches(s3, "kpl-fn/"))
    # As on AWS, Lambda hands the KPL record over as Kinesis stores it; functions de-aggregate.
    assert base64.b64decode(found[0]["records"][0]["kinesis"]["data"]) == packed


def test_at_timestamp_and_batching_window(stack, lam, kinesis, s3, readable):
    source = new_stream(kinesis, "windowed")
    new_function(stack, lam, "window-fn")
    kinesis.put_record(StreamName="windowed", Data=b"old", PartitionKey="k")
    time.sleep(0.05)
    cutoff = time.time()
    time.sleep(0.05)
    for value in ("w1", "w2", "w3"):
        kinesis.put_record(StreamName="windowed", Data=value.encode(), PartitionKey="k")
        time.sleep(0.1)
    # Records put 0.1 s apart within a 2 s window arrive as one batch; "old" precedes the timestamp.
    lam.create_event_source_mapping(EventSourceArn=source, FunctionName="window-fn", StartingPosition="AT_TIMESTAMP",
                                    StartingPositionTimestamp=cutoff, BatchSize=100, MaximumBatchingWindowInSeconds=2)
    found = wait_for(lambda: batches(s3, "window-fn/"))
    assert [b["values"] for b in found] == [["w1", "w2", "w3"]]


def test_disabled_mappings_pause_and_resume_from_their_checkpoint(stack, lam, kinesis, s3, readable):
    source = new_stream(kinesis, "paused")
    new_function(stack, lam, "paused-fn")
    uuid = lam.create_event_source_mapping(EventSourceArn=source, FunctionName="paused-fn",
                                           StartingPosition="TRIM_HORIZON")["UUID"]
    kinesis.put_record(StreamName="paused", Data=b"one", PartitionKey="k")
    wait_for(lambda: delivered(s3, "paused-fn/") == ["one"])
    lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    wait_state(lam, uuid, "Disabled")
    kinesis.put_record(StreamName="paused", Data=b"two", PartitionKey="k")
    time.sleep(0.5)
    assert delivered(s3, "paused-fn/") == ["one"]
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    wait_state(lam, uuid, "Enabled")
    wait_for(lambda: delivered(s3, "paused-fn/") == ["one", "two"])
