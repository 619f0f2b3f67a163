"""Stream log engines: where Kinesis records live, behind one small interface.

A shard's log is an ordered sequence of records at increasing integer *positions*
(contiguous in the embedded engine, sparse in JetStream). The Kinesis service turns a
position into a sequence number and never looks inside an engine.

- `embedded` (default): per-shard append-only segment files (segments.py).
- `jetstream`: a NATS JetStream server, for scale-out (jetstream.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True)
class ShardRef:
    """Which shard log: account and region separate tenants; `stream_id` tells apart two
    incarnations of a stream with the same name."""

    account: str
    region: str
    stream: str
    stream_id: str
    shard: str


@dataclass(frozen=True, slots=True)
class StoredRecord:
    position: int
    timestamp_ms: int  # arrival time, non-decreasing within a shard
    partition_key: str
    data: bytes


class StreamLog(ABC):
    # The position an empty shard starts at (position 0 is never a record, so "just before
    # the first record" is always expressible).
    first_position: int = 1

    @abstractmethod
    def append(self, batches: dict[ShardRef, list[tuple[str, bytes]]],
               now_ms: int) -> dict[ShardRef, tuple[list[int], int]]:
        """Append each shard's (partition key, data) records in order; return per shard the
        records' positions and the arrival timestamp given to them (never earlier than the
        shard's previous one). Returns only once the records are durable."""

    @abstractmethod
    def read(self, ref: ShardRef, position: int, limit: int, max_bytes: int) -> tuple[list[StoredRecord], int]:
        """Up to `limit` records from `position` on (at least one even if it exceeds
        `max_bytes`), and the position to continue from. A position before the oldest
        retained record reads from the oldest."""

    @abstractmethod
    def bounds(self, ref: ShardRef) -> tuple[int, int]:
        """(oldest retained position, position the next record will get)."""

    @abstractmethod
    def position_at(self, ref: ShardRef, timestamp_ms: int) -> int:
        """The position of the first record that arrived at or after `timestamp_ms`
        (the end position if none did)."""

    @abstractmethod
    def trim(self, ref: ShardRef, before_ms: int) -> None:
        """Remove records that arrived before `before_ms` (an engine may keep some of
        them until a whole unit of storage has expired; readers filter by time)."""

    @abstractmethod
    def drop(self, refs: list[ShardRef]) -> None:
        """Delete these shards' data (the stream is being deleted)."""

    def drop_leftovers(self, account: str, region: str, stream: str) -> None:  # noqa: B027 (optional hook)
        """Remove any data left under this stream name by an earlier incarnation whose
        deletion was interrupted (called before a stream of that name is created)."""

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release files and connections."""


def open_stream_log(settings) -> StreamLog:
    engine = settings.stream_engine
    if engine == "embedded":
        from lakestack.engines.streams.segments import SegmentLog

        return SegmentLog(settings.home / "streams")
    if engine == "jetstream":
        from lakestack.engines.streams.jetstream import JetStreamLog

        return JetStreamLog(settings.nats_url)
    raise ValueError(f"unknown stream engine {engine!r} (expected 'embedded' or 'jetstream')")
