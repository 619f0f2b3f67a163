"""Rewrites by Trino function name: mostly functions sqlglot does not model (it keeps them as
anonymous calls) that DuckDB lacks or names differently; a modelled function is looked up here
by its SQL name first. Other modules add theirs with `register` (geospatial.py)."""

from __future__ import annotations

from collections.abc import Callable

import sqlglot
from sqlglot import exp

from lakestack.engines.sql import joda
from lakestack.engines.sql.errors import QueryError
from lakestack.engines.sql.parsing import WRITE
from lakestack.engines.sql.trees import call, lambda_parts, literal_text, substitute


def _entry_lambda(fn: exp.Expression, key: str, value: str, var: str = "__e") -> tuple[exp.Expression, exp.Lambda]:
    params, body = lambda_parts(fn)
    entry = exp.column(var)
    mapping = {}
    if params:
        mapping[params[0]] = exp.Dot(this=entry.copy(), expression=exp.to_identifier(key))
    if len(params) > 1:
        mapping[params[1]] = exp.Dot(this=entry.copy(), expression=exp.to_identifier(value))
    new_body = substitute(body, mapping)
    return new_body, exp.Lambda(this=new_body, expressions=[exp.to_identifier(var)])


def _map_filter(node, args):
    _, predicate = _entry_lambda(args[1], "key", "value")
    return call("map_from_entries", call("list_filter", call("map_entries", args[0]), predicate))


def _transform_values(node, args):
    body, _ = _entry_lambda(args[1], "key", "value")
    entry = exp.column("__e")
    pack = call("struct_pack", exp.PropertyEQ(this=exp.to_identifier("k"), expression=exp.Dot(
        this=entry.copy(), expression=exp.to_identifier("key"))),
        exp.PropertyEQ(this=exp.to_identifier("v"), expression=body))
    return call("map_from_entries", call("list_transform", call("map_entries", args[0]),
                                       exp.Lambda(this=pack, expressions=[exp.to_identifier("__e")])))


def _transform_keys(node, args):
    body, _ = _entry_lambda(args[1], "key", "value")
    entry = exp.column("__e")
    pack = call("struct_pack", exp.PropertyEQ(this=exp.to_identifier("k"), expression=body),
               exp.PropertyEQ(this=exp.to_identifier("v"), expression=exp.Dot(
                   this=entry.copy(), expression=exp.to_identifier("value"))))
    return call("map_from_entries", call("list_transform", call("map_entries", args[0]),
                                       exp.Lambda(this=pack, expressions=[exp.to_identifier("__e")])))


def _match(kind: str):
    def rewrite(node, args):
        return call(f"trino_{kind}", call("list_transform", args[0], args[1]))

    return rewrite


def _zip_with(node, args):
    params, body = lambda_parts(args[2])
    index = exp.column("__i")
    mapping = {params[0]: exp.Bracket(this=args[0].copy(), expressions=[index.copy()]),
               params[1]: exp.Bracket(this=args[1].copy(), expressions=[index.copy()])}
    new_body = substitute(body, mapping)
    length = exp.Greatest(this=call("len", args[0].copy()), expressions=[call("len", args[1].copy())])
    return call("list_transform", call("range", exp.Literal.number(1), exp.Add(this=length, expression=exp.Literal.number(1))),
               exp.Lambda(this=new_body, expressions=[exp.to_identifier("__i")]))


def _zip(node, args):
    index = exp.column("__i")
    fields = [exp.PropertyEQ(this=exp.to_identifier(f"_{i}"), expression=exp.Bracket(
        this=a.copy(), expressions=[index.copy()])) for i, a in enumerate(args)]
    lengths = [call("len", a.copy()) for a in args]
    length = exp.Greatest(this=lengths[0], expressions=lengths[1:]) if len(lengths) > 1 else lengths[0]
    return call("list_transform", call("range", exp.Literal.number(1), exp.Add(this=length, expression=exp.Literal.number(1))),
               exp.Lambda(this=call("struct_pack", *fields), expressions=[exp.to_identifier("__i")]))


def _format_datetime(node, args):
    text = literal_text(args[1]) if len(args) > 1 else None
    if text is None:
        raise QueryError("NOT_SUPPORTED", "line 1:1: format_datetime needs a constant format")
    try:
        pattern = joda.to_strftime(text)
    except ValueError as error:
        raise QueryError("INVALID_FUNCTION_ARGUMENT", f"line 1:1: {error}") from None
    return call("strftime", args[0], exp.Literal.string(pattern))


def _map_concat(node, args):
    result = args[0]
    for other in args[1:]:
        result = call("trino_map_concat", result, other)
    return result


def _rename(name: str):
    return lambda node, args: call(name, *args)


def _constant(sql: str):
    return lambda node, args: sqlglot.parse_one(sql, read=WRITE)


REWRITES_BY_NAME: dict[str, Callable] = {
    "format_datetime": _format_datetime,
    "map_filter": _map_filter,
    "transform_values": _transform_values,
    "transform_keys": _transform_keys,
    "any_match": _match("any_match"),
    "all_match": _match("all_match"),
    "none_match": _match("none_match"),
    "zip_with": _zip_with,
    "zip": _zip,
    "map_concat": _map_concat,
    "map_entries": _rename("trino_map_entries"),
    "map_agg": _rename("trino_map_agg"),
    "array_union": _rename("trino_array_union"),
    "arrays_overlap": _rename("trino_arrays_overlap"),
    "array_join": _rename("trino_array_join"),
    "ngrams": _rename("trino_ngrams"),
    "trim_array": _rename("trino_trim_array"),
    "millisecond": _rename("trino_millisecond"),
    "to_iso8601": _rename("trino_to_iso8601"),
    "to_milliseconds": _rename("trino_to_milliseconds"),
    "at_timezone": _rename("trino_at_timezone"),
    "with_timezone": _rename("trino_with_timezone"),
    "parse_duration": _rename("trino_parse_duration"),
    "human_readable_seconds": _rename("trino_human_readable_seconds"),
    "codepoint": _rename("trino_codepoint"),
    "regexp_count": _rename("trino_regexp_count"),
    "regexp_position": _rename("trino_regexp_position"),
    "regexp_split": _rename("regexp_split_to_array"),
    "url_extract_host": _rename("trino_url_extract_host"),
    "url_extract_path": _rename("trino_url_extract_path"),
    "url_extract_protocol": _rename("trino_url_extract_protocol"),
    "url_extract_query": _rename("trino_url_extract_query"),
    "url_extract_parameter": _rename("trino_url_extract_parameter"),
    "json_size": _rename("trino_json_size"),
    "json_array_get": _rename("trino_json_array_get"),
    "json_array_contains": _rename("trino_json_array_contains"),
    "hamming_distance": _rename("hamming"),
    "every": _rename("bool_and"),
    "geometric_mean": _rename("geomean"),
    "is_finite": _rename("isfinite"),
    "is_infinite": _rename("isinf"),
    "great_circle_distance": _rename("trino_great_circle_distance"),
    "e": _constant("2.718281828459045::DOUBLE"),
    "infinity": _constant("'Infinity'::DOUBLE"),
    "nan": _constant("'NaN'::DOUBLE"),
    "current_timezone": _constant("'UTC'"),
}


def register(name: str, rewrite: Callable) -> None:
    """Add a rewrite for a Trino function sqlglot keeps as an anonymous call (geospatial.py)."""
    REWRITES_BY_NAME[name.lower()] = rewrite
