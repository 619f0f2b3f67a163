"""The time Kinesis reads: wall time plus an offset tests can move forward.

Retention, iterator expiry, status transitions and throughput windows all read this
clock, so a test can age a stream by 25 hours with `advance(25 * 3600)` instead of waiting.
"""

from __future__ import annotations

import threading
import time


class Clock:
    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.time() + self._offset

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds
