"""Types in the three systems Athena touches, and values rendered the way Athena shows them.

- Hive type strings are what the Glue catalog stores (`string`, `array<struct<a:int>>`,
  `decimal(10,2)`); tables declare their columns with them.
- DuckDB types are what the engine runs with; the Python API hands them over as
  `DuckDBPyType` trees (`.id`, `.children`).
- Trino type names are what Athena reports in `ColumnInfo` and in DESCRIBE (`varchar`,
  `integer`, `row(a integer)`).

Results are rendered to text inside DuckDB (`render_sql`), so the CSV writer and the
paging reader never touch values one by one in Python.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

# --- Hive type strings -----------------------------------------------------------------------


@dataclass
class HiveType:
    """A parsed Hive type: `name` plus parameters (decimal, varchar), element/key/value types,
    or struct fields."""

    name: str
    params: tuple[int, ...] = ()
    children: list[HiveType] = field(default_factory=list)
    fields: list[tuple[str, HiveType]] = field(default_factory=list)

    def __str__(self) -> str:
        if self.name == "array":
            return f"array<{self.children[0]}>"
        if self.name == "map":
            return f"map<{self.children[0]},{self.children[1]}>"
        if self.name == "struct":
            return "struct<" + ",".join(f"{n}:{t}" for n, t in self.fields) + ">"
        if self.params:
            return f"{self.name}({','.join(str(p) for p in self.params)})"
        return self.name


class HiveTypeError(ValueError):
    pass


_TOKEN = re.compile(r"\s*(`(?:[^`]|``)*`|[A-Za-z_][\w $.-]*?(?=\s*[<>(),:]|\s*$)|\d+|[<>(),:])")

_SCALAR_ALIASES = {
    "int": "int", "integer": "int", "bigint": "bigint", "smallint": "smallint", "tinyint": "tinyint",
    "string": "string", "varchar": "varchar", "char": "char", "double": "double", "double precision": "double",
    "float": "float", "real": "float", "boolean": "boolean", "bool": "boolean", "date": "date",
    "timestamp": "timestamp", "binary": "binary", "varbinary": "binary", "decimal": "decimal",
    "numeric": "decimal", "json": "string", "interval": "string", "uuid": "string",
}


def parse_hive_type(text: str) -> HiveType:
    """The parsed type (shared: treat it as read-only)."""
    return _parse_hive_type(text)


@functools.lru_cache(maxsize=4096)
def _parse_hive_type(text: str) -> HiveType:
    tokens = [t for t in _TOKEN.findall(text.strip()) if t]
    if "".join(tokens).replace(" ", "") != re.sub(r"\s+", "", text):
        raise HiveTypeError(f"cannot parse type '{text}'")
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take(expected: str | None = None) -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise HiveTypeError(f"unexpected end of type '{text}'")
        token = tokens[pos]
        if expected is not None and token != expected:
            raise HiveTypeError(f"expected '{expected}' in type '{text}'")
        pos += 1
        return token

    def one() -> HiveType:
        name = take().strip().lower()
        if name in ("array", "map", "struct", "row"):
            closing = ">"
            if peek() == "<":
                take("<")
            else:
                take("(")
                closing = ")"
            if name == "array":
                element = one()
                take(closing)
                return HiveType("array", children=[element])
            if name == "map":
                key = one()
                take(",")
                value = one()
                take(closing)
                return HiveType("map", children=[key, value])
            fields: list[tuple[str, HiveType]] = []
            while True:
                field_name = take().strip()
                if field_name.startswith("`"):
                    field_name = field_name[1:-1].replace("``", "`")
                if peek() == ":":
                    take(":")
                elif " " in field_name:  # Trino's row(a integer, …)
                    field_name, _, type_text = field_name.partition(" ")
                    tokens.insert(pos, type_text)
                fields.append((field_name, one()))
                if peek() == ",":
                    take(",")
                    continue
                take(closing)
                return HiveType("struct", fields=fields)
        canonical = _SCALAR_ALIASES.get(name)
        if canonical is None:
            raise HiveTypeError(f"Unknown type '{name}'")
        params: tuple[int, ...] = ()
        if peek() == "(":
            take("(")
            values = [int(take())]
            while peek() == ",":
                take(",")
                values.append(int(take()))
            take(")")
            params = tuple(values)
        if canonical == "decimal" and not params:
            params = (10, 0)
        return HiveType(canonical, params)

    result = one()
    if pos != len(tokens):
        raise HiveTypeError(f"cannot parse type '{text}'")
    return result


_HIVE_TO_DUCKDB = {
    "int": "INTEGER", "bigint": "BIGINT", "smallint": "SMALLINT", "tinyint": "TINYINT", "string": "VARCHAR",
    "varchar": "VARCHAR", "char": "VARCHAR", "double": "DOUBLE", "float": "FLOAT", "boolean": "BOOLEAN",
    "date": "DATE", "timestamp": "TIMESTAMP", "binary": "BLOB",
}


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def hive_to_duckdb(hive: HiveType | str) -> str:
    """The DuckDB type SQL for a Hive type."""
    if isinstance(hive, str):
        hive = parse_hive_type(hive)
    if hive.name == "array":
        return f"{hive_to_duckdb(hive.children[0])}[]"
    if hive.name == "map":
        return f"MAP({hive_to_duckdb(hive.children[0])}, {hive_to_duckdb(hive.children[1])})"
    if hive.name == "struct":
        return "STRUCT(" + ", ".join(f"{quote_ident(n)} {hive_to_duckdb(t)}" for n, t in hive.fields) + ")"
    if hive.name == "decimal":
        precision, scale = (list(hive.params) + [0])[:2]
        return f"DECIMAL({min(precision, 38)},{scale})"
    return _HIVE_TO_DUCKDB[hive.name]


def hive_to_trino(hive: HiveType | str) -> str:
    """How Athena names a catalog type in DESCRIBE / SHOW COLUMNS output (engine v3)."""
    if isinstance(hive, str):
        hive = parse_hive_type(hive)
    if hive.name == "array":
        return f"array({hive_to_trino(hive.children[0])})"
    if hive.name == "map":
        return f"map({hive_to_trino(hive.children[0])}, {hive_to_trino(hive.children[1])})"
    if hive.name == "struct":
        return "row(" + ", ".join(f"{n} {hive_to_trino(t)}" for n, t in hive.fields) + ")"
    names = {"int": "integer", "string": "varchar", "float": "real", "binary": "varbinary", "timestamp": "timestamp(3)"}
    if hive.params:
        return f"{hive.name}({','.join(str(p) for p in hive.params)})"
    return names.get(hive.name, hive.name)


# --- DuckDB types ------------------------------------------------------------------------------

_INTEGERS = {"tinyint", "smallint", "integer", "bigint", "hugeint", "utinyint", "usmallint", "uinteger",
             "ubigint", "uhugeint"}
_TIMESTAMPS = {"timestamp", "timestamp_ms", "timestamp_ns", "timestamp_s"}


def _children(t) -> list:
    try:
        return list(t.children)
    except Exception:  # scalar types have no children
        return []


def duckdb_to_hive(t) -> str:
    """The Hive type string to register in the catalog for a DuckDB column (CTAS, views)."""
    kind = t.id
    if kind in ("list", "array"):
        return f"array<{duckdb_to_hive(_children(t)[0][1])}>"
    if kind == "map":
        key, value = _children(t)
        return f"map<{duckdb_to_hive(key[1])},{duckdb_to_hive(value[1])}>"
    if kind == "struct":
        return "struct<" + ",".join(f"{name}:{duckdb_to_hive(child)}" for name, child in _children(t)) + ">"
    if kind == "decimal":
        params = dict(_children(t))
        return f"decimal({params['precision']},{params['scale']})"
    return {
        "boolean": "boolean", "tinyint": "tinyint", "smallint": "smallint", "integer": "int", "bigint": "bigint",
        "hugeint": "bigint", "utinyint": "smallint", "usmallint": "int", "uinteger": "bigint", "ubigint": "bigint",
        "uhugeint": "bigint", "float": "float", "double": "double", "varchar": "string", "date": "date",
        "timestamp": "timestamp", "timestamp_ms": "timestamp", "timestamp_ns": "timestamp", "timestamp_s": "timestamp",
        "timestamp with time zone": "timestamp", "blob": "binary",
    }.get(kind, "string")


def storage_sql(expr: str, t) -> str:
    """`expr` cast to a type every reader of Parquet/ORC/JSON understands (CTAS, INSERT,
    UNLOAD): DuckDB-only types become their nearest Hive type."""
    kind = t.id
    if kind in ("hugeint", "uhugeint", "ubigint", "uinteger"):
        return f"CAST({expr} AS BIGINT)"
    if kind == "timestamp with time zone":
        return f"CAST({expr} AS TIMESTAMP)"
    if kind in ("timestamp_ns", "timestamp_s", "timestamp_ms"):
        return f"CAST({expr} AS TIMESTAMP)"
    if kind in ("time", "interval", "uuid", "json") or kind not in _KNOWN_STORAGE and kind not in (
            "list", "array", "map", "struct", "decimal"):
        return render_sql(expr, t)
    return expr


_KNOWN_STORAGE = {"boolean", "tinyint", "smallint", "integer", "bigint", "float", "double", "varchar", "date",
                  "timestamp", "blob", "utinyint", "usmallint"}


@dataclass
class ColumnInfo:
    name: str
    type: str  # Trino type name as Athena reports it
    precision: int = 0
    scale: int = 0
    case_sensitive: bool = False

    def as_api(self) -> dict:
        return {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": self.name, "Label": self.name,
                "Type": self.type, "Precision": self.precision, "Scale": self.scale, "Nullable": "UNKNOWN",
                "CaseSensitive": self.case_sensitive}


# Precision as the Trino JDBC metadata Athena passes on reports it.
_SCALAR_INFO = {
    "boolean": ("boolean", 0), "tinyint": ("tinyint", 3), "smallint": ("smallint", 5), "integer": ("integer", 10),
    "bigint": ("bigint", 19), "hugeint": ("bigint", 19), "uhugeint": ("bigint", 19), "ubigint": ("bigint", 19),
    "uinteger": ("bigint", 19), "usmallint": ("integer", 10), "utinyint": ("smallint", 5), "float": ("real", 9),
    "double": ("double", 17), "date": ("date", 0), "timestamp": ("timestamp", 3), "timestamp_ms": ("timestamp", 3),
    "timestamp_ns": ("timestamp", 3), "timestamp_s": ("timestamp", 3),
    "timestamp with time zone": ("timestamp with time zone", 3), "time": ("time", 3),
    "interval": ("interval day to second", 0), "blob": ("varbinary", 1073741824), "uuid": ("uuid", 0),
    "json": ("json", 0), "geometry": ("varbinary", 1073741824), '"null"': ("unknown", 0), "null": ("unknown", 0),
}


def column_info(name: str, t, override: str | None = None) -> ColumnInfo:
    kind = t.id
    if override:
        return ColumnInfo(name, override, 3 if override.startswith("timestamp") else 0)
    if kind == "varchar":
        return ColumnInfo(name, "varchar", 2147483647, 0, True)
    if kind == "decimal":
        params = dict(_children(t))
        return ColumnInfo(name, "decimal", params["precision"], params["scale"])
    if kind in ("list", "array"):
        return ColumnInfo(name, "array")
    if kind == "map":
        return ColumnInfo(name, "map")
    if kind == "struct":
        return ColumnInfo(name, "row")
    if str(t).upper() == "GEOMETRY":
        return ColumnInfo(name, "varchar", 2147483647, 0, True)
    type_name, precision = _SCALAR_INFO.get(kind, ("varchar", 2147483647))
    return ColumnInfo(name, type_name, precision, 0, type_name == "varchar")


def trino_type_name(t) -> str:
    """Full Trino type of a DuckDB type (typeof(), DESCRIBE of a view, SHOW COLUMNS)."""
    kind = t.id
    if kind in ("list", "array"):
        return f"array({trino_type_name(_children(t)[0][1])})"
    if kind == "map":
        key, value = _children(t)
        return f"map({trino_type_name(key[1])}, {trino_type_name(value[1])})"
    if kind == "struct":
        return "row(" + ", ".join(f"{n} {trino_type_name(c)}" for n, c in _children(t)) + ")"
    if kind == "decimal":
        params = dict(_children(t))
        return f"decimal({params['precision']},{params['scale']})"
    if kind in _TIMESTAMPS:
        return "timestamp(3)"
    if kind == "timestamp with time zone":
        return "timestamp(3) with time zone"
    if kind == "time":
        return "time(3)"
    return column_info("", t).type


# --- rendering values as Athena shows them ------------------------------------------------------


def render_sql(expr: str, t, depth: int = 0) -> str:
    """SQL that renders `expr` (of DuckDB type `t`) as the text Athena would show.

    NULL stays NULL (the CSV writer leaves it unquoted; GetQueryResults omits the value).
    Inside arrays, maps and rows a NULL element shows as `null`.
    """
    kind = t.id
    var = f"__v{depth}"
    if kind == "varchar":
        return expr
    if kind in _INTEGERS or kind in ("boolean", "decimal", "date", "uuid", "json"):
        return f"CAST({expr} AS VARCHAR)"
    if kind in ("float", "double"):
        return f"trino_format_double({expr})"
    if kind in _TIMESTAMPS:
        return f"strftime({expr}, '%Y-%m-%d %H:%M:%S.%g')"
    if kind == "timestamp with time zone":
        return f"strftime({expr}, '%Y-%m-%d %H:%M:%S.%g UTC')"
    if kind == "time":
        return f"strftime(DATE '2000-01-01' + {expr}, '%H:%M:%S.%g')"
    if kind == "interval":
        return f"trino_format_interval({expr})"
    if kind == "blob":
        return f"trino_format_varbinary({expr})"
    if kind in ("list", "array"):
        element = render_sql(var, _children(t)[0][1], depth + 1)
        return (f"CASE WHEN {expr} IS NULL THEN NULL ELSE '[' || array_to_string(list_transform({expr}, "
                f"{var} -> coalesce({element}, 'null')), ', ') || ']' END")
    if kind == "map":
        key_type, value_type = _children(t)[0][1], _children(t)[1][1]
        key = render_sql(f"{var}.key", key_type, depth + 1)
        value = render_sql(f"{var}.value", value_type, depth + 1)
        return (f"CASE WHEN {expr} IS NULL THEN NULL ELSE '{{' || array_to_string(list_transform(map_entries({expr}), "
                f"{var} -> {key} || '=' || coalesce({value}, 'null')), ', ') || '}}' END")
    if kind == "struct":
        parts = []
        for index, (name, child) in enumerate(_children(t)):
            label = _row_field_label(name, index)
            value = render_sql(f"struct_extract({expr}, {_sql_string(name)})", child, depth + 1)
            parts.append(f"{_sql_string(label + '=')} || coalesce({value}, 'null')")
        body = " || ', ' || ".join(parts) if parts else "''"
        return f"CASE WHEN {expr} IS NULL THEN NULL ELSE '{{' || {body} || '}}' END"
    if str(t).upper() == "GEOMETRY":
        return f"ST_AsText({expr})"
    return f"CAST({expr} AS VARCHAR)"


def _row_field_label(name: str, index: int) -> str:
    # Anonymous ROW fields (sqlglot names them _0, _1, …) display as field0, field1, … in Athena.
    if re.fullmatch(r"_\d+", name):
        return f"field{index}"
    return name


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
