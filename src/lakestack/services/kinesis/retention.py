"""Retention, in the background: records older than a stream's retention period are
trimmed from the log, closed shards whose records have all expired disappear, and
streams and consumers past DELETING are forgotten.

The pass runs every `interval` seconds, and at once when `wake()` is called (tests do,
after moving the service clock forward).
"""

from __future__ import annotations

from lakestack.runtime.periodic import Periodic


class Retention:
    def __init__(self, provider, interval: float = 60.0):
        self.provider = provider
        self._periodic = Periodic("lakestack-kinesis-retention", self.run_once, interval, run_at_start=False)
        self.start, self.stop, self.wake = self._periodic.start, self._periodic.stop, self._periodic.wake

    def trim_now(self, timeout: float = 30.0) -> bool:
        """Wake the background pass and wait for one that started after this call."""
        return self._periodic.run_now(timeout)

    def run_once(self) -> None:
        provider = self.provider
        engine = provider.engine
        now_ms = provider.clock.now_ms()
        for stream in provider.catalog.all():  # settles statuses, forgets deleted streams
            if stream.status not in ("ACTIVE", "UPDATING"):
                continue
            cutoff = now_ms - stream.retention_hours * 3_600_000
            for shard in list(stream.shards):
                engine.trim(stream.ref(shard), cutoff)
            expired = [s for s in stream.shards if not s.is_open and s.closed_ms is not None and s.closed_ms < cutoff]
            if expired:
                with stream.lock.exclusive():
                    stream.shards = [s for s in stream.shards if s not in expired]
                    provider.catalog.save(stream)
                engine.drop([stream.ref(s) for s in expired])
