"""A catalog table as a DuckDB relation: its files, read in place, in the table's format.

The relation has exactly the table's columns (data columns, then partition columns), in
catalog order and with the catalog's types, as Athena reads them:
- Parquet, ORC, Avro: columns matched by name (case-insensitive), absent ones NULL;
- text (LazySimpleSerDe, OpenCSVSerDe): fields by position, `skip.header.line.count`;
- JSON (JsonSerDe): keys by name.
Partitions come from the catalog, or from partition projection; both are pruned with the
query's predicates on partition columns before any file is listed.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from dataclasses import dataclass, field

from sqlglot import exp

from lakestack.engines.sql.errors import DATA_ERROR, QueryError
from lakestack.engines.sql.translate import Translator
from lakestack.engines.sql.types import hive_to_duckdb, parse_hive_type, quote_ident
from lakestack.services.athena import projection
from lakestack.services.athena.lake import Lake, LakeFile, as_folder

log = logging.getLogger("lakestack.athena")

HIVE_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"


def sql_string(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def sql_list(items: list[str]) -> str:
    return "[" + ", ".join(sql_string(i) for i in items) + "]"


@dataclass
class Column:
    name: str
    hive: str
    duck: str


@dataclass
class ScanStats:
    bytes: int = 0
    files: int = 0
    partitions: int = 0


@dataclass
class TableShape:
    columns: list[Column]
    partition_keys: list[Column]
    location: str
    kind: str  # parquet, orc, avro, text, csv, json
    serde: dict = field(default_factory=dict)
    parameters: dict = field(default_factory=dict)


def columns_of(entries: list[dict] | None) -> list[Column]:
    out = []
    for entry in entries or []:
        hive = entry.get("Type") or "string"
        try:
            duck = hive_to_duckdb(parse_hive_type(hive))
        except ValueError:
            raise QueryError("HIVE_INVALID_METADATA", f"Unsupported column type '{hive}' for column "
                                                      f"'{entry.get('Name')}'") from None
        out.append(Column(entry["Name"].lower(), hive, duck))
    return out


def table_format(table: dict) -> str:
    descriptor = table.get("StorageDescriptor") or {}
    input_format = (descriptor.get("InputFormat") or "").lower()
    serde = ((descriptor.get("SerdeInfo") or {}).get("SerializationLibrary") or "").lower()
    classification = ((table.get("Parameters") or {}).get("classification") or "").lower()
    if "parquet" in input_format or "parquet" in serde or classification == "parquet":
        return "parquet"
    if "orc" in input_format or "orc" in serde or classification == "orc":
        return "orc"
    if "avro" in input_format or "avro" in serde or classification == "avro":
        return "avro"
    if "json" in serde or classification == "json":
        return "json"
    if "opencsv" in serde:
        return "csv"
    if "regex" in serde or "grok" in serde:
        raise QueryError("NOT_SUPPORTED", f"SerDe {serde} is not supported by lakestack")
    return "text"


def shape_of(table: dict) -> TableShape:
    descriptor = table.get("StorageDescriptor") or {}
    location = descriptor.get("Location") or ""
    if not location:
        raise QueryError("HIVE_METASTORE_ERROR", f"Table {table.get('Name')} has no location")
    serde_info = descriptor.get("SerdeInfo") or {}
    return TableShape(columns_of(descriptor.get("Columns")), columns_of(table.get("PartitionKeys")), location,
                      table_format(table), dict(serde_info.get("Parameters") or {}),
                      dict(table.get("Parameters") or {}))


class SchemaCache:
    """DuckDB column names and types of Parquet files, by (path, size, mtime), at most
    `limit` files. The files of a table mostly share one schema: entries share it too, so
    an entry costs its key, not a copy of the columns. Callers must not change what they get."""

    def __init__(self, limit: int = 20000):
        self._entries: dict[tuple, dict[str, tuple[str, str]]] = {}
        self._shared: dict[tuple, dict[str, tuple[str, str]]] = {}  # DESCRIBE rows → their schema
        self._lock = threading.Lock()
        self.limit = limit

    def columns(self, session, kind: str, path: str) -> dict[str, tuple[str, str]]:
        stat = os.stat(path)
        key = (path, stat.st_size, stat.st_mtime_ns, kind)
        with self._lock:
            found = self._entries.get(key)
        if found is not None:
            return found
        reader = {"parquet": "read_parquet", "avro": "read_avro"}[kind]
        rows = session.execute(f"DESCRIBE SELECT * FROM {reader}({sql_string(path)})").fetchall()
        described = tuple((name, kind_) for name, kind_, *_ in rows)
        with self._lock:
            if len(self._entries) >= self.limit:
                self._entries.clear()
                self._shared.clear()
            found = self._shared.get(described)
            if found is None:
                found = self._shared[described] = {name.lower(): (name, kind_) for name, kind_ in described}
            self._entries[key] = found
        return found


class Relations:
    """Builds the relations of one query (one session), adding up what they scan."""

    def __init__(self, session, lake: Lake, schemas: SchemaCache):
        self.session = session
        self.lake = lake
        self.schemas = schemas
        self.stats = ScanStats()

    # -- partitions -----------------------------------------------------------------------

    def prune(self, keys: list[Column], candidates: list[tuple[tuple, str]],
              predicates: list[exp.Expression]) -> list[tuple[tuple, str]]:
        """Candidates (partition values, location) that the predicates may keep."""
        usable = _partition_predicates(predicates, {k.name for k in keys})
        if not usable or not candidates:
            return candidates
        translator = Translator()
        try:
            condition = " AND ".join(translator.expression(p) for p in usable)
            rows = ", ".join(
                "(" + ", ".join([str(i)] + [_typed_value(v, k) for v, k in zip(values, keys, strict=True)]) + ")"
                for i, (values, _) in enumerate(candidates))
            names = ", ".join(["__i"] + [quote_ident(k.name) for k in keys])
            kept = self.session.execute(f"SELECT __i FROM (VALUES {rows}) AS __p({names}) WHERE {condition}").fetchall()
        except Exception as error:  # noqa: BLE001 - pruning is an optimisation; the filter still applies
            log.debug("partition pruning skipped: %s", error)
            return candidates
        keep = {row[0] for row in kept}
        return [c for i, c in enumerate(candidates) if i in keep]

    def catalog_partitions(self, partitions: list[dict], keys: list[Column],
                           predicates: list[exp.Expression]) -> list[tuple[tuple, str]]:
        candidates = []
        for partition in partitions:
            values = tuple(partition.get("Values") or [])
            location = (partition.get("StorageDescriptor") or {}).get("Location")
            if location and len(values) == len(keys):
                candidates.append((values, location))
        return self.prune(keys, candidates, predicates)

    def projected_partitions(self, table: dict, keys: list[Column],
                             predicates: list[exp.Expression]) -> list[tuple[tuple, str]]:
        parameters = table.get("Parameters") or {}
        usable = _partition_predicates(predicates, {k.name for k in keys})
        per_column: list[list[str]] = []
        for key in keys:
            values = projection.column_values(key.name, parameters)
            if values is None:
                values = _injected_values(key.name, usable)
                if values is None:
                    raise QueryError("HIVE_EXCEEDED_PARTITION_LIMIT",
                                     f"Injected projected partition column {key.name} must have only (and at least "
                                     "one) equality conditions in the WHERE clause")
            # Narrow each column on its own first, so the product stays small.
            single = [(tuple([v]), "") for v in values]
            narrowed = self.prune([key], single, [p for p in usable if _columns(p) == {key.name}])
            per_column.append([v[0] for v, _ in narrowed])
        combos = projection.combinations(per_column)
        candidates = list(zip(combos, projection.locations(table, [k.name for k in keys], combos), strict=True))
        return self.prune(keys, candidates, predicates)

    # -- files ------------------------------------------------------------------------------

    def partition_files(self, base: str, partitions: list[tuple[tuple, str]]) -> list[tuple[tuple, list[LakeFile]]]:
        """Each partition's files. When every partition lies under the table's location the
        location is listed once; otherwise each partition location is listed."""
        base = as_folder(base)
        folders = [as_folder(location) for _, location in partitions]
        if len(partitions) > 1 and all(f.startswith(base) for f in folders):
            by_folder: dict[str, list[LakeFile]] = {f: [] for f in folders}
            for item in self.lake.files(base):
                cut = item.uri.rfind("/")
                while cut > len(base) - 1:
                    bucket = by_folder.get(item.uri[:cut + 1])
                    if bucket is not None:
                        bucket.append(item)
                        break
                    cut = item.uri.rfind("/", 0, cut)
            return [(values, by_folder[f]) for (values, _), f in zip(partitions, folders, strict=True)]
        return [(values, self.lake.files(location)) for values, location in partitions]

    # -- relations ----------------------------------------------------------------------------

    def hive_table(self, table: dict, predicates) -> str:
        """SELECT … over the table's files, its columns typed as the catalog says.
        `predicates` (or a function giving them) are the query's conjuncts for pruning."""
        shape = shape_of(table)
        if not shape.partition_keys:
            files = self.lake.files(shape.location)
            self._count(files)
            return self._read(shape, files, [])
        if callable(predicates):
            predicates = predicates()
        if projection.enabled(shape.parameters):
            partitions = self.projected_partitions(table, shape.partition_keys, predicates)
        else:
            partitions = self.catalog_partitions(self._partitions(table), shape.partition_keys, predicates)
        self.stats.partitions += len(partitions)
        parts = []
        for values, files in self.partition_files(shape.location, partitions):
            if not files:
                continue
            self._count(files)
            parts.append(self._read(shape, files, list(values)))
        if not parts:
            return self._empty(shape)
        return " UNION ALL ".join(parts)

    def _partitions(self, table: dict) -> list[dict]:
        fetch = table.get("__partitions__")
        return fetch() if callable(fetch) else []

    def _count(self, files: list[LakeFile]) -> None:
        self.stats.files += len(files)
        self.stats.bytes += sum(f.size for f in files)

    def _empty(self, shape: TableShape) -> str:
        cols = [f"CAST(NULL AS {c.duck}) AS {quote_ident(c.name)}" for c in shape.columns + shape.partition_keys]
        return f"SELECT {', '.join(cols)} WHERE false"

    def _partition_values(self, shape: TableShape, values: list[str]) -> list[str]:
        out = []
        for key, value in zip(shape.partition_keys, values, strict=True):
            out.append(f"{_typed_value(value, key)} AS {quote_ident(key.name)}")
        return out

    def _read(self, shape: TableShape, files: list[LakeFile], values: list[str]) -> str:
        if not files:
            return self._empty(shape)
        if shape.kind in ("parquet", "avro"):
            data = self._read_columnar(shape, files)
        elif shape.kind == "orc":
            data = self._read_orc(shape, files)
        elif shape.kind == "json":
            data = self._read_json(shape, files)
        else:
            data = self._read_text(shape, files)
        partition = self._partition_values(shape, values)
        if not partition:
            return data
        return f"SELECT *, {', '.join(partition)} FROM ({data})"

    def _read_columnar(self, shape: TableShape, files: list[LakeFile]) -> str:
        schemas = [self.schemas.columns(self.session, shape.kind, f.path) for f in files]
        union: dict[str, tuple[str, str]] = {}
        for schema in schemas:
            for lower, found in schema.items():
                union.setdefault(lower, found)
        uneven = any(set(s) != set(schemas[0]) for s in schemas[1:])
        selects = []
        for column in shape.columns:
            found = union.get(column.name)
            if found is None:
                selects.append(f"CAST(NULL AS {column.duck}) AS {quote_ident(column.name)}")
            elif found[1] == column.duck:
                selects.append(f"{quote_ident(found[0])} AS {quote_ident(column.name)}")
            else:
                selects.append(f"CAST({quote_ident(found[0])} AS {column.duck}) AS {quote_ident(column.name)}")
        paths = sql_string(files[0].path) if len(files) == 1 else sql_list([f.path for f in files])
        options = ", union_by_name = true" if uneven else ""
        if shape.kind == "avro":
            source = f"read_avro({paths}{options})"
        else:
            # Strings written without the UTF8 annotation arrive as BLOB; read them as text
            # only when the table wants text there (the option costs a little on every scan).
            blob_as_text = any(found[1] == "BLOB" and column.duck == "VARCHAR" for column in shape.columns
                               if (found := union.get(column.name)) is not None)
            if blob_as_text and not _has_binary(shape):
                options += ", binary_as_string = true"
            source = f"read_parquet({paths}{options})"
        return f"SELECT {', '.join(selects) or '1 AS __empty'} FROM {source}"

    def _read_orc(self, shape: TableShape, files: list[LakeFile]) -> str:
        import pyarrow as pa
        import pyarrow.orc as orc

        tables = []
        for item in files:
            table = orc.read_table(item.path)
            tables.append(table.rename_columns([c.lower() for c in table.column_names]))
        arrow = pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]
        name = self.session.register_arrow(arrow)
        present = set(arrow.column_names)
        selects = [(f"CAST({quote_ident(c.name)} AS {c.duck})" if c.name in present else f"CAST(NULL AS {c.duck})")
                   + f" AS {quote_ident(c.name)}" for c in shape.columns]
        return f"SELECT {', '.join(selects)} FROM {quote_ident(name)}"

    def _read_json(self, shape: TableShape, files: list[LakeFile]) -> str:
        columns = "{" + ", ".join(f"{sql_string(c.name)}: {sql_string(c.duck)}" for c in shape.columns) + "}"
        ignore = str(shape.serde.get("ignore.malformed.json", "false")).lower() == "true"
        source = (f"read_json({sql_list([f.path for f in files])}, format = 'newline_delimited', columns = {columns}, "
                  f"ignore_errors = {'true' if ignore else 'false'})")
        return f"SELECT {', '.join(quote_ident(c.name) for c in shape.columns)} FROM {source}"

    def _read_text(self, shape: TableShape, files: list[LakeFile]) -> str:
        serde, parameters = shape.serde, shape.parameters
        if shape.kind == "csv":  # OpenCSVSerde: quoted fields, every column read as text
            delimiter = serde.get("separatorChar", ",")
            quote = serde.get("quoteChar", '"')
            # opencsv also reads a doubled quote as a literal quote; DuckDB reads one escape
            # character, so the RFC 4180 doubling wins over the default backslash.
            escape = serde.get("escapeChar", "\\")
            if escape == "\\":
                escape = quote
            null = None
        else:  # LazySimpleSerDe: split on the delimiter, no quoting
            delimiter = serde.get("field.delim") or serde.get("serialization.format") or "\x01"
            if delimiter.isdigit() and len(delimiter) <= 3 and serde.get("field.delim") is None:
                delimiter = chr(int(delimiter))  # serialization.format '1' means \001
            quote, escape = "", ""
            null = serde.get("serialization.null.format", "\\N")
        skip = int(parameters.get("skip.header.line.count", 0) or 0)
        names = [f"c{i}" for i in range(len(shape.columns))]
        columns = "{" + ", ".join(f"{sql_string(n)}: 'VARCHAR'" for n in names) + "}"
        options = [f"columns = {columns}", "auto_detect = false", "header = false", f"delim = {sql_string(delimiter)}",
                   f"quote = {sql_string(quote)}", f"escape = {sql_string(escape)}", "null_padding = true",
                   "strict_mode = false", f"skip = {skip}", "all_varchar = true"]
        if null is not None:
            options.append(f"nullstr = {sql_string(null)}")
        source = f"read_csv({sql_list([f.path for f in files])}, {', '.join(options)})"
        collection = serde.get("collection.delim", serde.get("colelction.delim", "\x02"))
        map_keys = serde.get("mapkey.delim", "\x03")
        selects = [f"{_text_value(quote_ident(n), c, collection, map_keys)} AS {quote_ident(c.name)}"
                   for n, c in zip(names, shape.columns, strict=True)]
        return f"SELECT {', '.join(selects)} FROM {source}"


def _has_binary(shape: TableShape) -> bool:
    return any(c.duck == "BLOB" for c in shape.columns)


def _text_value(expr: str, column: Column, collection: str, map_keys: str) -> str:
    """A text field as the column's type; what does not parse is NULL, as Hive reads it."""
    hive = parse_hive_type(column.hive)
    if hive.name in ("string", "varchar", "char"):
        return expr
    if hive.name == "array":
        element = hive_to_duckdb(hive.children[0])
        return (f"CASE WHEN {expr} = '' THEN [] ELSE list_transform(string_split({expr}, {sql_string(collection)}), "
                f"__x -> TRY_CAST(__x AS {element})) END")
    if hive.name == "map":
        key, value = hive_to_duckdb(hive.children[0]), hive_to_duckdb(hive.children[1])
        return (f"map_from_entries(list_transform(string_split({expr}, {sql_string(collection)}), __x -> "
                f"struct_pack(k := TRY_CAST(split_part(__x, {sql_string(map_keys)}, 1) AS {key}), "
                f"v := TRY_CAST(split_part(__x, {sql_string(map_keys)}, 2) AS {value}))))")
    if hive.name == "boolean":
        return f"TRY_CAST(lower(trim({expr})) AS BOOLEAN)"
    if hive.name in ("int", "bigint", "smallint", "tinyint", "double", "float", "decimal"):
        return f"TRY_CAST(trim({expr}) AS {column.duck})"
    return f"TRY_CAST({expr} AS {column.duck})"


def _typed_value(value: str | None, key: Column) -> str:
    if value is None or value == HIVE_NULL_PARTITION:
        return f"CAST(NULL AS {key.duck})"
    if key.duck == "VARCHAR":
        return sql_string(value)
    return f"TRY_CAST({sql_string(value)} AS {key.duck})"


def _columns(node: exp.Expression) -> set[str]:
    return {c.name.lower() for c in node.find_all(exp.Column)}


def _partition_predicates(predicates: list[exp.Expression], keys: set[str]) -> list[exp.Expression]:
    """Conjuncts that only read partition columns (qualifiers dropped)."""
    out = []
    for predicate in predicates:
        names = _columns(predicate)
        if not names or not names <= keys:
            continue
        if any(isinstance(n, exp.Subquery | exp.Select | exp.AggFunc | exp.Window) for n in predicate.walk()):
            continue
        out.append(predicate.transform(lambda n: exp.column(n.name) if isinstance(n, exp.Column) else n))
    return out


def _injected_values(name: str, predicates: list[exp.Expression]) -> list[str] | None:
    for predicate in predicates:
        if isinstance(predicate, exp.EQ):
            for col, val in ((predicate.this, predicate.expression), (predicate.expression, predicate.this)):
                if isinstance(col, exp.Column) and col.name.lower() == name and isinstance(val, exp.Literal):
                    return [val.this]
        if isinstance(predicate, exp.In) and isinstance(predicate.this, exp.Column) \
                and predicate.this.name.lower() == name:
            literals = [e for e in predicate.expressions if isinstance(e, exp.Literal)]
            if literals and len(literals) == len(predicate.expressions):
                return [e.this for e in literals]
    return None


def where_conjuncts(select: exp.Expression | None) -> list[exp.Expression]:
    if select is None:
        return []
    where = select.args.get("where")
    if where is None:
        return []
    out: list[exp.Expression] = []

    def split(node: exp.Expression) -> None:
        if isinstance(node, exp.And):
            split(node.this)
            split(node.expression)
        elif isinstance(node, exp.Paren):
            split(node.this)
        else:
            out.append(node)

    split(where.this)
    return out


def presto_view_sql(table: dict) -> tuple[str, str | None]:
    """The SQL of a catalog view and the database it was defined in."""
    original = table.get("ViewOriginalText") or ""
    marker = "/* Presto View: "
    if original.startswith(marker):
        payload = original[len(marker):].rsplit("*/", 1)[0].strip()
        try:
            view = json.loads(base64.b64decode(payload))
        except (ValueError, TypeError):
            raise QueryError("HIVE_INVALID_VIEW_DATA", f"Invalid view definition of {table.get('Name')}",
                             DATA_ERROR) from None
        return view.get("originalSql", ""), view.get("schema")
    return (table.get("ViewExpandedText") or original), table.get("DatabaseName")


def presto_view_text(sql: str, catalog: str, schema: str, columns: list[tuple[str, str]]) -> str:
    payload = {"originalSql": sql, "catalog": catalog, "schema": schema,
               "columns": [{"name": n, "type": t} for n, t in columns], "owner": "lakestack", "runAsInvoker": False}
    encoded = base64.b64encode(json.dumps(payload).encode()).decode()
    return f"/* Presto View: {encoded} */"
