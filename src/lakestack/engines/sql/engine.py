"""The DuckDB database Athena's queries run in.

One in-memory DuckDB database per server: extensions and the Trino macro library
(runtime.py) are loaded once, and every query gets its own connection (`Session`) to it,
so temporary views and settings never leak between queries, and a query can be interrupted
on its own. DuckDB runs each query on its own thread pool and releases the GIL, so queries
running in parallel worker threads really run in parallel.

Extensions come from PyPI packages that carry the binaries (`duckdb-extension-spatial`,
pinned to the DuckDB release), so nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb

from lakestack.engines.sql import runtime
from lakestack.engines.sql.types import ColumnInfo, column_info, quote_ident, render_sql

log = logging.getLogger("lakestack.sql")

OPTIONAL_EXTENSIONS = ("spatial", "avro")


def extension_path(name: str) -> Path | None:
    """The extension binary shipped by the `duckdb-extension-<name>` package, if installed."""
    try:
        package = importlib.import_module(f"duckdb_extension_{name}")
    except ImportError:
        return None
    path = Path(package.__file__).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    return path if path.exists() else None


class SqlEngine:
    def __init__(self, temp_dir: Path | None = None, threads: int | None = None, memory_limit: str | None = None):
        config = {
            "threads": threads or os.cpu_count() or 2,
            # Never reach for the network to fetch an extension: that would hang offline.
            "autoinstall_known_extensions": False,
        }
        if memory_limit:
            config["memory_limit"] = memory_limit
        if temp_dir is not None:
            Path(temp_dir).mkdir(parents=True, exist_ok=True)
            config["temp_directory"] = str(temp_dir)
        self.db = duckdb.connect(":memory:", config=config)
        self._lock = threading.Lock()
        for statement in (
            # Trino: integer / integer is an integer.
            "SET GLOBAL integer_division = true",
            # Athena's session time zone is UTC, whatever the machine's is.
            "SET GLOBAL TimeZone = 'UTC'",
            "SET GLOBAL parquet_metadata_cache = true",
            "SET GLOBAL enable_object_cache = true",
        ):
            self.db.execute(statement)
        self.extensions: set[str] = set()
        for name in OPTIONAL_EXTENSIONS:
            path = extension_path(name)
            if path is None:
                continue
            try:
                self.db.execute(f"LOAD '{path}'")
                self.extensions.add(name)
            except duckdb.Error as error:  # a mismatched binary must not take the engine down
                log.warning("DuckDB extension %s not loaded: %s", name, error)
        self._register_functions()
        for macro in runtime.MACROS:
            self.db.execute(macro)
        if "spatial" in self.extensions:
            from lakestack.engines.sql import geospatial

            for macro in geospatial.MACROS:
                self.db.execute(macro)

    def _register_functions(self) -> None:
        """Python functions the macros call; registered on the database's first connection,
        they are visible to every session's connection."""
        import pyarrow as pa
        from duckdb.sqltypes import DOUBLE, FLOAT, VARCHAR

        def java_double(values):
            return pa.array([runtime.java_double_text(v) for v in values.to_pylist()], type=pa.string())

        def java_real(values):
            return pa.array([runtime.java_double_text(v, single=True) for v in values.to_pylist()], type=pa.string())

        self.db.create_function("trino_java_double", java_double, [DOUBLE], VARCHAR, type="arrow",
                                side_effects=False)
        self.db.create_function("trino_java_real", java_real, [FLOAT], VARCHAR, type="arrow", side_effects=False)

    def session(self) -> Session:
        with self._lock:  # cursor() on one connection from many threads must not interleave
            return Session(self.db.cursor())

    def close(self) -> None:
        self.db.close()


@dataclass
class ResultShape:
    columns: list[ColumnInfo]
    rows: int


class Session:
    """One query's connection. `interrupt` may be called from any thread.

    Relations (`view`) are not created in DuckDB: their names are placeholders that every
    statement run through the session has replaced by the relation's SQL, which spares a
    catalog write and a bind per table and lets DuckDB plan the query as one.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self._views = 0
        self._relations: dict[str, str] = {}

    def view(self, select_sql: str) -> str:
        """A named relation over `select_sql`; returns its name."""
        self._views += 1
        name = f"__lakestack_{self._views}"
        self._relations[quote_ident(name)] = f"({self.inline(select_sql)})"
        return name

    def inline(self, sql: str) -> str:
        if not self._relations or "__lakestack_" not in sql:
            return sql
        return _RELATION_NAME.sub(lambda m: self._relations.get(m.group(0), m.group(0)), sql)

    def register_arrow(self, table) -> str:
        self._views += 1
        name = f"__lakestack_arrow_{self._views}"
        self.con.register(name, table)
        return name

    def execute(self, sql: str, params: list | None = None):
        return self.con.execute(self.inline(sql), params or [])

    def describe(self, sql: str) -> tuple[list[str], list]:
        relation = self.con.sql(self.inline(sql))
        return list(relation.columns), list(relation.types)

    def rendered(self, sql: str, zones: dict[int, str] | None = None) -> tuple[str, list[ColumnInfo]]:
        """A query over `sql` whose columns are the values rendered as Trino shows them
        (text, NULL kept), and the Athena column metadata of `sql`'s columns."""
        names, types = self.describe(sql)
        zones = zones or {}
        columns, selects = [], []
        for index, (name, kind) in enumerate(zip(names, types, strict=True)):
            expr = f"__q.{quote_ident(f'c{index}')}"
            zone = zones.get(index)
            if zone and kind.id in ("timestamp", "timestamp_ms", "timestamp_ns", "timestamp_s"):
                rendered = f"strftime({expr}, '%Y-%m-%d %H:%M:%S.%g ') || {_sql_string(zone)}"
                columns.append(column_info(name, kind, override="timestamp with time zone"))
            else:
                rendered = render_sql(expr, kind)
                columns.append(column_info(name, kind))
            selects.append(f"{rendered} AS {quote_ident(f'c{index}')}")
        aliases = ", ".join(quote_ident(f"c{i}") for i in range(len(names)))
        return f"SELECT {', '.join(selects)} FROM ({sql}) AS __q({aliases})", columns

    def write_csv(self, sql: str, path: Path, zones: dict[int, str] | None = None) -> ResultShape:
        """Run a query and write its rows as Athena's result CSV (no header: the caller writes
        it, since DuckDB would rename duplicate column names). Every non-NULL value is quoted;
        NULL is an empty unquoted field."""
        select, columns = self.rendered(sql, zones)
        copy = (f"COPY ({select}) TO {_sql_string(str(path))} "
                "(FORMAT csv, HEADER false, FORCE_QUOTE *, QUOTE '\"', ESCAPE '\"', NEW_LINE '\\n')")
        rows = self.con.execute(self.inline(copy)).fetchone()[0]
        return ResultShape(columns, int(rows))

    def fetch_rendered(self, sql: str, zones: dict[int, str] | None = None) -> tuple[list[ColumnInfo], list[tuple]]:
        select, columns = self.rendered(sql, zones)
        return columns, self.con.execute(self.inline(select)).fetchall()

    def interrupt(self) -> None:
        try:
            self.con.interrupt()
        except duckdb.Error:
            pass

    def close(self) -> None:
        try:
            self.con.close()
        except duckdb.Error:
            pass


_RELATION_NAME = re.compile(r'"__lakestack_\d+"')


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def csv_header(names: list[str]) -> bytes:
    return (",".join('"' + n.replace('"', '""') + '"' for n in names) + "\n").encode()
