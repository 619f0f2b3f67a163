"""Retention: a background sweep deletes events older than their group's retention.

Reads already hide expired events (log_events.py), so the sweep only reclaims space; it runs
at start and then every `interval` seconds, or sooner when a retention policy changes.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("lakestack.logs")


class RetentionSweeper:
    interval = 3600.0

    def __init__(self, groups, events):
        self.groups = groups
        self.events = events
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="logs-retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def wake(self) -> None:
        self._wake.set()

    def sweep(self) -> int:
        removed = 0
        for group in self.groups.all_groups():
            if group.retention_days is not None:
                removed += self.events.expire(group)
        return removed

    def _run(self) -> None:
        while not self._stopping:
            try:
                self.sweep()
            except Exception:  # the next sweep tries again
                log.exception("expiring log events")
            self._wake.wait(self.interval)
            self._wake.clear()
