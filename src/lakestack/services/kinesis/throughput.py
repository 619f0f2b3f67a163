"""Per-shard throughput limits, as Kinesis enforces them on provisioned streams.

Writes: 1 MiB/s (data + partition keys) and 1,000 records/s per shard. Reads: 5
GetRecords calls/s and 2 MiB/s per shard; one call may return up to 10 MiB, after which
later calls are refused until the shard's read budget has refilled.
https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html

Token buckets against the service clock; `Settings.kinesis_enforce_limits = False` turns
them off (bulk loads). On-demand streams are not limited: Kinesis scales them instead.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

MIB = 1 << 20


@dataclass
class Bucket:
    capacity: float
    rate: float  # refill per second
    tokens: float
    stamp: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now


class ShardBudget:
    def __init__(self, now: float):
        self.write_bytes = Bucket(MIB, MIB, MIB, now)
        self.write_records = Bucket(1000, 1000, 1000, now)
        self.read_calls = Bucket(5, 5, 5, now)
        self.read_bytes = Bucket(10 * MIB, 2 * MIB, 10 * MIB, now)


class Throughput:
    def __init__(self, clock, enforce: bool):
        self.clock = clock
        self.enforce = enforce
        self._lock = threading.Lock()
        self._shards: dict[tuple[str, int], ShardBudget] = {}

    def _budget(self, key: tuple[str, int], now: float) -> ShardBudget:
        budget = self._shards.get(key)
        if budget is None:
            budget = self._shards[key] = ShardBudget(now)
        return budget

    def admit_writes(self, key: tuple[str, int], sizes: list[int]) -> list[bool]:
        """Which of these records (by size, in order) the shard accepts now."""
        if not self.enforce:
            return [True] * len(sizes)
        now = self.clock.now()
        with self._lock:
            budget = self._budget(key, now)
            budget.write_bytes.refill(now)
            budget.write_records.refill(now)
            admitted = []
            for size in sizes:
                ok = budget.write_bytes.tokens >= size and budget.write_records.tokens >= 1
                if ok:
                    budget.write_bytes.tokens -= size
                    budget.write_records.tokens -= 1
                admitted.append(ok)
            return admitted

    def admit_read(self, key: tuple[str, int]) -> bool:
        if not self.enforce:
            return True
        now = self.clock.now()
        with self._lock:
            budget = self._budget(key, now)
            budget.read_calls.refill(now)
            budget.read_bytes.refill(now)
            if budget.read_calls.tokens < 1 or budget.read_bytes.tokens <= 0:
                return False
            budget.read_calls.tokens -= 1
            return True

    def read_allowance(self, key: tuple[str, int]) -> int:
        """Bytes one GetRecords may return now (at most 10 MiB)."""
        if not self.enforce:
            return 10 * MIB
        with self._lock:
            return max(int(self._budget(key, self.clock.now()).read_bytes.tokens), 1)

    def spent_read(self, key: tuple[str, int], size: int) -> None:
        if self.enforce:
            with self._lock:
                self._budget(key, self.clock.now()).read_bytes.tokens -= size

    def forget(self, stream_id: str) -> None:
        with self._lock:
            for key in [k for k in self._shards if k[0] == stream_id]:
                del self._shards[key]
