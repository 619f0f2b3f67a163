"""The DuckDB database Athena's queries run in, made anew every so many queries.

DuckDB keeps a weak reference to every buffer a query unpins in its eviction queues, and
purges the dead ones only once a queue holds 32,768 of them (it has eight queues). Each
reference keeps ~200 bytes, so one database grows by about 1 KB per query over its first
hundred thousand queries or so (measured: +19 MB after 40,000 small GROUP BY queries, still
rising). A fresh database every RENEW_AFTER queries bounds that to a few MB: it is built in
the background while queries go on in the old one, which closes when its last query ends.
Building one (extensions, macros) takes about a second of one core; nothing else lives in
it between queries (tables are files in the lake, the catalog is Glue's).
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from lakestack.engines.sql.engine import SqlEngine

log = logging.getLogger("lakestack.athena")

RENEW_AFTER = 5000  # queries


class Engines:
    """`lease()` lends the current database to one query; every `renew_after` queries the
    next one is made. `make(temp_dir)` builds a database spilling into `temp_dir`."""

    def __init__(self, make: Callable[[Path], SqlEngine], temp_root: Path, renew_after: int = RENEW_AFTER):
        self._make = make
        self._temp_root = temp_root
        self.renew_after = renew_after
        self._lock = threading.Lock()
        self._first = threading.Lock()
        self._current: SqlEngine | None = None
        self._made = 0  # databases made so far; each spills into its own folder
        self._temp_dirs: dict[int, Path] = {}  # id(database) → its folder
        self._served = 0  # queries lent the current database
        self._renewing = False
        self._running: dict[int, int] = {}  # id(database) → queries in it now
        self._retired: dict[int, SqlEngine] = {}  # replaced, closed when their last query ends
        self._closed = False
        self._renewal: threading.Thread | None = None

    def _open(self) -> SqlEngine:
        with self._lock:
            self._made += 1
            temp_dir = self._temp_root / str(self._made)
        shutil.rmtree(temp_dir, ignore_errors=True)  # left by an earlier run
        engine = self._make(temp_dir)
        with self._lock:
            self._temp_dirs[id(engine)] = temp_dir
        return engine

    def _close(self, engine: SqlEngine) -> None:
        engine.close()
        with self._lock:
            temp_dir = self._temp_dirs.pop(id(engine), None)
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)

    def _current_engine(self) -> SqlEngine:
        with self._lock:
            if self._current is not None:
                return self._current
        with self._first:  # the first query's database, made on first use, once
            with self._lock:
                if self._current is not None:
                    return self._current
            engine = self._open()
            with self._lock:
                if not self._closed:
                    self._current = engine
                    return engine
            self._close(engine)
            raise RuntimeError("Athena's engine is closed")

    @property
    def current(self) -> SqlEngine:
        """The database new queries get (made on first use)."""
        return self._current_engine()

    @contextmanager
    def lease(self) -> Iterator[SqlEngine]:
        """The database for one query, open until the query ends."""
        engine = self._current_engine()
        with self._lock:
            engine = self._current or engine  # a newer one if it was just renewed
            self._running[id(engine)] = self._running.get(id(engine), 0) + 1
            self._served += 1
            renew = self._served >= self.renew_after and not self._renewing
            self._renewing |= renew
        if renew:
            self._renewal = threading.Thread(target=self._renew, name="lakestack-athena-engine", daemon=True)
            self._renewal.start()
        try:
            yield engine
        finally:
            with self._lock:
                self._running[id(engine)] -= 1
                done = None
                if not self._running[id(engine)]:
                    del self._running[id(engine)]
                    done = self._retired.pop(id(engine), None)
            if done is not None:
                self._close(done)

    def _renew(self) -> None:
        try:
            fresh = self._open()
        except Exception:  # noqa: BLE001 - keep serving from the database we have
            log.exception("could not make a new DuckDB database; keeping the current one")
            with self._lock:
                self._served, self._renewing = 0, False
            return
        with self._lock:
            if self._closed:
                old = fresh
            else:
                old, self._current = self._current, fresh
                self._served, self._renewing = 0, False
                if self._running.get(id(old)):
                    self._retired[id(old)] = old
                    old = None
        if old is not None:
            self._close(old)

    def close(self) -> None:
        renewal = self._renewal
        if renewal is not None:
            renewal.join(60)  # a database half made when the process exits aborts it
        with self._lock:
            self._closed = True
            engines = [e for e in (self._current, *self._retired.values()) if e is not None]
            self._current, self._retired = None, {}
        for engine in engines:
            self._close(engine)
