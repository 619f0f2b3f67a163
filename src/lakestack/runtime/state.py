"""SQLite state store: WAL mode, one writer connection, a small pool of readers.

A commit returns only after SQLite has fsync'd the WAL (synchronous=FULL), so a
successful answer to the client means the metadata is on disk.

Readers are lent per query rather than kept per thread: a connection holds a page cache
and up to 128 prepared statements, and a server's thread pools grow to dozens of threads,
each of which would otherwise keep one connection per store for good.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

IDLE_READERS = 8  # reader connections kept open between queries, per store


class StateStore:
    def __init__(self, path: Path, schema: str = ""):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.RLock()
        self._writer = self._connect()
        self._idle: list[sqlite3.Connection] = []  # readers between queries
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

    # Lending: list.pop and list.append are atomic, so no lock (the pool may briefly hold a
    # reader or two more than IDLE_READERS). A cursor that goes out of scope resets its
    # statement, ending its read snapshot, before the connection goes back.

    def _lend(self) -> sqlite3.Connection:
        try:
            return self._idle.pop()
        except IndexError:
            return self._connect()

    def _give_back(self, conn: sqlite3.Connection) -> None:
        if len(self._idle) < IDLE_READERS:
            self._idle.append(conn)
        else:
            conn.close()

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        """Rows as of the last commit."""
        conn = self._lend()
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            self._give_back(conn)

    def query_one(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        conn = self._lend()
        try:
            return conn.execute(sql, params).fetchone()
        finally:
            self._give_back(conn)

    def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        with self._write_lock:
            self._writer.close()
