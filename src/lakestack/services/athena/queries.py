"""Running one Athena statement: classify it, resolve its tables through the catalog, run it
in DuckDB, and say what it produced (rows for a CSV, lines for a .txt, a row count).

DDL lives in ddl.py, writes (CTAS, INSERT, UNLOAD) in writes.py, Iceberg in iceberg.py;
this module dispatches and runs queries.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlglot
from sqlglot import exp

from lakestack.engines.sql.engine import Session, SqlEngine
from lakestack.engines.sql.errors import QueryError, from_duckdb
from lakestack.engines.sql.parsing import READ, parse
from lakestack.engines.sql.table_references import TableRef
from lakestack.engines.sql.translate import Translation, Translator
from lakestack.engines.sql.types import ColumnInfo
from lakestack.services.athena.catalog import GlueCatalog
from lakestack.services.athena.lake import Lake
from lakestack.services.athena.relations import Relations, SchemaCache, presto_view_sql

DEFAULT_CATALOG = "awsdatacatalog"
METADATA_SUFFIXES = ("snapshots", "files", "history", "manifests", "partitions", "refs")


@dataclass
class Outcome:
    statement_type: str  # DML, DDL or UTILITY
    substatement_type: str
    kind: str = "none"  # "csv" (rows in csv_path), "text" (text_rows) or "none"
    columns: list[ColumnInfo] = field(default_factory=list)
    csv_path: Path | None = None
    rows: int = 0
    text_rows: list[list[str]] = field(default_factory=list)
    update_count: int | None = None
    manifest: list[str] | None = None


def text_outcome(statement_type: str, substatement: str, names: list[str], rows: list[list[str]]) -> Outcome:
    columns = [ColumnInfo(n, "varchar", 2147483647, 0, True) for n in names]
    return Outcome(statement_type, substatement, "text", columns, text_rows=rows, rows=len(rows))


class Cancelled(Exception):
    pass


class Query:
    """Everything one execution needs: who, where, and the session it runs in."""

    def __init__(self, *, execution_id: str, stack, engine: SqlEngine, schemas: SchemaCache, principal, region: str,
                 database: str, catalog: str, workgroup: str, output_location: str, parameters: list[str],
                 work_dir: Path, provider):
        self.execution_id = execution_id
        self.stack = stack
        self.engine = engine
        self.schemas = schemas
        self.principal = principal
        self.region = region
        self.account = principal.account_id
        self.database = (database or "default").lower()
        self.catalog_name = (catalog or "AwsDataCatalog").lower()
        self.workgroup = workgroup
        self.output_location = output_location
        self.parameters = parameters
        self.work_dir = work_dir
        self.provider = provider
        self.glue = GlueCatalog(stack, principal, region)
        self.lake = Lake(stack, principal, region)
        self._session: Session | None = None
        self._relations: Relations | None = None
        self._lock = threading.Lock()
        self.cancelled = False
        self._view_depth = 0
        self._iceberg = None
        self._tables: dict[tuple[str, str], dict] = {}
        self.planning_seconds = 0.0  # translating and resolving tables (QueryPlanningTimeInMillis)

    # -- session ------------------------------------------------------------------------------

    @property
    def session(self) -> Session:
        with self._lock:
            if self.cancelled:
                raise Cancelled()
            if self._session is None:
                self._session = self.engine.session()
            return self._session

    @property
    def relations(self) -> Relations:
        if self._relations is None:
            self._relations = Relations(self.session, self.lake, self.schemas)
        return self._relations

    @property
    def scanned_bytes(self) -> int:
        return self._relations.stats.bytes if self._relations else 0

    @property
    def iceberg(self):
        if self._iceberg is None:
            from lakestack.services.athena.iceberg import IcebergTables

            self._iceberg = IcebergTables(self)
        return self._iceberg

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            session = self._session
        if session is not None:
            session.interrupt()

    def close(self) -> None:
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            session.close()

    def check(self) -> None:
        if self.cancelled:
            raise Cancelled()

    # -- names ------------------------------------------------------------------------------

    def qualify(self, catalog: str | None, database: str | None, name: str, line: int = 1, col: int = 1
                ) -> tuple[str, str]:
        catalog = (catalog or self.catalog_name).lower()
        if catalog != DEFAULT_CATALOG and not self.provider.is_glue_catalog(self.account, self.region, catalog):
            raise QueryError("CATALOG_NOT_FOUND", f"line {line}:{col}: Catalog '{catalog}' does not exist")
        return (database or self.database).lower(), name.lower()

    def require_table(self, database: str, name: str, line: int = 1, col: int = 1) -> dict:
        key = (database, name)
        if key in self._tables:  # a table named twice in one query is looked up once
            return dict(self._tables[key])
        table = self.glue.table(database, name)
        if table is None:
            if self.glue.database(database) is None:
                raise QueryError("SCHEMA_NOT_FOUND", f"line {line}:{col}: Schema '{database}' does not exist")
            raise QueryError("TABLE_NOT_FOUND",
                             f"line {line}:{col}: Table '{DEFAULT_CATALOG}.{database}.{name}' does not exist")
        table.setdefault("DatabaseName", database)
        self._tables[key] = table
        return dict(table)

    # -- translation ------------------------------------------------------------------------

    def translator(self, parameters: list[exp.Expression] | None = None) -> Translator:
        return Translator(self.resolve, parameters)

    def parameter_expressions(self, values: list[str]) -> list[exp.Expression]:
        out = []
        for value in values:
            try:
                out.append(sqlglot.parse_one(value, read=READ))
            except sqlglot.errors.ParseError:
                raise QueryError("INVALID_PARAMETER_USAGE", f"Invalid parameter value: {value}") from None
        return out

    def resolve(self, ref: TableRef) -> str:
        """A relation for a table named in a query: a temporary view in this session."""
        self.check()
        if ref.name.startswith("__lakestack_") and ref.database is None:
            return ref.name  # a relation this query made itself (Iceberg DML's working copy)
        database, name = self.qualify(ref.catalog, ref.database, ref.name, ref.line, ref.col)
        if "$" in name:
            base, _, suffix = name.partition("$")
            if suffix in METADATA_SUFFIXES:
                table = self.require_table(database, base, ref.line, ref.col)
                if not self.iceberg.is_iceberg(table):
                    raise QueryError("NOT_SUPPORTED", f"line {ref.line}:{ref.col}: Metadata tables are only "
                                                      "supported for Iceberg tables")
                return self.iceberg.metadata_view(table, suffix)
        table = self.require_table(database, name, ref.line, ref.col)
        if table.get("TableType") == "VIRTUAL_VIEW":
            return self._view(table, database, ref)
        if self.iceberg.is_iceberg(table):
            return self.iceberg.view(table, ref.version)
        if ref.version is not None:
            raise QueryError("NOT_SUPPORTED", f"line {ref.line}:{ref.col}: This connector does not support versioned "
                                              "tables")
        table["__partitions__"] = lambda: self.glue.partitions(database, name)
        select = self.relations.hive_table(table, lambda: ref.predicates)
        return self.session.view(select)

    def _view(self, table: dict, database: str, ref: TableRef) -> str:
        sql, view_database = presto_view_sql(table)
        if self._view_depth > 10:
            raise QueryError("VIEW_IS_RECURSIVE", f"line {ref.line}:{ref.col}: View is recursive")
        saved = self.database
        self._view_depth += 1
        try:
            self.database = (view_database or database).lower()
            translation = self.translator().query(parse(sql))
        finally:
            self.database = saved
            self._view_depth -= 1
        return self.session.view(translation.sql)

    def translate_query(self, tree: exp.Expression, parameters: list[exp.Expression] | None = None) -> Translation:
        started = time.perf_counter()
        try:
            return self.translator(parameters).query(tree, copy=False)
        finally:
            self.planning_seconds += time.perf_counter() - started

    def run_sql(self, sql: str, tree: exp.Expression | None = None):
        self.check()
        try:
            return self.session.execute(sql)
        except Cancelled:
            raise
        except Exception as error:  # noqa: BLE001 - DuckDB errors become Athena's
            if self.cancelled:
                raise Cancelled() from None
            raise from_duckdb(error, tree) from None

    def describe(self, sql: str, tree: exp.Expression | None = None):
        self.check()
        try:
            return self.session.describe(sql)
        except Exception as error:  # noqa: BLE001
            if self.cancelled:
                raise Cancelled() from None
            raise from_duckdb(error, tree) from None

    # -- statements ---------------------------------------------------------------------------

    def select(self, tree: exp.Expression, parameters: list[exp.Expression] | None = None,
               substatement: str = "SELECT") -> Outcome:
        translation = self.translate_query(tree, parameters)
        self.provider.check_scan_cutoff(self)
        path = self.work_dir / f"{self.execution_id}.csv"
        self.check()
        try:
            shape = self.session.write_csv(translation.sql, path, translation.zones)
        except Cancelled:
            raise
        except Exception as error:  # noqa: BLE001
            if self.cancelled:
                raise Cancelled() from None
            raise from_duckdb(error, tree) from None
        return Outcome("DML", substatement, "csv", shape.columns, path, shape.rows)

    def explain(self, text: str) -> Outcome:
        analyze = bool(re.match(r"ANALYZE\b", text, re.IGNORECASE))
        if analyze:
            text = text[len("ANALYZE"):].strip()
        text = re.sub(r"^\((?:\s*(?:TYPE|FORMAT)\s+\w+\s*,?)+\)\s*", "", text, flags=re.IGNORECASE)
        tree = parse(text)
        translation = self.translate_query(tree)
        rows = self.run_sql(("EXPLAIN ANALYZE " if analyze else "EXPLAIN ") + translation.sql, tree).fetchall()
        lines = []
        for row in rows:
            lines.extend(str(row[-1]).splitlines())
        return text_outcome("UTILITY", "EXPLAIN", ["Query Plan"], [[line] for line in lines])


# --- statement classification ----------------------------------------------------------------

ALTER_PARTITION = re.compile(r"^\s*ALTER\s+TABLE\s+\S+\s+(ADD|DROP)\s+(IF\s+(NOT\s+)?EXISTS\s+)?PARTITION\b",
                              re.IGNORECASE)


def strip_comments(sql: str) -> str:
    """The statement without leading comments (clients such as awswrangler prefix some)."""
    text = sql.strip()
    while True:
        if text.startswith("--"):
            text = text.split("\n", 1)[1].strip() if "\n" in text else ""
        elif text.startswith("/*"):
            end = text.find("*/")
            text = text[end + 2:].strip() if end >= 0 else ""
        else:
            return text.rstrip().rstrip(";").rstrip()


def first_word(sql: str) -> str:
    match = re.match(r"\s*\(*\s*(\w+)", strip_comments(sql))
    return match.group(1).upper() if match else ""


def statement_type(sql: str) -> str:
    """Athena's StatementType for a query string, before running it."""
    text = strip_comments(sql)
    word = first_word(text)
    if word in ("SELECT", "WITH", "VALUES", "INSERT", "UPDATE", "DELETE", "MERGE", "UNLOAD", "TABLE", "EXECUTE"):
        return "DML"
    if word == "CREATE" and re.search(r"\bAS\s*\(?\s*(SELECT|WITH|VALUES)\b", text, re.IGNORECASE) and \
            not re.match(r"\s*CREATE\s+(OR\s+REPLACE\s+)?VIEW\b", text, re.IGNORECASE):
        return "DML"  # CTAS
    if word in ("SHOW", "DESCRIBE", "DESC", "EXPLAIN", "PREPARE", "DEALLOCATE"):
        return "UTILITY"
    return "DDL"
