"""Column types as Glue writes them (Hive type strings), and how schemas merge.

Types are small trees while a crawl works on them: a primitive is its Hive name
("bigint", "decimal(10,2)"), and the complex types are tuples —
("array", element), ("map", key, value), ("struct", ((name, type), …)). NULL stands for
"only nulls seen so far" and becomes string if nothing better turns up.
"""

from __future__ import annotations

import re

NULL = "null"
Type = str | tuple

_RANK = {"tinyint": 1, "smallint": 2, "int": 3, "bigint": 4, "float": 5, "double": 6}
_DECIMAL = re.compile(r"decimal\((\d+),\s*(\d+)\)")
MAX_DECIMAL_PRECISION = 38


def render(t: Type) -> str:
    if isinstance(t, str):
        return "string" if t == NULL else t
    if t[0] == "array":
        return f"array<{render(t[1])}>"
    if t[0] == "map":
        return f"map<{render(t[1])},{render(t[2])}>"
    return "struct<" + ",".join(f"{name}:{render(ft)}" for name, ft in t[1]) + ">"


def _merge_decimal(a: str, b: str) -> str:
    (p1, s1), (p2, s2) = (map(int, _DECIMAL.fullmatch(x).groups()) for x in (a, b))
    scale = max(s1, s2)
    precision = min(MAX_DECIMAL_PRECISION, max(p1 - s1, p2 - s2) + scale)
    return f"decimal({precision},{scale})"


def merge(a: Type, b: Type) -> Type:
    """The narrowest type both values fit: numbers widen, structs union their fields,
    and anything irreconcilable becomes string (which Glue can always read)."""
    if a == b:
        return a
    if a == NULL:
        return b
    if b == NULL:
        return a
    if isinstance(a, str) and isinstance(b, str):
        if a in _RANK and b in _RANK:
            wider = a if _RANK[a] >= _RANK[b] else b
            if {a, b} == {"float", "bigint"} or {a, b} == {"float", "int"}:
                return "double"  # a float cannot hold every integer exactly
            return wider
        a_dec, b_dec = _DECIMAL.fullmatch(a), _DECIMAL.fullmatch(b)
        if a_dec and b_dec:
            return _merge_decimal(a, b)
        if (a_dec and b in ("float", "double")) or (b_dec and a in ("float", "double")):
            return "double"
        if (a_dec and b in _RANK) or (b_dec and a in _RANK):
            dec, integral = (a, b) if a_dec else (b, a)
            return _merge_decimal(dec, "decimal(19,0)" if integral == "bigint" else "decimal(10,0)")
        if {a, b} == {"date", "timestamp"}:
            return "timestamp"
        return "string"
    if isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0]:
        if a[0] == "array":
            return ("array", merge(a[1], b[1]))
        if a[0] == "map":
            return ("map", merge(a[1], b[1]), merge(a[2], b[2]))
        return ("struct", merge_fields(a[1], b[1]))
    return "string"


def merge_fields(a, b) -> tuple:
    """Union of two field lists, keeping the first list's order and appending new fields."""
    merged = {name: t for name, t in a}
    order = [name for name, _ in a]
    for name, t in b:
        if name in merged:
            merged[name] = merge(merged[name], t)
        else:
            merged[name] = t
            order.append(name)
    return tuple((name, merged[name]) for name in order)


def similarity(a, b) -> float:
    """Share of column names two schemas have in common (Jaccard). Glue groups folders
    whose schemas are at least 70% alike into one table."""
    names_a, names_b = {n for n, _ in a}, {n for n, _ in b}
    if not names_a and not names_b:
        return 1.0
    return len(names_a & names_b) / len(names_a | names_b)


SIMILAR = 0.7


def from_arrow(t) -> Type:
    """A pyarrow type as the Hive type Glue records for it."""
    import pyarrow.types as pt

    if pt.is_dictionary(t):
        return from_arrow(t.value_type)
    if pt.is_boolean(t):
        return "boolean"
    if pt.is_int8(t):
        return "tinyint"
    if pt.is_int16(t) or pt.is_uint8(t):
        return "smallint"
    if pt.is_int32(t) or pt.is_uint16(t):
        return "int"
    if pt.is_int64(t) or pt.is_uint32(t) or pt.is_uint64(t):
        return "bigint"
    if pt.is_float16(t) or pt.is_float32(t):
        return "float"
    if pt.is_float64(t):
        return "double"
    if pt.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pt.is_string(t) or pt.is_large_string(t) or getattr(pt, "is_string_view", lambda _: False)(t):
        return "string"
    if pt.is_binary(t) or pt.is_large_binary(t) or pt.is_fixed_size_binary(t):
        return "binary"
    if pt.is_date(t):
        return "date"
    if pt.is_timestamp(t):
        return "timestamp"
    if pt.is_list(t) or pt.is_large_list(t) or pt.is_fixed_size_list(t):
        return ("array", from_arrow(t.value_type))
    if pt.is_map(t):
        return ("map", from_arrow(t.key_type), from_arrow(t.item_type))
    if pt.is_struct(t):
        return ("struct", tuple((t.field(i).name, from_arrow(t.field(i).type)) for i in range(t.num_fields)))
    if pt.is_null(t):
        return NULL
    return "string"  # times, intervals, unions: Hive has no exact match


def from_arrow_schema(schema) -> tuple:
    return tuple((field.name.lower(), from_arrow(field.type)) for field in schema)


def from_python(value) -> Type:
    """The type of a parsed JSON value, with Glue's integer sizing (int, else bigint)."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int" if -(1 << 31) <= value < (1 << 31) else "bigint"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return ("struct", tuple((k, from_python(v)) for k, v in value.items()))
    if isinstance(value, list):
        element: Type = NULL
        for item in value:
            element = merge(element, from_python(item))
        return ("array", element)
    return "string"
