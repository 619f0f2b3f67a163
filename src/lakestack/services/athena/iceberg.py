"""Iceberg tables, through pyiceberg with its Glue catalog pointed at lakestack itself.

pyiceberg talks to this server's Glue and S3 endpoints with the caller's own credentials,
so every metadata commit and file write is authorized and recorded like a client's.
Reads plan the scan with pyiceberg and let DuckDB read the data files in place when no
delete files apply (otherwise pyiceberg merges them into Arrow). Row-level DML (UPDATE,
DELETE, MERGE) runs in DuckDB against a copy of the current snapshot and commits the
result as a new snapshot (copy-on-write), which is what gives time travel its history.
https://docs.aws.amazon.com/athena/latest/ug/querying-iceberg.html
"""

from __future__ import annotations

import datetime as dt
import re
import threading

from sqlglot import exp

from lakestack.engines.sql.errors import DDL_ERROR, QueryError
from lakestack.engines.sql.types import hive_to_duckdb, parse_hive_type, quote_ident
from lakestack.services.athena.ddl import _columns as ddl_columns
from lakestack.services.athena.ddl import _table_name
from lakestack.services.athena.queries import Outcome, Query
from lakestack.services.athena.relations import sql_string

TARGET = "__lakestack_target"
_ICEBERG_ERROR = 233  # AthenaError.ErrorType: Iceberg error
_catalog_lock = threading.Lock()

_OPTIMIZE = re.compile(r"^\s*OPTIMIZE\s+(\S+)\s+REWRITE\s+DATA\s+USING\s+BIN_PACK(?:\s+WHERE\s+(.*))?\s*$",
                       re.IGNORECASE | re.DOTALL)
_VACUUM = re.compile(r"^\s*VACUUM\s+(\S+)\s*$", re.IGNORECASE)


def _fail(message: str) -> QueryError:
    return QueryError("ICEBERG_ERROR", message, _ICEBERG_ERROR)


class IcebergTables:
    def __init__(self, query: Query):
        self.query = query
        self._catalog = None

    @staticmethod
    def is_iceberg(table: dict) -> bool:
        return str((table.get("Parameters") or {}).get("table_type", "")).upper() == "ICEBERG"

    # -- pyiceberg ---------------------------------------------------------------------------

    @property
    def catalog(self):
        if self._catalog is None:
            from pyiceberg.catalog.glue import GlueCatalog

            stack, principal = self.query.stack, self.query.principal
            credential = stack.credentials.lookup(principal.access_key_id) if principal.access_key_id else None
            if credential is None:
                raise _fail("Iceberg tables need the caller's access key; this caller has none")
            endpoint = stack.settings.endpoint_url
            properties = {
                "glue.endpoint": endpoint, "glue.region": self.query.region,
                "glue.access-key-id": credential.access_key_id, "glue.secret-access-key": credential.secret_access_key,
                "s3.endpoint": endpoint, "s3.region": self.query.region,
                "s3.access-key-id": credential.access_key_id, "s3.secret-access-key": credential.secret_access_key,
                "s3.force-virtual-addressing": False,
                "py-io-impl": "pyiceberg.io.pyarrow.PyArrowFileIO",
            }
            if credential.session_token:
                properties["glue.session-token"] = credential.session_token
                properties["s3.session-token"] = credential.session_token
            with _catalog_lock:  # botocore session creation is not thread-safe
                self._catalog = GlueCatalog("awsdatacatalog", **properties)
        return self._catalog

    def load(self, table: dict):
        try:
            return self.catalog.load_table((table["DatabaseName"], table["Name"]))
        except Exception as error:  # noqa: BLE001 - pyiceberg raises many kinds
            raise _fail(f"Cannot load Iceberg table {table['DatabaseName']}.{table['Name']}: {error}") from None

    # -- reading -----------------------------------------------------------------------------

    def view(self, table: dict, version: exp.Expression | None) -> str:
        iceberg = self.load(table)
        snapshot_id = self._snapshot_for(iceberg, version) if version is not None else None
        return self._scan_view(iceberg, snapshot_id)

    def _snapshot_for(self, iceberg, version: exp.Expression) -> int:
        kind = str(version.this or "").upper()
        target = version.args.get("expression")
        if "VERSION" in kind:
            value = self._evaluate(target)
            snapshot = iceberg.snapshot_by_id(int(value))
            if snapshot is None:
                raise _fail(f"Iceberg snapshot ID does not exists: {value}")
            return snapshot.snapshot_id
        millis = self._evaluate(target, as_millis=True)
        snapshot = iceberg.snapshot_as_of_timestamp(int(millis))
        if snapshot is None:
            raise _fail(f"No version history table {iceberg.name()} at or before "
                        f"{dt.datetime.fromtimestamp(millis / 1000, dt.UTC)}")
        return snapshot.snapshot_id

    def _evaluate(self, node: exp.Expression, as_millis: bool = False):
        sql = self.query.translator().expression(node)
        if as_millis:
            sql = f"epoch_ms(CAST({sql} AS TIMESTAMPTZ))"
        return self.query.run_sql(f"SELECT {sql}").fetchone()[0]

    def _scan_view(self, iceberg, snapshot_id: int | None) -> str:
        schema = iceberg.schema() if snapshot_id is None else (
            iceberg.schemas().get(iceberg.snapshot_by_id(snapshot_id).schema_id) or iceberg.schema())
        names = [f.name for f in schema.fields]
        scan = iceberg.scan(snapshot_id=snapshot_id)
        tasks = list(scan.plan_files())
        relations = self.query.relations
        local = []
        if all(not task.delete_files for task in tasks):
            for task in tasks:
                path = self._local_path(task.file.file_path)
                if path is None:
                    local = None
                    break
                local.append(path)
                relations.stats.files += 1
                relations.stats.bytes += task.file.file_size_in_bytes
        if local is not None:
            if not local:
                arrow = schema.as_arrow().empty_table()
                name = self.query.session.register_arrow(arrow)
                return self.query.session.view(f"SELECT * FROM {quote_ident(name)}")
            paths = "[" + ", ".join(sql_string(p) for p in local) + "]"
            present: set[str] = set()
            for path in local:
                present.update(self.query.schemas.columns(self.query.session, "parquet", path))
            arrow_types = schema.as_arrow()
            columns = ", ".join(quote_ident(n) if n.lower() in present else
                                f"CAST(NULL AS {_duck_type(arrow_types.field(n).type)}) AS {quote_ident(n)}"
                                for n in names)
            return self.query.session.view(f"SELECT {columns} FROM read_parquet({paths}, union_by_name = true)")
        arrow = scan.to_arrow()
        relations.stats.bytes += sum(task.file.file_size_in_bytes for task in tasks)
        name = self.query.session.register_arrow(arrow)
        return self.query.session.view(f"SELECT * FROM {quote_ident(name)}")

    def _local_path(self, uri: str) -> str | None:
        from lakestack.services.athena.lake import split_uri

        bucket, key = split_uri(uri)
        if not self.query.stack.authorizer.is_allowed(self.query.principal, "s3:GetObject",
                                                      f"arn:aws:s3:::{bucket}/{key}", {}):
            raise QueryError("PERMISSION_DENIED", f"Access denied when reading {uri}")
        try:
            found = self.query.lake.s3.local_paths(self.query.principal.account_id, bucket, key)
        except Exception:  # noqa: BLE001 - fall back to pyiceberg's own reader
            return None
        return found.get(key)

    def metadata_view(self, table: dict, kind: str) -> str:
        iceberg = self.load(table)
        inspect = iceberg.inspect
        arrow = {"snapshots": inspect.snapshots, "files": inspect.files, "history": inspect.history,
                 "manifests": inspect.manifests, "partitions": inspect.partitions, "refs": inspect.refs}[kind]()
        arrow = _without_empty_structs(arrow)
        name = self.query.session.register_arrow(arrow)
        return self.query.session.view(f"SELECT * FROM {quote_ident(name)}")

    # -- DDL ---------------------------------------------------------------------------------

    def create_table(self, database: str, tree: exp.Create, table_input: dict) -> None:
        import pyarrow as pa

        if self.query.glue.database(database) is None:
            raise QueryError("SCHEMA_NOT_FOUND", f"Database does not exist: {database}", DDL_ERROR)
        name = table_input["Name"]
        if self.query.glue.table(database, name) is not None:
            if tree.args.get("exists"):
                return
            raise QueryError("TABLE_ALREADY_EXISTS", f"Table {database}.{name} already exists", DDL_ERROR)
        columns = table_input["StorageDescriptor"]["Columns"] + (table_input.get("PartitionKeys") or [])
        location = table_input["StorageDescriptor"].get("Location")
        if not location:
            raise QueryError("INVALID_TABLE_PROPERTY", "Iceberg tables need a LOCATION", DDL_ERROR)
        schema = pa.schema([pa.field(c["Name"], _arrow_type(c["Type"])) for c in columns])
        partitioned = [c["Name"] for c in table_input.get("PartitionKeys") or []]
        properties = {k: v for k, v in (table_input.get("Parameters") or {}).items()
                      if k not in ("table_type", "EXTERNAL")}
        self._create(database, name, schema, location.rstrip("/"), partitioned, properties)

    def _create(self, database: str, name: str, schema, location: str, partitioned: list[str], properties: dict):
        properties = {"format-version": "2", "write.format.default": "parquet", **properties}
        try:
            table = self.catalog.create_table((database, name), schema=schema, location=location,
                                              properties=properties)
            if partitioned:
                with table.update_spec() as update:
                    for column in partitioned:
                        update.add_identity(column)
            return table
        except QueryError:
            raise
        except Exception as error:  # noqa: BLE001
            raise _fail(f"Cannot create Iceberg table {database}.{name}: {error}") from None

    def alter(self, table: dict, tree: exp.Alter) -> Outcome:
        iceberg = self.load(table)
        actions = tree.args.get("actions") or []
        if actions and all(isinstance(a, exp.AlterSet) for a in actions):
            properties = {}
            for action in actions:
                for item in action.args.get("expressions") or []:
                    for prop in (item.expressions if isinstance(item, exp.Properties) else [item]):
                        properties[prop.this.name] = prop.args["value"].name
            with iceberg.transaction() as transaction:
                transaction.set_properties(**properties)
            return Outcome("DDL", "ALTER_TABLE_SET_TBLPROPERTIES", "text")
        with iceberg.update_schema() as update:
            for action in actions:
                defs = action.expressions if isinstance(action, exp.Schema) else [action]
                if not all(isinstance(d, exp.ColumnDef) for d in defs):
                    raise QueryError("NOT_SUPPORTED", "Only ADD COLUMNS is supported on Iceberg tables", DDL_ERROR)
                for column in ddl_columns(defs):
                    update.add_column(column["Name"], _iceberg_type(column["Type"]))
        return Outcome("DDL", "ALTER_TABLE_ADD_COLUMNS", "text")

    # -- writes ------------------------------------------------------------------------------

    def _arrow_of(self, sql: str, tree: exp.Expression | None = None):
        result = self.query.run_sql(sql, tree)
        return result.to_arrow_table()

    def _conform(self, arrow, iceberg):
        """Arrow data in the table's schema (names and types), columns by position."""
        target = iceberg.schema().as_arrow()
        if arrow.num_columns != len(target):
            raise QueryError("TYPE_MISMATCH", f"Insert query has mismatched column types: Table has {len(target)} "
                                              f"columns but the query has {arrow.num_columns}")
        arrow = arrow.rename_columns(target.names)
        try:
            return arrow.cast(target)
        except Exception as error:  # noqa: BLE001
            raise QueryError("TYPE_MISMATCH", f"Insert query has mismatched column types: {error}") from None

    def ctas(self, database: str, name: str, select: exp.Expression, options, no_data: bool) -> Outcome:
        translation = self.query.translate_query(select)
        sql = translation.sql + (" LIMIT 0" if no_data else "")
        names, types = self.query.describe(sql, select)
        storage = ", ".join(f"{_storage(quote_ident(n), t)} AS {quote_ident(n.lower())}"
                            for n, t in zip(names, types, strict=True))
        arrow = self._arrow_of(f"SELECT {storage} FROM ({sql}) AS __c", select)
        location = (options.location or options.other.get("location") or
                    f"{self.query.output_location.rstrip('/')}/tables/{self.query.execution_id}").rstrip("/")
        table = self._create(database, name, arrow.schema, location, options.partitioned_by, {})
        if arrow.num_rows:
            table.append(self._conform(arrow, table))
        return Outcome("DML", "CREATE_TABLE_AS_SELECT", "none", update_count=arrow.num_rows)

    def insert(self, table: dict, source: exp.Expression, listed: list[str]) -> Outcome:
        iceberg = self.load(table)
        translation = self.query.translate_query(source)
        names, types = self.query.describe(translation.sql, source)
        target = [f.name for f in iceberg.schema().fields]
        if listed:
            by_name = dict(zip(listed, range(len(names)), strict=False))
            selects = [f"__s.{quote_ident(f'c{by_name[n]}')}" if n in by_name else "NULL" for n in target]
            aliases = ", ".join(quote_ident(f"c{i}") for i in range(len(names)))
            sql = f"SELECT {', '.join(selects)} FROM ({translation.sql}) AS __s({aliases})"
        else:
            sql = translation.sql
        arrow = self._arrow_of(sql, source)
        self.query.check()
        if arrow.num_rows:
            iceberg.append(self._conform(arrow, iceberg))
        return Outcome("DML", "INSERT", "none", update_count=arrow.num_rows)

    def dml(self, tree: exp.Expression) -> Outcome:
        """UPDATE, DELETE, MERGE INTO: run in DuckDB on the current rows, commit the result."""
        target = tree.this
        if not isinstance(target, exp.Table):
            raise QueryError("NOT_SUPPORTED", "line 1:1: Unsupported DML target")
        database, name = self.query.qualify(target.catalog or None, target.db or None, target.name)
        table = self.query.require_table(database, name)
        if not self.is_iceberg(table):
            kind = type(tree).__name__.upper()
            raise QueryError("NOT_SUPPORTED", f"Modifying Hive table rows is not supported: {kind} needs an Iceberg "
                                              "table")
        iceberg = self.load(table)
        current = self._scan_view(iceberg, None)
        session = self.query.session
        session.execute(f"CREATE TEMP TABLE {TARGET} AS SELECT * FROM {quote_ident(current)}")
        tree = tree.copy()
        alias = target.args.get("alias")
        replacement = exp.Table(this=exp.to_identifier(TARGET))
        replacement.set("alias", alias if alias is not None else exp.TableAlias(this=exp.to_identifier(name)))
        tree.this.replace(replacement)
        statement = self.query.translator().rewrite(tree).sql("duckdb")
        changed = self.query.run_sql(statement, tree).fetchone()
        count = int(changed[0]) if changed else 0
        self.query.check()
        arrow = session.execute(f"SELECT * FROM {TARGET}").to_arrow_table()
        iceberg.overwrite(self._conform(arrow, iceberg))
        kind = {"Update": "UPDATE", "Delete": "DELETE", "Merge": "MERGE"}[type(tree).__name__]
        return Outcome("DML", kind, "none", update_count=count)

    def _table_from(self, text: str) -> dict:
        database, name = _table_name(self.query, text)
        table = self.query.require_table(database, name)
        if not self.is_iceberg(table):
            raise QueryError("NOT_SUPPORTED", f"{database}.{name} is not an Iceberg table")
        return table

    def optimize(self, sql: str) -> Outcome:
        match = _OPTIMIZE.match(sql)
        if not match:
            raise QueryError("SYNTAX_ERROR", "line 1:1: mismatched input. Expecting: OPTIMIZE <table> REWRITE DATA "
                                             "USING BIN_PACK [WHERE …]")
        iceberg = self.load(self._table_from(match.group(1)))
        current = self._scan_view(iceberg, None)
        arrow = self.query.session.execute(f"SELECT * FROM {quote_ident(current)}").to_arrow_table()
        if arrow.num_rows:
            iceberg.overwrite(self._conform(arrow, iceberg), snapshot_properties={"lakestack.operation": "optimize"})
        return Outcome("DDL", "OPTIMIZE", "text")

    def vacuum(self, sql: str) -> Outcome:
        match = _VACUUM.match(sql)
        if not match:
            raise QueryError("SYNTAX_ERROR", "line 1:1: mismatched input. Expecting: VACUUM <table>")
        iceberg = self.load(self._table_from(match.group(1)))
        properties = iceberg.properties
        max_age = int(properties.get("vacuum_max_snapshot_age_seconds", 432000))
        keep = max(1, int(properties.get("vacuum_min_snapshots_to_keep", 1)))
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=max_age)
        snapshots = sorted(iceberg.snapshots(), key=lambda s: s.timestamp_ms)
        protected = {s.snapshot_id for s in snapshots[-keep:]}
        current = iceberg.current_snapshot()
        if current is not None:
            protected.add(current.snapshot_id)
        expired = [s.snapshot_id for s in snapshots if s.snapshot_id not in protected
                   and s.timestamp_ms < cutoff.timestamp() * 1000]
        if expired:
            iceberg.maintenance.expire_snapshots().by_ids(expired).commit()
        return Outcome("DDL", "VACUUM", "text")


def _without_empty_structs(arrow):
    """DuckDB cannot hold a struct without fields (pyiceberg reports an unpartitioned
    table's partition that way): such columns are dropped."""
    import pyarrow as pa

    keep = [i for i, f in enumerate(arrow.schema) if not (pa.types.is_struct(f.type) and f.type.num_fields == 0)]
    return arrow.select(keep)


def _duck_type(arrow_type) -> str:
    import duckdb
    import pyarrow as pa

    empty = pa.table({"x": pa.array([], type=arrow_type)})
    return str(duckdb.from_arrow(empty).types[0])


def _storage(expr: str, t) -> str:
    kind = t.id
    if kind in ("hugeint", "uhugeint", "ubigint", "uinteger"):
        return f"CAST({expr} AS BIGINT)"
    if kind == "timestamp with time zone":
        return f"CAST({expr} AS TIMESTAMP)"
    if kind in ("timestamp_ns", "timestamp_s", "timestamp_ms"):
        return f"CAST({expr} AS TIMESTAMP)"
    return expr


def _arrow_type(hive: str):
    import duckdb

    duck = hive_to_duckdb(parse_hive_type(hive))
    return duckdb.sql(f"SELECT CAST(NULL AS {duck}) AS x").to_arrow_table().schema.field("x").type


def _iceberg_type(hive: str):
    from pyiceberg import types as t

    simple = {"int": t.IntegerType(), "bigint": t.LongType(), "string": t.StringType(), "double": t.DoubleType(),
              "float": t.FloatType(), "boolean": t.BooleanType(), "date": t.DateType(),
              "timestamp": t.TimestampType(), "binary": t.BinaryType()}
    parsed = parse_hive_type(hive)
    if parsed.name in simple:
        return simple[parsed.name]
    if parsed.name == "decimal":
        return t.DecimalType(*parsed.params)
    if parsed.name in ("varchar", "char"):
        return t.StringType()
    raise QueryError("NOT_SUPPORTED", f"Adding a column of type {hive} to an Iceberg table is not supported",
                     DDL_ERROR)

