"""Resharding: SplitShard, MergeShards and UpdateShardCount's uniform scaling.

A parent shard closes (it keeps its records until they expire) and children take over its
hash-key range. Children record their parents (`ParentShardId`, and for a merge
`AdjacentParentShardId`), so a consumer that finishes a parent and then reads its
children sees every record once and each partition key in order.

Uniform scaling does what Kinesis does: a series of splits and merges, which may leave
short-lived intermediate shards, so that every final shard still has at most two parents.
https://docs.aws.amazon.com/streams/latest/dev/kinesis-using-sdk-java-after-resharding.html
"""

from __future__ import annotations

from collections.abc import Callable

from lakestack.services.kinesis import errors
from lakestack.services.kinesis.hashing import even_ranges
from lakestack.services.kinesis.streams import Shard, Stream

Close = Callable[[Shard], None]  # sets the shard's ending position (the engine knows it)


def _new_shard(stream: Stream, start: int, end: int, now_ms: int, parent: int, adjacent: int | None = None) -> Shard:
    shard = Shard(stream.next_shard_index, start, end, now_ms, parent=parent, adjacent_parent=adjacent)
    stream.next_shard_index += 1
    stream.shards.append(shard)
    return shard


def check_open(stream: Stream, shard: Shard, verb: str) -> None:
    if not shard.is_open:
        raise errors.invalid_argument(
            f"Shard {shard.shard_id} in stream {stream.name} under account {stream.account} has already been "
            f"merged or split, and thus is not eligible for {verb}.")


def split(stream: Stream, shard: Shard, new_start: int, now_ms: int, close: Close) -> tuple[Shard, Shard]:
    if not (shard.start_hash + 1 < new_start < shard.end_hash):
        raise errors.invalid_argument(
            f"NewStartingHashKey {new_start} used in SplitShard() on shard {shard.shard_id} in stream "
            f"{stream.name} under account {stream.account} is not both greater than one plus the shard's "
            f"StartingHashKey {shard.start_hash} and less than the shard's EndingHashKey {shard.end_hash}.")
    check_open(stream, shard, "splitting")
    close(shard)
    shard.closed_ms = now_ms
    left = _new_shard(stream, shard.start_hash, new_start - 1, now_ms, shard.index)
    right = _new_shard(stream, new_start, shard.end_hash, now_ms, shard.index)
    stream.reindex()
    return left, right


def merge(stream: Stream, shard: Shard, adjacent: Shard, now_ms: int, close: Close) -> Shard:
    if shard.end_hash + 1 == adjacent.start_hash:
        low, high = shard, adjacent
    elif adjacent.end_hash + 1 == shard.start_hash:
        low, high = adjacent, shard
    else:
        raise errors.invalid_argument(
            f"Shards {shard.shard_id} and {adjacent.shard_id} in stream {stream.name} under account "
            f"{stream.account} are not an adjacent pair of shards eligible for merging")
    check_open(stream, shard, "merging")
    check_open(stream, adjacent, "merging")
    for parent in (shard, adjacent):
        close(parent)
        parent.closed_ms = now_ms
    child = _new_shard(stream, low.start_hash, high.end_hash, now_ms, shard.index, adjacent.index)
    stream.reindex()
    return child


def uniform_scale(stream: Stream, target: int, now_ms: int, close: Close) -> None:
    """Reach `target` open shards with even ranges by splitting every open shard at each
    target boundary inside it, then merging the pieces between two boundaries pairwise."""
    ranges = even_ranges(target)
    boundaries = [start for start, _ in ranges[1:]]
    pieces: list[Shard] = []
    for shard in sorted(stream.open_shards, key=lambda s: s.start_hash):
        current = shard
        for cut in (b for b in boundaries if shard.start_hash < b <= shard.end_hash):
            close(current)
            current.closed_ms = now_ms
            pieces.append(_new_shard(stream, current.start_hash, cut - 1, now_ms, current.index))
            current = _new_shard(stream, cut, current.end_hash, now_ms, current.index)
        pieces.append(current)
    for start, end in ranges:
        group = [p for p in pieces if start <= p.start_hash and p.end_hash <= end]
        merged = group[0]
        for piece in group[1:]:
            close(merged)
            close(piece)
            merged.closed_ms = piece.closed_ms = now_ms
            merged = _new_shard(stream, merged.start_hash, piece.end_hash, now_ms, merged.index, piece.index)
    stream.reindex()
