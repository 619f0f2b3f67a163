"""SQLite state store: WAL mode, one writer connection, thread-local readers.

A commit returns only after SQLite has fsync'd the WAL (synchronous=FULL), so a
successful answer to the client means the metadata is on disk.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class StateStore:
    def __init__(self, path: Path, schema: str = ""):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.RLock()
        self._writer = self._connect()
        self._local = threading.local()
        if schema:
            # executescript manages its own transaction (it commits first), so no BEGIN here.
            with self._write_lock:
                self._writer.executescript(schema)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.row_factory = sqlite3.Row
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The single writer, inside BEGIN IMMEDIATE … COMMIT."""
        with self._write_lock:
            db = self._writer
            if db.in_transaction:  # nested use joins the outer transaction
                yield db
                return
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @property
    def reader(self) -> sqlite3.Connection:
        """A connection for this thread; sees the last committed state."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        return self.reader.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        return self.reader.execute(sql, params).fetchone()

    def close(self) -> None:
        with self._write_lock:
            self._writer.close()
