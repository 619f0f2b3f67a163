"""Group commit: the object writes of concurrent requests share one transaction.

Every write (PutObject, CopyObject, CompleteMultipartUpload) ends with a short critical
section under its key's and bucket's locks: choose the file's place, one SQLite
transaction (with its WAL fsync), the rename. Taken one request at a time, that section
is what limits small PUTs — threads queue on the bucket's lock and hand the GIL back and
forth inside it. Here whichever request is committing takes every write that is waiting,
runs them in a single transaction (a failed condition fails only its own request) and
answers them all: DESIGN.md's "fsync before the answer, group commit allowed".
"""

from __future__ import annotations

import collections
import itertools
import threading
from typing import Protocol

from lakestack.aws.errors import AwsError


class Write(Protocol):
    """One request's write, as the committer drives it (all under its locks)."""

    bucket: str
    key: str
    committed: bool  # set by the committer once the write's row is durable

    def prepare(self) -> None:
        """Before the transaction: pick the file's place on disk."""

    def check(self, db) -> None:
        """Inside the transaction, before `write_rows`: raise to fail just this write. Must not
        change anything (or only what its raising undoes, like a DELETE that found nothing)."""

    def write_rows(self, db) -> None:
        """Inside the transaction: the write's rows. An error here fails the whole group."""

    def finish(self) -> None:
        """After the commit: put the bytes in place."""

    def cleanup(self) -> None:
        """After every write of the group has finished: tidy up (e.g. prune directories)."""


class _Pending:
    __slots__ = ("write", "wake", "done", "error")

    def __init__(self, write: Write):
        self.write = write
        self.wake = threading.Event()  # set once: when the write is done, or when it is to lead
        self.done = False
        self.error: BaseException | None = None


def _conflict(a: str, b: str) -> bool:
    """Two keys of a bucket whose files could collide: equal, or one a folder of the other."""
    return a == b or b.startswith(a + "/") or a.startswith(b + "/")


class GroupCommitter:
    """Leader/follower: the first request to arrive commits groups (its own and whatever
    queued meanwhile) until its own write is done, then hands the lead to the next one
    waiting. No committer thread: the leader's own write costs no thread hand-off at all."""

    def __init__(self, store):
        self.store = store
        self._queue: collections.deque[_Pending] = collections.deque()
        self._lock = threading.Lock()
        self._leading = False

    def submit(self, write: Write) -> None:
        """Commit a write; returns once it is durable, or raises what failed it (even then
        `write.committed` may be true: the row landed but putting the file in place did not,
        and recovery will finish that)."""
        pending = _Pending(write)
        with self._lock:
            self._queue.append(pending)
            lead, self._leading = not self._leading, True
        if not lead:
            pending.wake.wait()
        if not pending.done:  # first to arrive, or handed the lead
            self._lead_until(pending)
        if pending.error is not None:
            raise pending.error

    def _lead_until(self, mine: _Pending) -> None:
        try:
            while not mine.done:
                with self._lock:
                    group, deferred = self._take_group()
                    self._queue.extendleft(reversed(deferred))
                self._commit(group)
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].wake.set()  # not done, so it wakes up leading
                else:
                    self._leading = False

    def _take_group(self) -> tuple[list[_Pending], list[_Pending]]:
        """Everything waiting, except writes that collide with an earlier one in the group:
        those wait for the next round, so they see its effects (and keep their order)."""
        group: list[_Pending] = []
        deferred: list[_Pending] = []
        while self._queue:
            pending = self._queue.popleft()
            write = pending.write
            clash = any(other.write.bucket == write.bucket and _conflict(other.write.key, write.key)
                        for other in itertools.chain(group, deferred))
            (deferred if clash else group).append(pending)
        return group, deferred

    def _commit(self, group: list[_Pending]) -> None:
        store = self.store
        try:
            with store.write_locks([(p.write.bucket, p.write.key) for p in group]):
                ready = []
                for pending in group:
                    try:
                        pending.write.prepare()
                        ready.append(pending)
                    except BaseException as exc:
                        pending.error = exc
                applied = self._transaction(ready)
                for pending in applied:
                    try:
                        pending.write.finish()
                    except BaseException as exc:  # committed: recovery finishes it after a restart
                        pending.error = exc
                for pending in applied:
                    try:
                        pending.write.cleanup()
                    except BaseException as exc:
                        pending.error = pending.error or exc
        except BaseException as exc:
            for pending in group:
                pending.error = pending.error or exc
        finally:
            for pending in group:
                pending.done = True
                pending.wake.set()

    def _transaction(self, ready: list[_Pending]) -> list[_Pending]:
        """Check and record each write in one transaction; the writes that landed. Checks
        change nothing, so a failed one needs no rollback (and no savepoint round trips)."""
        if not ready:
            return []
        applied = []
        try:
            with self.store.transaction() as db:
                for pending in ready:
                    try:
                        pending.write.check(db)
                    except AwsError as exc:
                        pending.error = exc
                        continue
                    pending.write.write_rows(db)
                    applied.append(pending)
        except BaseException as exc:  # rolled back: nothing landed
            for pending in ready:
                pending.error = pending.error or exc
            return []
        for pending in applied:
            pending.write.committed = True
        return applied
