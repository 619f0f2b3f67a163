"""Kinesis's pure parts: hash-key ranges, sequence numbers, shard iterators, resharding
lineage, KPL aggregation, and the event-stream framing boto3 decodes."""

import json

import pytest
from botocore.eventstream import EventStreamBuffer

from lakestack.aws.errors import AwsError
from lakestack.aws.protocols import eventstream
from lakestack.services.kinesis import aggregation, hashing, resharding, sequence_numbers
from lakestack.services.kinesis.iterators import Iterators
from lakestack.services.kinesis.streams import Shard, Stream


def test_even_ranges_tile_the_hash_space():
    for count in (1, 2, 3, 7, 500):
        ranges = hashing.even_ranges(count)
        assert ranges[0][0] == 0 and ranges[-1][1] == hashing.MAX_HASH_KEY
        assert all(a[1] + 1 == b[0] for a, b in zip(ranges, ranges[1:], strict=False))


def test_hash_keys():
    assert hashing.hash_key("a") == int("0cc175b9c0f1b6a831c399e269772661", 16)
    assert hashing.explicit_hash_key(str(hashing.MAX_HASH_KEY)) == hashing.MAX_HASH_KEY
    with pytest.raises(AwsError) as info:
        hashing.explicit_hash_key(str(2**128))
    assert info.value.code == "InvalidArgumentException"


def test_sequence_numbers_order_like_numbers():
    a = sequence_numbers.encode(1_700_000_000_000, 3, 41)
    b = sequence_numbers.encode(1_700_000_000_000, 3, 42)
    child = sequence_numbers.encode(1_700_000_000_001, 4, 1)
    assert len(a) == 56 and a < b < child and int(a) < int(b) < int(child)
    assert sequence_numbers.decode(b) == sequence_numbers.Decoded(1_700_000_000_000, 3, 42)
    for bad in ("", "123", "5" * 56, "4" * 55 + "x"):
        with pytest.raises(ValueError):
            sequence_numbers.decode(bad)


def test_iterators_are_signed_and_expire():
    iterators = Iterators(b"k" * 32)
    token = iterators.issue("ab" * 16, "orders", 7, 2**70, now_ms=1_000)
    opened = iterators.open(token)
    assert (opened.stream_name, opened.shard_index, opened.position) == ("orders", 7, 2**70)
    assert Iterators.peek_stream_name(token) == "orders" and len(token) <= 512
    raw = bytearray(__import__("base64").b64decode(token))
    raw[12] ^= 1
    for bad in (__import__("base64").b64encode(bytes(raw)).decode(), "garbage!", "", token[:-4]):
        with pytest.raises(AwsError) as info:
            iterators.open(bad)
        assert info.value.message == "Invalid ShardIterator."
    with pytest.raises(AwsError):
        Iterators(b"other key" * 4).open(token)
    Iterators.check_fresh(opened, 1_000 + 300_000)
    with pytest.raises(AwsError) as info:
        Iterators.check_fresh(opened, 1_000 + 300_001)
    assert info.value.code == "ExpiredIteratorException"


def _stream(count):
    shards = [Shard(i, s, e, 1) for i, (s, e) in enumerate(hashing.even_ranges(count))]
    stream = Stream("ab" * 16, "000000000000", "us-east-1", "s", 0.0, shards=shards, next_shard_index=count)
    stream.reindex()
    return stream


def _close(shard):
    shard.ending_position = 1


@pytest.mark.parametrize(("before", "after"), [(2, 3), (3, 2), (5, 3), (4, 8), (6, 4), (1, 2), (7, 7)])
def test_uniform_scaling_keeps_lineage_to_two_parents(before, after):
    stream = _stream(before)
    resharding.uniform_scale(stream, after, 2, _close)
    open_shards = stream.open_shards
    assert [(s.start_hash, s.end_hash) for s in open_shards] == hashing.even_ranges(after)
    by_index = {s.index: s for s in stream.shards}
    for shard in stream.shards:
        parents = [by_index[p] for p in (shard.parent, shard.adjacent_parent) if p is not None]
        assert len(parents) <= 2
        if parents:  # children cover exactly their parents' ranges (split) or union (merge)
            assert min(p.start_hash for p in parents) <= shard.start_hash
            assert shard.end_hash <= max(p.end_hash for p in parents)
            assert all(not p.is_open for p in parents)


def test_kpl_aggregation_round_trip():
    blob = aggregation.aggregate([("a", b"1"), ("b", b""), ("a", b"\x00" * 300)])
    assert aggregation.is_aggregated(blob)
    users = aggregation.deaggregate({"Data": blob, "PartitionKey": "outer", "SequenceNumber": "4"})
    assert [(u["PartitionKey"], u["Data"]) for u in users] == [("a", b"1"), ("b", b""), ("a", b"\x00" * 300)]
    plain = {"Data": b"not aggregated", "PartitionKey": "p"}
    assert aggregation.deaggregate(plain) == [plain]
    assert not aggregation.is_aggregated(aggregation.MAGIC + b"\x00" * 20)


def test_event_stream_messages_decode_with_botocore():
    payload = json.dumps({"Records": []}).encode()
    wire = (eventstream.event("initial-response", b"{}") + eventstream.event("SubscribeToShardEvent", payload)
            + eventstream.exception("ResourceInUseException", b'{"message": "busy"}'))
    buffer = EventStreamBuffer()
    buffer.add_data(wire[:7])
    buffer.add_data(wire[7:])
    messages = list(buffer)
    assert [m.headers[":event-type"] for m in messages[:2]] == ["initial-response", "SubscribeToShardEvent"]
    assert messages[1].payload == payload
    assert messages[2].headers[":message-type"] == "exception"
    assert messages[2].to_response_dict()["status_code"] == 400


def test_arrivals_forget_a_deleted_stream():
    from lakestack.services.kinesis.records import Arrivals

    arrivals = Arrivals()
    arrivals.announce([("stream-a", 0), ("stream-a", 1), ("stream-b", 0)])
    arrivals.forget("stream-a")
    assert arrivals._versions == {("stream-b", 0): 1}
