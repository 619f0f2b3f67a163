"""One server per data directory, and where it listens.

A server holds an exclusive lock (`flock` on `<home>/server.lock`) for its whole life, so a
second one on the same home refuses at once instead of serving the same files with different
in-memory state. While it runs, `<home>/server.json` says where (pid, endpoint, CA bundle);
`lakestack env` and `lakestack status` read it. The kernel drops the lock when the process
dies, even by kill -9, so a stale `server.json` never blocks the next start.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path

from lakestack.runtime.files import atomic_write

LOCK_FILE = "server.lock"
RECORD_FILE = "server.json"


class AlreadyRunning(RuntimeError):
    def __init__(self, home: Path, record: dict | None):
        self.home = home
        self.record = record
        if record:
            where = f"pid {record.get('pid')}, {record.get('endpoint')}"
            super().__init__(f"another lakestack ({where}) is already serving {home}: stop it, or use another --home")
        else:
            super().__init__(f"another lakestack is already starting on {home}: stop it, or use another --home")


class HomeClaim:
    """The exclusive right to serve one data directory, until `release()`."""

    def __init__(self, home: Path, fd: int):
        self.home = home
        self._fd: int | None = fd

    def record(self, **fields) -> None:
        """Publish where this server listens (`server.json`, with this process's pid)."""
        data = {"pid": os.getpid(), **fields}
        atomic_write(self.home / RECORD_FILE, (json.dumps(data, indent=2) + "\n").encode(), mode=0o644)

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            (self.home / RECORD_FILE).unlink()
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def claim(home: Path) -> HomeClaim:
    """Take the home for this process, or raise AlreadyRunning naming the server holding it."""
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    # Not inherited by child processes (Python's default), which would otherwise keep the
    # lock after this process has gone.
    fd = os.open(home / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise AlreadyRunning(home, running(home)) from None
    except BaseException:
        os.close(fd)
        raise
    return HomeClaim(home, fd)


def running(home: Path) -> dict | None:
    """What `server.json` says about the server on `home`, if its process is still alive."""
    try:
        record = json.loads((Path(home) / RECORD_FILE).read_text())
        pid = int(record["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, someone else's
    return record
