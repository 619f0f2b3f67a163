"""Rewrites by sqlglot expression class: where sqlglot's DuckDB output keeps Trino's syntax
but would take DuckDB's meaning. Each names the difference it corrects; most call a macro
from runtime.py."""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlglot import exp

from lakestack.engines.sql import joda
from lakestack.engines.sql.parsing import READ
from lakestack.engines.sql.trees import call, literal_text, substitute

_INTEGER_TYPES = {exp.DataType.Type.INT, exp.DataType.Type.BIGINT, exp.DataType.Type.SMALLINT,
                  exp.DataType.Type.TINYINT}
_TIMESTAMP_TYPES = {exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.TIMESTAMPLTZ,
                    exp.DataType.Type.TIME}
_INTERVAL_UNITS = {"MILLISECOND": ("MILLISECOND", 1), "SECOND": ("SECOND", 1), "MINUTE": ("MINUTE", 1),
                   "HOUR": ("HOUR", 1), "DAY": ("DAY", 1), "WEEK": ("DAY", 7), "MONTH": ("MONTH", 1),
                   "QUARTER": ("MONTH", 3), "YEAR": ("YEAR", 1)}


def _unit_name(node) -> str:
    if node is None:
        return "DAY"
    text = node.name if isinstance(node, exp.Expression) else str(node)
    return text.strip("'\"").upper()


def _div(node: exp.Div) -> exp.Expression:
    return call("trino_div", node.this, node.expression)


def _mod(node: exp.Mod) -> exp.Expression:
    return call("trino_mod", node.this, node.expression)


def _cast(node: exp.Cast) -> exp.Expression:
    to: exp.DataType = node.to
    if to.this in _INTEGER_TYPES and not (isinstance(node.this, exp.Literal) and node.this.is_string):
        # Trino rounds half away from zero when casting a double to an integer.
        node.set("this", call("trino_round_for_cast", node.this))
    elif to.this == exp.DataType.Type.DECIMAL and not to.expressions:
        # A bare DECIMAL is decimal(38,0) in Trino; a DECIMAL '1.20' literal takes its digits.
        text = literal_text(node.this)
        precision, scale = 38, 0
        if text is not None and re.fullmatch(r"\s*[+-]?\d*\.?\d*\s*", text):
            digits = text.strip().lstrip("+-")
            whole, _, fraction = digits.partition(".")
            scale = len(fraction)
            precision = max(1, len(whole.lstrip("0")) + scale)
        node.set("to", exp.DataType.build(f"DECIMAL({precision},{scale})"))
    elif to.this in _TIMESTAMP_TYPES:
        if to.expressions:
            # DuckDB reads TIMESTAMP(0) as a seconds-precision type; Trino's precision only
            # matters for display, which types.render_sql fixes at milliseconds.
            node.set("to", exp.DataType.build(to.this.value))
        text = literal_text(node.this)
        if text is not None:
            # Trino accepts `2012-10-31 01:00 UTC`; DuckDB wants the seconds.
            fixed = re.sub(r"^(\s*\d{4}-\d{1,2}-\d{1,2}[ T]\d{1,2}:\d{2})(?=\s|$|[+-]|[A-Za-z])", r"\1:00", text)
            if fixed != text:
                node.set("this", exp.Literal.string(fixed))
    return node


def _array_distinct(node) -> exp.Expression:
    return call("trino_array_distinct", node.this)


def _regexp_replace(node: exp.RegexpReplace) -> exp.Expression:
    replacement = node.args.get("replacement")
    text = literal_text(replacement)
    if text is not None:
        # Trino (Java) refers to groups as $1 and escapes a dollar as \$; RE2 uses \1.
        converted = re.sub(r"\\\$|\$(\d+)|\$\{(\w+)\}|\\",
                           lambda m: "$" if m.group(0) == "\\$" else ("\\\\" if m.group(0) == "\\" else
                                                                       "\\" + (m.group(1) or m.group(2))), text)
        node.set("replacement", exp.Literal.string(converted))
    elif replacement is not None:
        node.set("replacement", call("regexp_replace", replacement, exp.Literal.string(r"\$(\d)"),
                                    exp.Literal.string(r"\\\1"), exp.Literal.string("g")))
    node.set("modifiers", exp.Literal.string("g"))
    return node


def _regexp_extract(node: exp.RegexpExtract) -> exp.Expression:
    group = node.args.get("group")
    if group is not None:
        return call("trino_regexp_extract_group", node.this, node.expression, group)
    return call("trino_regexp_extract", node.this, node.expression)


def _interval_for(unit: str, amount: exp.Expression) -> exp.Expression:
    base, factor = _INTERVAL_UNITS.get(unit, (unit, 1))
    if factor != 1:
        amount = exp.Mul(this=exp.Paren(this=amount), expression=exp.Literal.number(factor))
    return exp.Interval(this=exp.Paren(this=amount), unit=exp.var(base))


def _date_add(node: exp.DateAdd) -> exp.Expression:
    unit = _unit_name(node.args.get("unit"))
    return call("trino_date_plus", node.this, _interval_for(unit, node.expression))


def _date_diff(node: exp.DateDiff) -> exp.Expression:
    # Trino counts whole units elapsed (DuckDB's date_sub), not boundaries crossed (date_diff).
    unit = _unit_name(node.args.get("unit"))
    return call("date_sub", exp.Literal.string(unit.lower()), node.expression, node.this)


def _date_trunc(node) -> exp.Expression:
    unit = _unit_name(node.args.get("unit"))
    return call("trino_date_trunc", exp.Literal.string(unit.lower()), node.this)


def _plus_interval(node: exp.Add | exp.Sub) -> exp.Expression:
    left, right = node.this, node.expression
    left_interval, right_interval = isinstance(left, exp.Interval), isinstance(right, exp.Interval)
    if left_interval == right_interval:
        return node
    if isinstance(node, exp.Sub):
        if left_interval:
            return node
        return call("trino_date_plus", left, exp.Neg(this=exp.Paren(this=right)))
    if left_interval:
        left, right = right, left
    return call("trino_date_plus", left, right)


def _parse_datetime(node) -> exp.Expression:
    text = literal_text(node.args.get("format") or node.expression)
    if text is None:
        return node
    pattern = joda.to_strftime(text, parsing=True)
    parsed = call("strptime", node.this, exp.Literal.string(pattern))
    if "%z" in pattern or "%Z" in pattern:
        return parsed
    # Trino's parse_datetime answers a timestamp with time zone (the session zone, UTC).
    return call("timezone", exp.Literal.string("UTC"), parsed)


def _unix_to_time(node: exp.UnixToTime) -> exp.Expression:
    zone = node.args.get("zone")
    if zone is not None:
        return call("trino_from_unixtime_zone", node.this, zone)
    return call("to_timestamp", node.this)


def _at_time_zone(node: exp.AtTimeZone) -> exp.Expression:
    return call("trino_at_timezone", node.this, node.args.get("zone"))


def _array_slice(node: exp.ArraySlice) -> exp.Expression:
    return call("trino_slice", node.this, node.args.get("start"), node.args.get("end"))


def _generate_series(node: exp.GenerateSeries) -> exp.Expression:
    step = node.args.get("step")
    if step is not None:
        return call("trino_sequence_step", node.args.get("start"), node.args.get("end"), step)
    return call("trino_sequence", node.args.get("start"), node.args.get("end"))


def _split(node: exp.Split) -> exp.Expression:
    limit = node.args.get("limit")
    if limit is not None:
        return call("trino_split_limit", node.this, node.expression, limit)
    return call("string_split", node.this, node.expression)


def _reduce(node: exp.Reduce) -> exp.Expression:
    merge: exp.Lambda = node.args["merge"]
    reduced = call("list_reduce", node.this, merge, node.args["initial"])
    finish = node.args.get("finish")
    if isinstance(finish, exp.Lambda) and finish.expressions:
        return substitute(finish.this, {finish.expressions[0].name: reduced})
    return reduced


def _typeof(node: exp.Typeof) -> exp.Expression:
    return call("trino_typeof", call("typeof", node.this))


def _approx_quantile(node: exp.ApproxQuantile) -> exp.Expression:
    # Exact quantiles: the same answer every run, which small data sets deserve.
    return call("quantile_disc", node.this, node.args.get("quantile"))


def _json_extract_scalar(node: exp.JSONExtractScalar) -> exp.Expression:
    return call("trino_json_extract_scalar", node.this, _json_path(node.expression))


def _json_extract(node: exp.JSONExtract) -> exp.Expression:
    return call("json_extract", exp.Cast(this=node.this, to=exp.DataType.build("JSON")), _json_path(node.expression))


def _json_path(path: exp.Expression) -> exp.Expression:
    if isinstance(path, exp.JSONPath):
        return exp.Literal.string(path.sql(READ).strip("'"))
    return path


def _simple(name: str):
    return lambda node: call(name, *[a for a in (node.this, node.args.get("expression")) if a is not None])


def _concat_pipe(node: exp.DPipe) -> exp.Expression:
    # ARRAY[1] || 2 appends an element in Trino; DuckDB's || only joins two lists.
    left, right = node.this, node.expression
    if isinstance(left, exp.Array) and _is_scalar_literal(right):
        return call("list_append", left, right)
    if isinstance(right, exp.Array) and _is_scalar_literal(left):
        return call("list_prepend", left, right)
    return node


def _is_scalar_literal(node: exp.Expression) -> bool:
    return isinstance(node, exp.Literal | exp.Neg | exp.Null | exp.Boolean)


_MAP_MAKERS = {"map", "map_from_entries", "trino_map_from_entries", "map_filter", "map_concat", "trino_map_concat",
               "map_from_arrays", "histogram", "trino_map_agg", "map_agg", "transform_values", "transform_keys"}
_ARRAY_MAKERS = {"list_filter", "list_transform", "string_split", "trino_split_limit", "trino_sequence",
                 "regexp_extract_all", "map_keys", "map_values", "trino_array_distinct", "array_agg", "flatten",
                 "trino_slice", "list_append", "list_prepend", "trino_repeat", "list_sort", "trino_map_entries"}


def _kind_of(node: exp.Expression) -> str | None:
    """'map' or 'array' when the expression's shape says so, else None."""
    if isinstance(node, exp.Map | exp.VarMap | exp.MapFromEntries):
        return "map"
    if isinstance(node, exp.Array | exp.ArrayAgg | exp.Split | exp.ArrayFilter | exp.Transform | exp.ArraySort):
        return "array"
    if isinstance(node, exp.Cast):
        return "map" if node.to.this == exp.DataType.Type.MAP else (
            "array" if node.to.this == exp.DataType.Type.ARRAY else None)
    if isinstance(node, exp.Anonymous | exp.Func):
        name = node.name.lower() if isinstance(node, exp.Anonymous) else node.sql_name().lower()
        if name in _MAP_MAKERS:
            return "map"
        if name in _ARRAY_MAKERS:
            return "array"
    return None


def _cardinality(node) -> exp.Expression:
    kind = _kind_of(node.this)
    if kind == "map":
        return call("cardinality", node.this)
    if kind == "array":
        return call("len", node.this)
    # Unknown shape: count the elements of its JSON form, which exists for both.
    return call("trino_cardinality", node.this)


def _unnest(node: exp.Unnest) -> exp.Expression:
    """Trino's UNNEST zips several arrays, and turns a map into (key, value) rows and an
    array of rows into columns; DuckDB's takes one list."""
    args = list(node.expressions)
    alias = node.args.get("alias")
    columns = list(alias.columns) if alias is not None else []
    ordinality = node.args.get("offset")
    if len(args) == 1 and len(columns) <= 1 + bool(ordinality) and _kind_of(args[0]) != "map":
        return node
    selects: list[exp.Expression] = []
    if len(args) == 1:
        source = args[0]
        if _kind_of(source) == "map":
            source = call("map_entries", source)
        selects.append(call("unnest", source, exp.PropertyEQ(this=exp.to_identifier("recursive"),
                                                             expression=exp.true())))
    else:
        selects.extend(call("unnest", a) for a in args)
    names = [c.name for c in columns]
    if ordinality:
        selects.append(exp.Window(this=call("row_number"), partition_by=None, order=None))
    inner = exp.select(*selects)
    alias_node = exp.TableAlias(this=alias.this.copy() if alias is not None and alias.this else exp.to_identifier("_u"),
                                columns=[exp.to_identifier(n) for n in names])
    return exp.Subquery(this=inner, alias=alias_node)


REWRITES_BY_CLASS: dict[type, Callable[[exp.Expression], exp.Expression]] = {
    exp.DPipe: _concat_pipe,
    exp.Unnest: _unnest,
    exp.WidthBucket: lambda n: call("trino_width_bucket", n.this, n.args.get("min_value"), n.args.get("max_value"),
                                   n.args.get("num_buckets")),
    exp.Cbrt: lambda n: call("trino_cbrt", n.this),
    exp.ArrayExcept: lambda n: call("trino_array_except", n.this, n.expression),
    exp.Div: _div,
    exp.Mod: _mod,
    exp.Cast: _cast,
    exp.TryCast: _cast,
    exp.ArrayDistinct: _array_distinct,
    exp.RegexpReplace: _regexp_replace,
    exp.RegexpExtract: _regexp_extract,
    exp.DateAdd: _date_add,
    exp.DateDiff: _date_diff,
    exp.TimestampTrunc: _date_trunc,
    exp.DateTrunc: _date_trunc,
    exp.Add: _plus_interval,
    exp.Sub: _plus_interval,
    exp.ParseDatetime: _parse_datetime,
    exp.UnixToTime: _unix_to_time,
    exp.AtTimeZone: _at_time_zone,
    exp.ArraySlice: _array_slice,
    exp.GenerateSeries: _generate_series,
    exp.Split: _split,
    exp.Reduce: _reduce,
    exp.Typeof: _typeof,
    exp.ApproxQuantile: _approx_quantile,
    exp.JSONExtractScalar: _json_extract_scalar,
    exp.JSONExtract: _json_extract,
    exp.ArrayMax: _simple("trino_array_max"),
    exp.ArrayMin: _simple("trino_array_min"),
    exp.ArrayPosition: lambda n: call("trino_array_position", n.this, n.expression),
    exp.ArrayIntersect: lambda n: call("trino_array_intersect", *n.expressions) if n.expressions else call(
        "trino_array_intersect", n.this, n.expression),
    exp.ArraySize: _cardinality,
    exp.ArrayFirst: _simple("trino_array_first"),
    exp.ArrayLast: _simple("trino_array_last"),
    exp.Repeat: lambda n: call("trino_repeat", n.this, n.args.get("times")),
    exp.Reverse: _simple("trino_reverse"),
    exp.SplitPart: lambda n: call("trino_split_part", n.this, n.args.get("delimiter"), n.args.get("part_index")),
    exp.MapFromEntries: _simple("trino_map_from_entries"),
}
