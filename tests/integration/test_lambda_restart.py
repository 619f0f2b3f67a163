"""What Lambda keeps across a restart (stop a server, start another on the same home):
a Kinesis mapping's shard checkpoints — 10,000 records, each delivered once, in per-shard
order, half before and half after the restart — and queued asynchronous invocations."""

import io
import json
import time
import zipfile

import pytest

from lakestack.inprocess import LocalStack
from lakestack.services.awslambda import event_source_mappings, kinesis_poller

ACCOUNT = "000000000000"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
PERMISSIONS = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStream",
                                   "kinesis:ListShards", "s3:PutObject"], "Resource": "*"}]})
# One object per batch: the shard, and each record's sequence number and data.
CONSUMER = '''
import base64, json, time, boto3
s3 = boto3.client("s3")

def handler(event, context):
    records = event["Records"]
    shard = records[0]["eventID"].split(":")[0]
    body = [[r["kinesis"]["sequenceNumber"], base64.b64decode(r["kinesis"]["data"]).decode()] for r in records]
    s3.put_object(Bucket="delivered", Key=f"{shard}/{time.time_ns()}", Body=json.dumps(body).encode())
'''
MARKER = '''
import boto3
def handler(event, context):
    boto3.client("s3").put_object(Bucket="delivered", Key="async/" + event["name"], Body=b"")
'''
TOTAL = 10_000


def zip_of(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


@pytest.fixture(scope="module", autouse=True)
def quick_polling():
    saved = kinesis_poller.ShardReader.idle_poll_seconds, event_source_mappings.TRANSITION_SECONDS
    kinesis_poller.ShardReader.idle_poll_seconds = 0.05
    event_source_mappings.TRANSITION_SECONDS = 0.05
    yield
    kinesis_poller.ShardReader.idle_poll_seconds, event_source_mappings.TRANSITION_SECONDS = saved


def start(home) -> LocalStack:
    running = LocalStack(home=home, kinesis_enforce_limits=False).start()
    running.stack.provider("kinesis").transition_seconds = 0.05
    provider = running.stack.provider("lambda")
    provider.queue.throttle_backoff = (0.1, 0.3)
    return running


def wait_for(check, timeout=60.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def deliveries(s3) -> dict[str, list[list[str]]]:
    """Shard → delivered [sequence number, data] pairs, in delivery order."""
    out: dict[str, list[list[str]]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="delivered"):
        for obj in sorted(page.get("Contents", []), key=lambda o: o["Key"]):
            shard, _, stamp = obj["Key"].partition("/")
            if shard.startswith("shardId-"):
                out.setdefault(shard, []).append((int(stamp), obj["Key"]))
    return {shard: [pair for _, key in sorted(items) for pair in json.loads(
        s3.get_object(Bucket="delivered", Key=key)["Body"].read())] for shard, items in out.items()}


def put_range(kinesis, first: int, last: int) -> dict[str, list[tuple[str, str]]]:
    """Put records first..last-1 (keys spread over the shards); shard → [(seq, data)]."""
    placed: dict[str, list[tuple[str, str]]] = {}
    for start_at in range(first, last, 500):
        batch = [{"Data": str(i).encode(), "PartitionKey": f"key-{i % 37}"}
                 for i in range(start_at, min(start_at + 500, last))]
        answer = kinesis.put_records(StreamName="orders", Records=batch)
        assert answer["FailedRecordCount"] == 0
        for entry, result in zip(batch, answer["Records"], strict=True):
            placed.setdefault(result["ShardId"], []).append((result["SequenceNumber"], entry["Data"].decode()))
    return placed


def count(delivered: dict) -> int:
    return sum(len(v) for v in delivered.values())


def test_kinesis_mapping_resumes_from_its_checkpoint_after_a_restart(tmp_path):
    home = tmp_path / "home"
    first = start(home)
    try:
        iam = first.client("iam")
        role = iam.create_role(RoleName="consumer", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
        iam.put_role_policy(RoleName="consumer", PolicyName="p", PolicyDocument=PERMISSIONS)
        first.client("s3").create_bucket(Bucket="delivered")
        lam = first.client("lambda")
        lam.create_function(FunctionName="consumer", Runtime="python3.12", Role=role, Handler="app.handler",
                            Code={"ZipFile": zip_of(CONSUMER)}, Timeout=30)
        lam.get_waiter("function_active_v2").wait(FunctionName="consumer")
        kinesis = first.client("kinesis")
        kinesis.create_stream(StreamName="orders", ShardCount=2)
        wait_for(lambda: kinesis.describe_stream_summary(StreamName="orders")["StreamDescriptionSummary"][
            "StreamStatus"] == "ACTIVE")
        source = kinesis.describe_stream_summary(StreamName="orders")["StreamDescriptionSummary"]["StreamARN"]
        lam.create_event_source_mapping(EventSourceArn=source, FunctionName="consumer",
                                        StartingPosition="TRIM_HORIZON", BatchSize=100)
        placed = put_range(kinesis, 0, TOTAL // 2)
        s3 = first.client("s3")
        wait_for(lambda: count(deliveries(s3)) >= TOTAL // 2)
    finally:
        first.stop()

    second = start(home)
    try:
        for shard, records in put_range(second.client("kinesis"), TOTAL // 2, TOTAL).items():
            placed.setdefault(shard, []).extend(records)
        s3 = second.client("s3")
        wait_for(lambda: count(deliveries(s3)) >= TOTAL)
        time.sleep(0.5)  # nothing more arrives: no record is delivered twice
        delivered = deliveries(s3)
        assert count(delivered) == TOTAL
        assert len(placed) == 2 and set(delivered) == set(placed)
        for shard, records in placed.items():
            # Per shard: every record once, in sequence-number order, the order they were put.
            assert delivered[shard] == [list(r) for r in records]
            numbers = [int(seq) for seq, _ in delivered[shard]]
            assert numbers == sorted(numbers)
        assert sorted(int(data) for records in delivered.values() for _, data in records) == list(range(TOTAL))
    finally:
        second.stop()


def test_queued_asynchronous_invocations_survive_a_restart(tmp_path):
    home = tmp_path / "home"
    first = start(home)
    try:
        iam = first.client("iam")
        role = iam.create_role(RoleName="marker", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
        iam.put_role_policy(RoleName="marker", PolicyName="p", PolicyDocument=PERMISSIONS)
        first.client("s3").create_bucket(Bucket="delivered")
        lam = first.client("lambda")
        lam.create_function(FunctionName="marker", Runtime="python3.12", Role=role, Handler="app.handler",
                            Code={"ZipFile": zip_of(MARKER)}, Timeout=30)
        lam.get_waiter("function_active_v2").wait(FunctionName="marker")
        # No concurrency at all: the event is accepted (202) and waits in the queue.
        lam.put_function_concurrency(FunctionName="marker", ReservedConcurrentExecutions=0)
        assert lam.invoke(FunctionName="marker", InvocationType="Event",
                          Payload=json.dumps({"name": "survivor"}).encode())["StatusCode"] == 202
        time.sleep(0.5)
    finally:
        first.stop()
    second = start(home)
    try:
        second.client("lambda").delete_function_concurrency(FunctionName="marker")
        s3 = second.client("s3")
        wait_for(lambda: s3.list_objects_v2(Bucket="delivered", Prefix="async/").get("KeyCount", 0) == 1, timeout=30)
        assert s3.list_objects_v2(Bucket="delivered", Prefix="async/")["Contents"][0]["Key"] == "async/survivor"
    finally:
        second.stop()
