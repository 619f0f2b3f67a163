"""Retention, in the background: records older than a stream's retention period are
trimmed from the log, closed shards whose records have all expired disappear, and
streams and consumers past DELETING are forgotten.

The pass runs every `interval` seconds, and at once when `wake()` is called (tests do,
after moving the service clock forward).
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("lakestack.kinesis")


class Retention:
    def __init__(self, provider, interval: float = 60.0):
        self.provider = provider
        self.interval = interval
        self._kick = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._done = threading.Condition()
        self._started = self._finished = 0  # pass numbers

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="lakestack-kinesis-retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._kick.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def wake(self) -> None:
        self._kick.set()

    def trim_now(self, timeout: float = 30.0) -> bool:
        """Wake the background pass and wait for one that started after this call."""
        with self._done:
            target = self._started + 1
            self._kick.set()
            return self._done.wait_for(lambda: self._finished >= target, timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._kick.wait(self.interval)
            self._kick.clear()
            if self._stop.is_set():
                return
            with self._done:
                self._started += 1
                number = self._started
            try:
                self.run_once()
            except Exception:  # keep the thread alive; the next pass retries
                log.exception("kinesis retention pass failed")
            with self._done:
                self._finished = number
                self._done.notify_all()

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
