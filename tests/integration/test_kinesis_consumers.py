"""Consumers across resharding (split, merge, uniform scaling: every record once, each
partition key in order) and enhanced fan-out (SubscribeToShard as an event stream), on
both stream engines, through boto3."""

import threading
import time
from collections import defaultdict

import pytest
from botocore.config import Config
from helpers import error_of, wait_active

NO_RETRY = Config(retries={"max_attempts": 0}, read_timeout=30)


@pytest.fixture(scope="module")
def stack(kinesis_stack):
    return kinesis_stack


@pytest.fixture(scope="module")
def kinesis(stack):
    return stack.client("kinesis", config=NO_RETRY)


@pytest.fixture(scope="module")
def provider(stack):
    return stack.stack.provider("kinesis")






def produce(kinesis, name, keys, rounds, start=0):
    """`rounds` records per key, each carrying its key and its number within the key."""
    sent = []
    for n in range(start, start + rounds):
        batch = [{"Data": f"{key}:{n}".encode(), "PartitionKey": key} for key in keys]
        result = kinesis.put_records(StreamName=name, Records=batch)
        assert result["FailedRecordCount"] == 0
        sent += [r["Data"].decode() for r in batch]
    return sent


def consume_lineage(kinesis, name):
    """Read the stream as a KCL-style consumer: a shard only after all its parents are done,
    following ChildShards at the end of each closed shard."""
    shards = kinesis.list_shards(StreamName=name, ShardFilter={"Type": "AT_TRIM_HORIZON"})["Shards"]
    pending = [s["ShardId"] for s in shards]
    parents = {s["ShardId"]: [p for p in (s.get("ParentShardId"), s.get("AdjacentParentShardId")) if p]
               for s in kinesis.list_shards(StreamName=name)["Shards"]}
    done, order = set(), []
    while pending:
        shard_id = next(s for s in pending if all(p in done for p in parents.get(s, [])))
        pending.remove(shard_id)
        iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=shard_id,
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=37)
            order += [r["Data"].decode() for r in page["Records"]]
            iterator = page.get("NextShardIterator")
            if iterator and not page["Records"]:
                break  # an open shard, read to its current end
            for child in page.get("ChildShards", []):
                parents[child["ShardId"]] = child["ParentShards"]
                if child["ShardId"] not in pending and child["ShardId"] not in done:
                    pending.append(child["ShardId"])
        done.add(shard_id)
    return order


def check_once_in_order(received, sent):
    assert sorted(received) == sorted(sent), "records lost or duplicated"
    by_key = defaultdict(list)
    for item in received:
        key, n = item.rsplit(":", 1)
        by_key[key].append(int(n))
    assert all(ns == sorted(ns) for ns in by_key.values()), "a partition key was read out of order"


# -- resharding --------------------------------------------------------------------------------


def test_split_then_consumer_follows_children(kinesis):
    kinesis.create_stream(StreamName="splitting", ShardCount=1)
    wait_active(kinesis, "splitting")
    keys = [f"key-{i}" for i in range(12)]
    sent = produce(kinesis, "splitting", keys, 5)
    kinesis.split_shard(StreamName="splitting", ShardToSplit="shardId-000000000000",
                        NewStartingHashKey=str(2**127))
    assert kinesis.describe_stream_summary(StreamName="splitting")["StreamDescriptionSummary"]["StreamStatus"] \
        in ("UPDATING", "ACTIVE")
    # Writes go on while the stream is UPDATING; they land in the children.
    sent += produce(kinesis, "splitting", keys, 5, start=5)
    wait_active(kinesis, "splitting")
    shards = {s["ShardId"]: s for s in kinesis.describe_stream(StreamName="splitting")["StreamDescription"]["Shards"]}
    parent = shards["shardId-000000000000"]
    assert "EndingSequenceNumber" in parent["SequenceNumberRange"]
    assert shards["shardId-000000000001"]["ParentShardId"] == "shardId-000000000000"
    assert shards["shardId-000000000002"]["HashKeyRange"]["StartingHashKey"] == str(2**127)
    # Children's sequence numbers are above every sequence number of their parent.
    assert int(shards["shardId-000000000001"]["SequenceNumberRange"]["StartingSequenceNumber"]) > \
        int(parent["SequenceNumberRange"]["EndingSequenceNumber"])
    # The parent's last page names the children and ends the iteration.
    iterator = kinesis.get_shard_iterator(StreamName="splitting", ShardId="shardId-000000000000",
                                          ShardIteratorType="LATEST")["ShardIterator"]
    last = kinesis.get_records(ShardIterator=iterator)
    assert "NextShardIterator" not in last
    assert {c["ShardId"] for c in last["ChildShards"]} == {"shardId-000000000001", "shardId-000000000002"}
    assert last["ChildShards"][0]["ParentShards"] == ["shardId-000000000000"]
    check_once_in_order(consume_lineage(kinesis, "splitting"), sent)
    assert error_of(kinesis.split_shard, StreamName="splitting", ShardToSplit="shardId-000000000000",
                    NewStartingHashKey="12")["Error"]["Code"] == "InvalidArgumentException"
    response = error_of(kinesis.split_shard, StreamName="splitting", ShardToSplit="shardId-000000000001",
                        NewStartingHashKey="1")
    assert "is not both greater than one plus the shard's StartingHashKey" in response["Error"]["Message"]


def test_merge_adjacent_only_and_consumer_follows_child(kinesis):
    kinesis.create_stream(StreamName="merging", ShardCount=3)
    wait_active(kinesis, "merging")
    keys = [f"k{i}" for i in range(15)]
    sent = produce(kinesis, "merging", keys, 4)
    response = error_of(kinesis.merge_shards, StreamName="merging", ShardToMerge="shardId-000000000000",
                        AdjacentShardToMerge="shardId-000000000002")
    assert response["Error"] == {
        "Code": "InvalidArgumentException",
        "Message": "Shards shardId-000000000000 and shardId-000000000002 in stream merging under account "
                   "000000000000 are not an adjacent pair of shards eligible for merging"}
    kinesis.merge_shards(StreamName="merging", ShardToMerge="shardId-000000000000",
                         AdjacentShardToMerge="shardId-000000000001")
    response = error_of(kinesis.merge_shards, StreamName="merging", ShardToMerge="shardId-000000000002",
                        AdjacentShardToMerge="shardId-000000000003")
    assert response["Error"]["Code"] == "ResourceInUseException"
    assert response["Error"]["Message"].startswith("Stream merging under account 000000000000 not ACTIVE")
    wait_active(kinesis, "merging")
    sent += produce(kinesis, "merging", keys, 4, start=4)
    child = next(s for s in kinesis.list_shards(StreamName="merging")["Shards"] if s["ShardId"].endswith("3"))
    assert (child["ParentShardId"], child["AdjacentParentShardId"]) == ("shardId-000000000000",
                                                                        "shardId-000000000001")
    check_once_in_order(consume_lineage(kinesis, "merging"), sent)


def test_update_shard_count_scales_uniformly(kinesis):
    kinesis.create_stream(StreamName="scaling", ShardCount=2)
    wait_active(kinesis, "scaling")
    keys = [f"dev-{i}" for i in range(20)]
    sent = produce(kinesis, "scaling", keys, 3)
    answer = kinesis.update_shard_count(StreamName="scaling", TargetShardCount=3, ScalingType="UNIFORM_SCALING")
    assert (answer["CurrentShardCount"], answer["TargetShardCount"]) == (2, 3)
    wait_active(kinesis, "scaling")
    sent += produce(kinesis, "scaling", keys, 3, start=3)
    open_shards = kinesis.list_shards(StreamName="scaling", ShardFilter={"Type": "AT_LATEST"})["Shards"]
    assert len(open_shards) == 3
    widths = [int(s["HashKeyRange"]["EndingHashKey"]) - int(s["HashKeyRange"]["StartingHashKey"]) for s in open_shards]
    assert max(widths) - min(widths) <= 2
    kinesis.update_shard_count(StreamName="scaling", TargetShardCount=2, ScalingType="UNIFORM_SCALING")
    wait_active(kinesis, "scaling")
    sent += produce(kinesis, "scaling", keys, 3, start=6)
    check_once_in_order(consume_lineage(kinesis, "scaling"), sent)
    response = error_of(kinesis.update_shard_count, StreamName="scaling", TargetShardCount=5,
                        ScalingType="UNIFORM_SCALING")
    assert response["Error"]["Message"] == ("UpdateShardCount cannot scale up over double your current open shard "
                                            "count. Current open shard count: 2, Target shard count: 5")


# -- enhanced fan-out ----------------------------------------------------------------------------


def test_consumer_registration_lifecycle(kinesis, provider):
    provider.transition_seconds = 0.3
    try:
        kinesis.create_stream(StreamName="fanout", ShardCount=1)
        wait_active(kinesis, "fanout")
        arn = kinesis.describe_stream_summary(StreamName="fanout")["StreamDescriptionSummary"]["StreamARN"]
        consumer = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="app")["Consumer"]
        assert consumer["ConsumerStatus"] == "CREATING"
        assert consumer["ConsumerARN"].startswith(arn + "/consumer/app:")
        response = error_of(kinesis.register_stream_consumer, StreamARN=arn, ConsumerName="app")
        assert response["Error"]["Code"] == "ResourceInUseException"
        described = kinesis.describe_stream_consumer(StreamARN=arn, ConsumerName="app")["ConsumerDescription"]
        assert described["ConsumerARN"] == consumer["ConsumerARN"] and described["StreamARN"] == arn
        time.sleep(0.35)
        by_arn = kinesis.describe_stream_consumer(ConsumerARN=consumer["ConsumerARN"])["ConsumerDescription"]
        assert by_arn["ConsumerStatus"] == "ACTIVE"
        assert [c["ConsumerName"] for c in kinesis.list_stream_consumers(StreamARN=arn)["Consumers"]] == ["app"]
        assert error_of(kinesis.delete_stream, StreamName="fanout")["Error"]["Code"] == "ResourceInUseException"
        kinesis.deregister_stream_consumer(ConsumerARN=consumer["ConsumerARN"])
        assert kinesis.describe_stream_consumer(ConsumerARN=consumer["ConsumerARN"])["ConsumerDescription"][
            "ConsumerStatus"] == "DELETING"
        time.sleep(0.35)
        assert kinesis.list_stream_consumers(StreamARN=arn)["Consumers"] == []
        response = error_of(kinesis.describe_stream_consumer, ConsumerARN=consumer["ConsumerARN"])
        assert response["Error"]["Code"] == "ResourceNotFoundException"
    finally:
        provider.transition_seconds = 0.05


def _registered(kinesis, stream, name, shards=1):
    kinesis.create_stream(StreamName=stream, ShardCount=shards)
    wait_active(kinesis, stream)
    arn = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    consumer_arn = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName=name)["Consumer"]["ConsumerARN"]
    deadline = time.monotonic() + 5
    while kinesis.describe_stream_consumer(ConsumerARN=consumer_arn)["ConsumerDescription"][
            "ConsumerStatus"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return consumer_arn


def test_subscribe_to_shard_streams_events(kinesis, provider):
    consumer_arn = _registered(kinesis, "pushed", "reader")
    first = kinesis.put_record(StreamName="pushed", Data=b"before", PartitionKey="p")
    response = kinesis.subscribe_to_shard(ConsumerARN=consumer_arn, ShardId="shardId-000000000000",
                                          StartingPosition={"Type": "TRIM_HORIZON"})
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/vnd.amazon.eventstream"
    events = iter(response["EventStream"])
    event = next(events)["SubscribeToShardEvent"]
    assert [r["Data"] for r in event["Records"]] == [b"before"]
    assert event["Records"][0]["SequenceNumber"] == first["SequenceNumber"]
    assert event["ContinuationSequenceNumber"] == first["SequenceNumber"]
    assert event["MillisBehindLatest"] == 0

    # A second subscription within 5 seconds is refused.
    busy = error_of(kinesis.subscribe_to_shard, ConsumerARN=consumer_arn, ShardId="shardId-000000000000",
                    StartingPosition={"Type": "LATEST"})
    assert busy["Error"]["Code"] == "ResourceInUseException"

    threading.Timer(0.3, lambda: kinesis.put_records(
        StreamName="pushed", Records=[{"Data": b"live-%d" % i, "PartitionKey": "p"} for i in range(3)])).start()
    received = []
    while len(received) < 3:
        received += [r["Data"] for r in next(events)["SubscribeToShardEvent"]["Records"]]
    assert received == [b"live-0", b"live-1", b"live-2"]
    # Subscriptions last five minutes (of the service clock).
    provider.clock.advance(301)
    assert all("SubscribeToShardEvent" in e for e in events)  # the stream ends
    response["EventStream"].close()

    # After the parent shard is split, a subscription reaches its end and names the children.
    kinesis.split_shard(StreamName="pushed", ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127))
    wait_active(kinesis, "pushed")
    again = kinesis.subscribe_to_shard(ConsumerARN=consumer_arn, ShardId="shardId-000000000000",
                                       StartingPosition={"Type": "AFTER_SEQUENCE_NUMBER",
                                                         "SequenceNumber": first["SequenceNumber"]})
    events = list(again["EventStream"])
    records = [r["Data"] for e in events for r in e["SubscribeToShardEvent"]["Records"]]
    assert records == [b"live-0", b"live-1", b"live-2"]
    final = events[-1]["SubscribeToShardEvent"]
    assert {c["ShardId"] for c in final["ChildShards"]} == {"shardId-000000000001", "shardId-000000000002"}
    assert "ContinuationSequenceNumber" not in final


def test_subscribe_errors(kinesis):
    consumer_arn = _registered(kinesis, "subs-errors", "reader")
    response = error_of(kinesis.subscribe_to_shard, ConsumerARN=consumer_arn, ShardId="shardId-000000000042",
                        StartingPosition={"Type": "TRIM_HORIZON"})
    assert response["Error"]["Code"] == "ResourceNotFoundException"
    response = error_of(kinesis.subscribe_to_shard, ConsumerARN=consumer_arn.replace("reader", "nobody"),
                        ShardId="shardId-000000000000", StartingPosition={"Type": "TRIM_HORIZON"})
    assert response["Error"]["Code"] == "ResourceNotFoundException"
