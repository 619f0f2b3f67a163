"""Functions' logs to CloudWatch Logs, as the function's execution role — off the invoke path.

On AWS, Lambda writes a function's output to `/aws/lambda/<name>` with the function's own
role, which therefore needs logs:CreateLogGroup, logs:CreateLogStream and logs:PutLogEvents
(AWSLambdaBasicExecutionRole); without them the logs are silently dropped. The same here:
a background thread batches the lines of finished invocations and writes them through the
Logs service's public API (`Stack.call`), authorized like any call by that role. As on AWS,
logs appear shortly after the invocation returns, not before.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from typing import TYPE_CHECKING

from lakestack.aws.errors import AwsError

if TYPE_CHECKING:
    from lakestack.aws.context import Credential

log = logging.getLogger("lakestack.lambda")

# PutLogEvents limits: https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html
MAX_BATCH_EVENTS = 10000
MAX_BATCH_BYTES = 1048576
EVENT_OVERHEAD = 26


class LogShipper:
    def __init__(self, stack):
        self.stack = stack
        self._pending: list[tuple] = []
        self._cond = threading.Condition()
        self._busy = False
        self._stopping = False
        self._known: set[tuple] = set()  # (region, account, group, stream) already created
        self._warned: set[tuple] = set()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="lambda-log-shipper", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def ship(self, region: str, account: str, group: str, stream: str, credential: Credential,
             lines: list[tuple[int, str]]) -> None:
        if not lines:
            return
        with self._cond:
            self._pending.append((region, account, group, stream, credential, lines))
            self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything shipped so far is written (for shutdown and tests)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._stopping)
                if self._stopping and not self._pending:
                    return
                batch, self._pending = self._pending, []
                self._busy = True
            try:
                self._write(batch)
            except Exception:  # never let one bad batch stop the shipper
                log.exception("writing function logs")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _write(self, batch: list[tuple]) -> None:
        streams: dict[tuple, list[tuple[int, str]]] = defaultdict(list)
        credentials: dict[tuple, Credential] = {}
        for region, account, group, stream, credential, lines in batch:
            key = (region, account, group, stream)
            streams[key].extend(lines)
            credentials[key] = credential
        for key, events in streams.items():
            events.sort(key=lambda e: e[0])  # PutLogEvents wants them in order
            try:
                self._put(key, credentials[key], events)
            except AwsError as exc:
                if key[:3] + (credentials[key].principal.arn,) not in self._warned:
                    self._warned.add(key[:3] + (credentials[key].principal.arn,))
                    log.warning("function logs for %s dropped: %s (%s)", key[2], exc.code, exc.message)

    def _put(self, key: tuple, credential: Credential, events: list[tuple[int, str]]) -> None:
        region, account, group, stream = key
        principal = credential.principal
        if key not in self._known:
            self._ensure(region, group, stream, principal)
            self._known.add(key)
        for chunk in _chunks(events):
            params = {"logGroupName": group, "logStreamName": stream,
                      "logEvents": [{"timestamp": ts, "message": message or " "} for ts, message in chunk]}
            try:
                self.stack.call("logs", "PutLogEvents", params, principal, region=region)
            except AwsError as exc:
                if exc.code != "ResourceNotFoundException":
                    raise
                # Someone deleted the group or stream since: create it again, once.
                self._ensure(region, group, stream, principal)
                self.stack.call("logs", "PutLogEvents", params, principal, region=region)

    def _ensure(self, region: str, group: str, stream: str, principal) -> None:
        for operation, params in (("CreateLogGroup", {"logGroupName": group}),
                                  ("CreateLogStream", {"logGroupName": group, "logStreamName": stream})):
            try:
                self.stack.call("logs", operation, params, principal, region=region)
            except AwsError as exc:
                if exc.code == "ResourceAlreadyExistsException":
                    continue
                # A role allowed to write streams but not to create groups works as long as
                # the group exists already.
                if operation == "CreateLogGroup" and exc.code.startswith("AccessDenied"):
                    continue
                raise

    def forget(self, region: str, account: str, group: str) -> None:
        self._known = {k for k in self._known if k[:3] != (region, account, group)}


def _chunks(events: list[tuple[int, str]]):
    chunk: list[tuple[int, str]] = []
    size = 0
    for event in events:
        cost = len(event[1].encode()) + EVENT_OVERHEAD
        # A batch may not span more than 24 hours either.
        if chunk and (len(chunk) >= MAX_BATCH_EVENTS or size + cost > MAX_BATCH_BYTES
                      or event[0] - chunk[0][0] >= 24 * 3600 * 1000):
            yield chunk
            chunk, size = [], 0
        chunk.append(event)
        size += cost
    if chunk:
        yield chunk
