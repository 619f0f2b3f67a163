"""A background pass: run every `interval` seconds, at once when woken, or on demand.

Retention sweeps (Kinesis, CloudWatch Logs) and S3's lifecycle rules are each "do this pass
now and then, sooner when something changed"; this is that loop once, so a service says only
what its pass does. One daemon thread per pass; an exception in a pass is logged and the
next pass tries again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("lakestack.runtime")


class Periodic:
    def __init__(self, name: str, run: Callable[[], object], interval: float, run_at_start: bool = True):
        """`run()`: one pass. `run_at_start`: the first pass right away rather than after the
        first interval (what was due while the server was down)."""
        self.name = name
        self.interval = interval
        self._run = run
        self._run_at_start = run_at_start
        self._kick = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._done = threading.Condition()
        self._started = self._finished = 0  # pass numbers

    @property
    def stopping(self) -> bool:
        """True once stop() was called: a long pass may end early."""
        return self._stop.is_set()

    def start(self) -> None:
        if self._thread is None:
            if self._run_at_start:
                self._kick.set()
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._kick.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def wake(self) -> None:
        """Run a pass soon rather than at the next interval."""
        self._kick.set()

    def run_now(self, timeout: float = 30.0) -> bool:
        """Wake the pass and wait for one that started after this call; False on timeout."""
        with self._done:
            target = self._started + 1
            self._kick.set()
            return self._done.wait_for(lambda: self._finished >= target, timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._kick.wait(self.interval)
            self._kick.clear()
            if self._stop.is_set():
                return
            with self._done:
                self._started += 1
                number = self._started
            try:
                self._run()
            except Exception:  # keep the thread alive; the next pass tries again
                log.exception("background pass %s failed", self.name)
            with self._done:
                self._finished = number
                self._done.notify_all()
