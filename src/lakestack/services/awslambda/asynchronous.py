"""Asynchronous invocation (InvocationType=Event): a durable queue and the threads that
drain it.

https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html
- An event is written to SQLite before Invoke answers 202, so a restart does not lose it;
  it is deleted once an attempt has finished (at-least-once, like AWS's queue).
- A function error (exception, timeout, crash) is retried twice by default: one minute
  after the first attempt, two minutes after the second (`retry_delays`).
  PutFunctionEventInvokeConfig's MaximumRetryAttempts (0-2) and
  MaximumEventAgeInSeconds change that.
- Throttling (reserved concurrency) puts the event back with exponential back-off from one
  second up to five minutes, for up to MaximumEventAgeInSeconds (six hours by default),
  without counting as a retry.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from lakestack.aws.errors import AwsError
from lakestack.runtime.state import StateStore

log = logging.getLogger("lakestack.lambda")

DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_AGE = 6 * 3600


@dataclass
class QueuedEvent:
    id: int
    account: str
    region: str
    function_name: str
    qualifier: str | None
    request_id: str
    payload: bytes
    attempts: int
    enqueued: float


# What running an event tells the queue.
SUCCEEDED, FAILED, THROTTLED, GONE = "succeeded", "failed", "throttled", "gone"


class AsyncQueue:
    retry_delays: tuple[float, ...] = (60.0, 120.0)
    throttle_backoff = (1.0, 300.0)  # first and largest delay
    threads = 4

    def __init__(self, db: StateStore, run: Callable[[QueuedEvent], str],
                 policy: Callable[[QueuedEvent], tuple[int, int]]):
        """`run(event)` invokes and says what happened; `policy(event)` gives its
        (maximum retries, maximum age in seconds)."""
        self.db = db
        self._run_event = run
        self._policy = policy
        self._cond = threading.Condition()
        self._claimed: set[int] = set()
        self._stopping = False
        self._workers: list[threading.Thread] = []
        self._throttles: dict[int, int] = {}

    def start(self) -> None:
        for n in range(self.threads):
            thread = threading.Thread(target=self._work, name=f"lambda-async-{n}", daemon=True)
            thread.start()
            self._workers.append(thread)

    def signal_stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def stop(self) -> None:
        self.signal_stop()
        for thread in self._workers:
            thread.join(timeout=15)

    def enqueue(self, account: str, region: str, function_name: str, qualifier: str | None, request_id: str,
                payload: bytes) -> None:
        now = time.time()
        with self.db.transaction() as db:
            db.execute("INSERT INTO async_events (account, region, function_name, qualifier, request_id, payload, "
                       "enqueued, not_before) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (account, region, function_name, qualifier, request_id, payload, now, now))
        with self._cond:
            self._cond.notify()

    def pending(self, account: str, region: str, function_name: str | None = None) -> int:
        sql = "SELECT count(*) AS n FROM async_events WHERE account = ? AND region = ?"
        args: tuple = (account, region)
        if function_name is not None:
            sql += " AND function_name = ?"
            args += (function_name,)
        return self.db.query_one(sql, args)["n"]

    def drop_function(self, account: str, region: str, function_name: str) -> None:
        with self.db.transaction() as db:
            db.execute("DELETE FROM async_events WHERE account = ? AND region = ? AND function_name = ?",
                       (account, region, function_name))

    # -- the workers ------------------------------------------------------------------------

    def _claim(self) -> QueuedEvent | None:
        """The next due event nobody is running, or None after waiting a while."""
        with self._cond:
            while not self._stopping:
                now = time.time()
                claimed = tuple(self._claimed)
                marks = ",".join("?" * len(claimed))
                exclude = f" AND id NOT IN ({marks})" if claimed else ""
                row = self.db.query_one(f"SELECT * FROM async_events WHERE not_before <= ?{exclude} "
                                        "ORDER BY not_before, id LIMIT 1", (now, *claimed))
                if row is not None:
                    self._claimed.add(row["id"])
                    return QueuedEvent(row["id"], row["account"], row["region"], row["function_name"],
                                       row["qualifier"], row["request_id"], bytes(row["payload"]), row["attempts"],
                                       row["enqueued"])
                upcoming = self.db.query_one(f"SELECT min(not_before) AS t FROM async_events WHERE 1 = 1{exclude}",
                                             claimed)
                wait = 5.0 if upcoming is None or upcoming["t"] is None else max(0.0, min(5.0, upcoming["t"] - now))
                self._cond.wait(wait)
            return None

    def _work(self) -> None:
        while True:
            event = self._claim()
            if event is None:
                return
            try:
                try:
                    result = self._run_event(event)
                except AwsError as exc:
                    result = THROTTLED if exc.code == "TooManyRequestsException" else FAILED
                    if exc.code == "ResourceNotFoundException":
                        result = GONE
                except Exception:
                    log.exception("asynchronous invocation %s", event.request_id)
                    result = THROTTLED  # a lakestack failure: treat like AWS's 500s, back off and retry
                self._settle(event, result)
            except Exception:
                log.exception("settling asynchronous event %s", event.request_id)
            finally:
                with self._cond:
                    self._claimed.discard(event.id)
                    self._cond.notify_all()

    def _settle(self, event: QueuedEvent, result: str) -> None:
        if self._stopping and result != SUCCEEDED:
            return  # cut short by shutdown: it runs again, unchanged, after the restart
        max_retries, max_age = self._policy(event)
        now = time.time()
        too_old = now - event.enqueued > max_age
        if result in (SUCCEEDED, GONE) or too_old:
            if too_old and result not in (SUCCEEDED, GONE):
                log.warning("dropping event %s for %s: older than %ss", event.request_id, event.function_name, max_age)
            self._delete(event)
            return
        if result == THROTTLED:
            count = self._throttles.get(event.id, 0)
            self._throttles[event.id] = count + 1
            first, largest = self.throttle_backoff
            self._reschedule(event, event.attempts, now + min(largest, first * 2 ** count))
            return
        attempts = event.attempts + 1
        if attempts > max_retries:
            log.info("event %s for %s failed %d times; dropped", event.request_id, event.function_name, attempts)
            self._delete(event)
            return
        delay = self.retry_delays[min(attempts - 1, len(self.retry_delays) - 1)]
        self._reschedule(event, attempts, now + delay)

    def _delete(self, event: QueuedEvent) -> None:
        self._throttles.pop(event.id, None)
        with self.db.transaction() as db:
            db.execute("DELETE FROM async_events WHERE id = ?", (event.id,))

    def _reschedule(self, event: QueuedEvent, attempts: int, when: float) -> None:
        with self.db.transaction() as db:
            db.execute("UPDATE async_events SET attempts = ?, not_before = ? WHERE id = ?", (attempts, when, event.id))
