"""Retention: a background sweep deletes events older than their group's retention.

Reads already hide expired events (log_events.py), so the sweep only reclaims space; it runs
at start and then every `interval` seconds, or sooner when a retention policy changes.
"""

from __future__ import annotations

from lakestack.runtime.periodic import Periodic


class RetentionSweeper:
    interval = 3600.0

    def __init__(self, groups, events):
        self.groups = groups
        self.events = events
        self._periodic = Periodic("logs-retention", self.sweep, self.interval)
        self.start, self.stop, self.wake = self._periodic.start, self._periodic.stop, self._periodic.wake

    def sweep(self) -> int:
        removed = 0
        for group in self.groups.all_groups():
            if group.retention_days is not None:
                removed += self.events.expire(group)
        return removed
