"""Writing records to shards and reading them back: what PutRecord(s), GetShardIterator,
GetRecords and SubscribeToShard share.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field

from lakestack.aws.errors import AwsError
from lakestack.engines.streams import StreamLog
from lakestack.services.kinesis import errors, hashing, sequence_numbers
from lakestack.services.kinesis.streams import Shard, Stream
from lakestack.services.kinesis.throughput import Throughput

MAX_GET_RECORDS = 10_000
MAX_GET_BYTES = 10 << 20
MAX_PUT_RECORDS_BYTES = 10 << 20
SMALL_APPEND_BYTES = 64 * 1024  # appends up to this size feed `small_append_seconds`
READABLE = ("ACTIVE", "UPDATING")


@dataclass
class ReadResult:
    records: list[dict]
    next_position: int
    millis_behind: int
    at_end: bool  # the shard is closed and everything in it has been read
    children: list[dict] = field(default_factory=list)
    size: int = 0


class Arrivals:
    """Wakes SubscribeToShard loops when records arrive in a shard."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._versions: dict[tuple[str, int], int] = {}

    def version(self, key: tuple[str, int]) -> int:
        return self._versions.get(key, 0)

    def announce(self, keys) -> None:
        with self._cond:
            for key in keys:
                self._versions[key] = self._versions.get(key, 0) + 1
            self._cond.notify_all()

    def wait(self, key: tuple[str, int], seen: int, timeout: float) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._versions.get(key, 0) != seen, timeout)

    def forget(self, stream_id: str) -> None:
        """Drop a deleted stream's counters (waiters wake and find the stream gone)."""
        with self._cond:
            for key in [k for k in self._versions if k[0] == stream_id]:
                del self._versions[key]
            self._cond.notify_all()


def _too_large(path: str, limit: int) -> AwsError:
    return errors.validation(f"1 validation error detected: Value at '{path}' failed to satisfy constraint: "
                             f"Member must have length less than or equal to {limit}")


class Records:
    def __init__(self, engine: StreamLog, clock, throughput: Throughput):
        self.engine = engine
        self.clock = clock
        self.throughput = throughput
        self.arrivals = Arrivals()
        # Moving average of how long a small append takes to be durable (see KinesisProvider.runs_inline).
        self.small_append_seconds = 0.0

    # -- writing ----------------------------------------------------------------------------

    def check_sizes(self, stream: Stream, entries: list[dict], path: str) -> None:
        limit = stream.max_record_kib * 1024
        total = 0
        for i, entry in enumerate(entries, 1):
            if entry.get("PartitionKey") is None:
                where = f"{path}.{i}.member.partitionKey" if path else "partitionKey"
                raise errors.validation(f"1 validation error detected: Value null at '{where}' failed to satisfy "
                                        "constraint: Member must not be null")
            size = len(entry["Data"])
            if size > limit:
                raise _too_large(f"{path}.{i}.member.data" if path else "data", limit)
            total += size + len(entry["PartitionKey"].encode())
        if path and total > MAX_PUT_RECORDS_BYTES:
            raise errors.invalid_argument("Records size exceeds 10 MiB limit")

    def put(self, stream: Stream, entries: list[dict]) -> list[dict]:
        """Route, admit and durably append; one result per entry, in order (an entry the
        shard's throughput refused carries ErrorCode/ErrorMessage instead)."""
        keys = [hashing.explicit_hash_key(e["ExplicitHashKey"]) if e.get("ExplicitHashKey") is not None
                else hashing.hash_key(e["PartitionKey"]) for e in entries]
        results: list[dict | None] = [None] * len(entries)
        limited = stream.mode == "PROVISIONED"
        with stream.lock.shared():
            if stream.status not in READABLE:
                raise errors.stream_not_found(stream.name, stream.account)
            groups: dict[int, tuple[Shard, list[int]]] = {}
            for i, key in enumerate(keys):
                shard = stream.route(key)
                groups.setdefault(shard.index, (shard, []))[1].append(i)
            batches, placed = {}, {}
            for shard, indexes in groups.values():
                if limited:
                    sizes = [len(entries[i]["Data"]) + len(entries[i]["PartitionKey"].encode()) for i in indexes]
                    admitted = self.throughput.admit_writes((stream.id, shard.index), sizes)
                    for i, ok in zip(indexes, admitted, strict=True):
                        if not ok:
                            error = errors.rate_exceeded(shard.shard_id, stream.name, stream.account)
                            results[i] = {"ErrorCode": error.code, "ErrorMessage": error.message}
                    indexes = [i for i, ok in zip(indexes, admitted, strict=True) if ok]
                if indexes:
                    ref = stream.ref(shard)
                    batches[ref] = [(entries[i]["PartitionKey"], entries[i]["Data"]) for i in indexes]
                    placed[ref] = (shard, indexes)
            appended = self._append(batches)
        encrypted = stream.encryption_type if stream.encryption_type != "NONE" else None
        for ref, (positions, _) in appended.items():
            shard, indexes = placed[ref]
            for i, position in zip(indexes, positions, strict=True):
                results[i] = {"ShardId": shard.shard_id, "SequenceNumber": shard.sequence_number(position)}
                if encrypted:
                    results[i]["EncryptionType"] = encrypted
        self.arrivals.announce((stream.id, placed[ref][0].index) for ref in appended)
        return results

    def _append(self, batches):
        if not batches:
            return {}
        started = time.perf_counter()
        try:
            appended = self.engine.append(batches, self.clock.now_ms())
        except ValueError as exc:  # the engine cannot hold a record this large
            raise errors.invalid_argument(str(exc)) from None
        except OSError as exc:
            raise errors.engine_failure(f"the stream log could not write: {exc}") from exc
        if sum(len(data) for records in batches.values() for _, data in records) <= SMALL_APPEND_BYTES:
            self.small_append_seconds += (time.perf_counter() - started - self.small_append_seconds) * 0.2
        return appended

    # -- positions -----------------------------------------------------------------------------

    def starting_position(self, stream: Stream, shard: Shard, kind: str, sequence_number: str | None,
                          timestamp: dt.datetime | None, operation: str = "GetShardIterator") -> int:
        """Where an iterator or subscription of this type starts reading."""
        ref = stream.ref(shard)
        if kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            if sequence_number is None:
                raise errors.invalid_argument(
                    "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber "
                    "or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified "
                    f"{kind} and no StartingSequenceNumber.")
            decoded = self._decode(stream, shard, sequence_number, operation)
            return decoded.position + (1 if kind == "AFTER_SEQUENCE_NUMBER" else 0)
        if sequence_number is not None and kind in ("TRIM_HORIZON", "LATEST"):
            raise errors.invalid_argument(
                "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or "
                f"(2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified {kind} and also a "
                "StartingSequenceNumber.")
        if kind == "TRIM_HORIZON":
            return 0  # reads start at the oldest record still retained
        if kind == "LATEST":
            return shard.ending_position if not shard.is_open else self.engine.bounds(ref)[1]
        if kind == "AT_TIMESTAMP":
            if timestamp is None:
                raise errors.invalid_argument(
                    "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request "
                    "has no timestamp parameter.")
            if timestamp.timestamp() > self.clock.now():
                raise errors.invalid_argument(
                    f"The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. "
                    f"timestampInMillis: {int(timestamp.timestamp() * 1000)}, currentTimestampInMillis: "
                    f"{self.clock.now_ms()}")
            return self.engine.position_at(ref, int(timestamp.timestamp() * 1000))
        raise errors.invalid_argument(f"Unknown ShardIteratorType {kind}")

    def _decode(self, stream: Stream, shard: Shard, text: str, operation: str) -> sequence_numbers.Decoded:
        try:
            decoded = sequence_numbers.decode(text)
        except ValueError:
            raise errors.invalid_argument(
                f"StartingSequenceNumber {text} used in {operation} on shard {shard.shard_id} in stream "
                f"{stream.name} under account {stream.account} is invalid.") from None
        if decoded.shard_index != shard.index:
            raise errors.invalid_argument(
                f"Invalid StartingSequenceNumber. It encodes shardId-{decoded.shard_index:012d}, while it was used "
                f"in a call to a shard with {shard.shard_id}")
        if decoded.shard_created_ms != shard.created_ms:
            raise errors.invalid_argument(
                f"StartingSequenceNumber {text} used in {operation} on shard {shard.shard_id} in stream "
                f"{stream.name} under account {stream.account} is invalid because it did not come from this stream.")
        return decoded

    # -- reading -------------------------------------------------------------------------------

    def read(self, stream: Stream, shard: Shard, position: int, limit: int, max_bytes: int) -> ReadResult:
        ref = stream.ref(shard)
        now_ms = self.clock.now_ms()
        cutoff = now_ms - stream.retention_hours * 3_600_000
        stored, next_position = self._engine_read(ref, position, limit, max_bytes)
        if stored and stored[0].timestamp_ms < cutoff:
            # Expired records the background trim has not removed yet: skip past them.
            stored, next_position = self._engine_read(ref, max(position, self.engine.position_at(ref, cutoff)),
                                                      limit, max_bytes)
        if not shard.is_open:
            stored = [r for r in stored if r.position < shard.ending_position]
        encrypted = stream.encryption_type if stream.encryption_type != "NONE" else None
        records, size = [], 0
        for record in stored:
            item = {"SequenceNumber": shard.sequence_number(record.position),
                    "ApproximateArrivalTimestamp": dt.datetime.fromtimestamp(record.timestamp_ms / 1000, dt.UTC),
                    "Data": record.data, "PartitionKey": record.partition_key}
            if encrypted:
                item["EncryptionType"] = encrypted
            records.append(item)
            size += len(record.data)
        at_end = not shard.is_open and (not stored or next_position >= shard.ending_position)
        caught_up = at_end or len(stored) < limit and size < max_bytes
        behind = 0 if caught_up or not stored else max(now_ms - stored[-1].timestamp_ms, 0)
        result = ReadResult(records, next_position, behind, at_end, size=size)
        if at_end:
            result.children = [child_shard(c) for c in stream.children_of(shard)]
        return result

    def _engine_read(self, ref, position, limit, max_bytes):
        try:
            return self.engine.read(ref, position, limit, max_bytes)
        except OSError as exc:
            raise errors.engine_failure(f"the stream log could not read: {exc}") from exc


def child_shard(shard: Shard) -> dict:
    parents = [p for p in (shard.parent, shard.adjacent_parent) if p is not None]
    return {
        "ShardId": shard.shard_id,
        "ParentShards": [f"shardId-{p:012d}" for p in parents],
        "HashKeyRange": {"StartingHashKey": str(shard.start_hash), "EndingHashKey": str(shard.end_hash)},
    }
