"""Trino SQL (Athena engine v3) → DuckDB SQL.

sqlglot parses with its Athena dialect (Trino for queries, Hive for most DDL) and generates
DuckDB SQL; before generating, `Translator` rewrites what sqlglot leaves with Trino's
syntax but DuckDB's meaning — each rewrite below names the difference it corrects, and most
call a macro from runtime.py. Table references are handed to a resolver (the Athena service
maps them through the Glue catalog to files), so this module knows nothing about catalogs.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from lakestack.engines.sql import joda
from lakestack.engines.sql.errors import QueryError, position_of

# sqlglot logs a warning for every statement it keeps as a raw Command; we classify those.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

READ = "athena"
WRITE = "duckdb"


def parse(sql: str) -> exp.Expression:
    """One Athena statement as a sqlglot tree; a syntax error as Athena reports it. Trees are
    cached by text (dashboards repeat their queries); callers get their own copy."""
    text = sql.strip().rstrip(";").strip()
    cached = _PARSED.get(text)
    if cached is not None:
        return cached.copy()
    tree = _parse(text)
    with _PARSED_LOCK:
        if len(_PARSED) >= 512:
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[text] = tree
    return tree.copy()


_PARSED: dict[str, exp.Expression] = {}
_PARSED_LOCK = threading.Lock()


_STATEMENTS = ("ALTER", "ANALYZE", "CALL", "COMMIT", "CREATE", "DEALLOCATE", "DELETE", "DESC", "DESCRIBE", "DROP",
               "EXECUTE", "EXPLAIN", "GRANT", "INSERT", "MERGE", "MSCK", "OPTIMIZE", "PREPARE", "RESET", "REVOKE",
               "ROLLBACK", "SELECT", "SET", "SHOW", "START", "TABLE", "UNLOAD", "UPDATE", "USE", "VACUUM", "VALUES",
               "WITH")


def _parse(text: str) -> exp.Expression:
    first = re.match(r"\s*\(*\s*([A-Za-z_]\w*)", text)
    if first and first.group(1).upper() not in _STATEMENTS:
        raise QueryError("SYNTAX_ERROR", f"line 1:{first.start(1) + 1}: mismatched input '{first.group(1)}'. "
                                         f"Expecting: {', '.join(repr(s) for s in _STATEMENTS)}")
    if not text:
        raise QueryError("SYNTAX_ERROR", "line 1:1: mismatched input '<EOF>'. Expecting: query")
    try:
        trees = [t for t in sqlglot.parse(text, read=READ) if t is not None]
    except ParseError as error:
        raise syntax_error(error, text) from None
    except TokenError as error:
        raise QueryError("SYNTAX_ERROR", f"line 1:1: {error}") from None
    if len(trees) != 1:
        raise QueryError("SYNTAX_ERROR", "line 1:1: Only one sql statement is allowed. Got: " + str(len(trees)))
    return trees[0]


def syntax_error(error: ParseError, text: str) -> QueryError:
    detail = error.errors[0] if error.errors else {}
    line, col = detail.get("line") or 1, detail.get("col") or 1
    token = (detail.get("highlight") or "").strip()
    if token:
        col = max(1, col - len(token) + 1)
    else:
        token = "<EOF>"
    description = detail.get("description") or "syntax error"
    if description.startswith("Invalid expression / Unexpected token"):
        description = "Expecting: an expression, a keyword or a clause that can follow here"
    return QueryError("SYNTAX_ERROR", f"line {line}:{col}: mismatched input '{token}'. {description}")


@dataclass
class TableRef:
    """A table named in a query, as written (catalog and database may be None)."""

    catalog: str | None
    database: str | None
    name: str
    version: exp.Expression | None  # FOR VERSION/TIMESTAMP AS OF (Iceberg time travel)
    line: int
    col: int
    node: exp.Table | None = None

    @property
    def predicates(self) -> list[exp.Expression]:
        """WHERE conjuncts of the enclosing query that can only be about this table (for
        partition pruning), as written: not yet translated. Computed on demand."""
        return _predicates_for(self.node) if self.node is not None else []

    @property
    def position(self) -> str:
        return f"line {self.line}:{self.col}"


# Given a table reference, the resolver answers the name of a relation (a temporary view it
# created in the session) to read instead.
Resolver = Callable[[TableRef], str]


@dataclass
class Translation:
    sql: str
    # Output columns whose Trino type DuckDB cannot carry, by position: a timestamp with a
    # time zone other than UTC keeps its zone only in how it is shown.
    zones: dict[int, str] = field(default_factory=dict)


_INTEGER_TYPES = {exp.DataType.Type.INT, exp.DataType.Type.BIGINT, exp.DataType.Type.SMALLINT,
                  exp.DataType.Type.TINYINT}
_TIMESTAMP_TYPES = {exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.TIMESTAMPLTZ,
                    exp.DataType.Type.TIME}
_INTERVAL_UNITS = {"MILLISECOND": ("MILLISECOND", 1), "SECOND": ("SECOND", 1), "MINUTE": ("MINUTE", 1),
                   "HOUR": ("HOUR", 1), "DAY": ("DAY", 1), "WEEK": ("DAY", 7), "MONTH": ("MONTH", 1),
                   "QUARTER": ("MONTH", 3), "YEAR": ("YEAR", 1)}


def _fn(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=[a for a in args if a is not None])


def _literal_text(node: exp.Expression | None) -> str | None:
    return node.this if isinstance(node, exp.Literal) and node.is_string else None


def _unit_name(node) -> str:
    if node is None:
        return "DAY"
    text = node.name if isinstance(node, exp.Expression) else str(node)
    return text.strip("'\"").upper()


class Translator:
    """Rewrites one statement tree; `parameters` fill `?` placeholders in order."""

    def __init__(self, resolve: Resolver | None = None, parameters: list[exp.Expression] | None = None):
        self.resolve = resolve
        self.parameters = list(parameters or [])

    # -- entry points ---------------------------------------------------------------------

    def query(self, tree: exp.Expression, name_outputs: bool = True, copy: bool = True) -> Translation:
        """A SELECT (or VALUES / set operation) as DuckDB SQL. With copy=False the given
        tree is rewritten in place (callers that own it save a copy)."""
        tree = self.rewrite(tree, copy=copy)
        zones: dict[int, str] = {}
        if name_outputs:
            zones = _name_outputs(tree)
        return Translation(tree.sql(WRITE), zones)

    def rewrite(self, tree: exp.Expression, copy: bool = True) -> exp.Expression:
        if copy:
            tree = tree.copy()
        tree = self._bind_parameters(tree)
        self._resolve_tables(tree)
        return _bottom_up(tree, self._rewrite_node)

    def expression(self, node: exp.Expression) -> str:
        return self.rewrite(node).sql(WRITE)

    # -- parameters -------------------------------------------------------------------------

    def _bind_parameters(self, tree: exp.Expression) -> exp.Expression:
        placeholders = [p for p in tree.find_all(exp.Placeholder, bfs=False) if not p.this]
        if not placeholders:
            return tree
        if len(placeholders) != len(self.parameters):
            raise QueryError("INVALID_PARAMETER_USAGE",
                             f"line 1:1: Incorrect number of parameters: expected {len(placeholders)} "
                             f"but found {len(self.parameters)}")
        by_id = {id(p): value for p, value in zip(placeholders, self.parameters, strict=True)}
        return tree.transform(lambda n: by_id[id(n)].copy() if id(n) in by_id else n, copy=False)

    # -- tables -----------------------------------------------------------------------------

    def _resolve_tables(self, tree: exp.Expression) -> None:
        if self.resolve is None:
            return
        ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
        qualified: dict[tuple[str, str], str] = {}
        for table in list(tree.find_all(exp.Table)):
            if not table.name or isinstance(table.this, exp.Func | exp.Unnest):
                continue
            if not table.args.get("db") and table.name.lower() in ctes:
                continue
            line, col = position_of(table.args.get("catalog") or table.args.get("db") or table.this)
            ref = TableRef(table.catalog or None, table.db or None, table.name, table.args.get("version"), line, col,
                           table)
            view = self.resolve(ref)
            alias = table.args.get("alias")
            replacement = exp.Table(this=exp.to_identifier(view, quoted=True))
            if alias is not None:
                replacement.set("alias", alias)
            else:
                replacement.set("alias", exp.TableAlias(this=exp.to_identifier(table.name, quoted=True)))
                if table.db:
                    qualified[(table.db.lower(), table.name.lower())] = table.name
            table.replace(replacement)
        if qualified:
            # db.table.column (as SQLAlchemy writes) refers to the table by its alias now.
            for column in tree.find_all(exp.Column):
                key = ((column.args.get("db") and column.db or "").lower(), column.table.lower())
                if key in qualified:
                    column.set("db", None)
                    column.set("catalog", None)
                    column.set("table", exp.to_identifier(qualified[key], quoted=True))

    # -- expressions ----------------------------------------------------------------------

    def _rewrite_node(self, node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Anonymous):
            rewrite = _ANONYMOUS.get(node.name.lower())
            if rewrite is not None:
                return rewrite(node, list(node.expressions))
            return node
        if isinstance(node, exp.Func):
            rewrite = _ANONYMOUS.get(node.sql_name().lower())
            if rewrite is not None:
                return rewrite(node, _call_args(node))
        handler = _HANDLERS.get(type(node))
        if handler is not None:
            return handler(node)
        return node


def _bottom_up(tree: exp.Expression, fun) -> exp.Expression:
    """Apply `fun` to every node, children before parents, so each rewrite sees rewritten
    arguments (sqlglot's own transform is top-down and skips the insides of replacements)."""
    for node in reversed(list(tree.dfs())):
        new = fun(node)
        if new is not node:
            if node is tree:
                tree = new
            else:
                node.replace(new)
    return tree


def _call_args(node: exp.Func) -> list[exp.Expression]:
    args: list[exp.Expression] = []
    for key in node.arg_types:
        value = node.args.get(key)
        if isinstance(value, list):
            args.extend(value)
        elif isinstance(value, exp.Expression):
            args.append(value)
    return args


def _predicates_for(table: exp.Table) -> list[exp.Expression]:
    select = table.find_ancestor(exp.Select)
    if select is None or select.args.get("where") is None:
        return []
    own = {table.alias_or_name.lower(), table.name.lower()}
    conjuncts: list[exp.Expression] = []

    def split(node: exp.Expression) -> None:
        if isinstance(node, exp.And):
            split(node.this)
            split(node.expression)
        elif isinstance(node, exp.Paren):
            split(node.this)
        else:
            conjuncts.append(node)

    split(select.args["where"].this)
    out = []
    for conjunct in conjuncts:
        qualifiers = {c.table.lower() for c in conjunct.find_all(exp.Column) if c.table}
        if qualifiers and not qualifiers <= own:
            continue
        out.append(conjunct.copy())
    return out


# --- rewrites, by sqlglot expression class -------------------------------------------------------


def _div(node: exp.Div) -> exp.Expression:
    return _fn("trino_div", node.this, node.expression)


def _mod(node: exp.Mod) -> exp.Expression:
    return _fn("trino_mod", node.this, node.expression)


def _cast(node: exp.Cast) -> exp.Expression:
    to: exp.DataType = node.to
    if to.this in _INTEGER_TYPES and not (isinstance(node.this, exp.Literal) and node.this.is_string):
        # Trino rounds half away from zero when casting a double to an integer.
        node.set("this", _fn("trino_round_for_cast", node.this))
    elif to.this == exp.DataType.Type.DECIMAL and not to.expressions:
        # A bare DECIMAL is decimal(38,0) in Trino; a DECIMAL '1.20' literal takes its digits.
        text = _literal_text(node.this)
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
        text = _literal_text(node.this)
        if text is not None:
            # Trino accepts `2012-10-31 01:00 UTC`; DuckDB wants the seconds.
            fixed = re.sub(r"^(\s*\d{4}-\d{1,2}-\d{1,2}[ T]\d{1,2}:\d{2})(?=\s|$|[+-]|[A-Za-z])", r"\1:00", text)
            if fixed != text:
                node.set("this", exp.Literal.string(fixed))
    return node


def _array_distinct(node) -> exp.Expression:
    return _fn("trino_array_distinct", node.this)


def _regexp_replace(node: exp.RegexpReplace) -> exp.Expression:
    replacement = node.args.get("replacement")
    text = _literal_text(replacement)
    if text is not None:
        # Trino (Java) refers to groups as $1 and escapes a dollar as \$; RE2 uses \1.
        converted = re.sub(r"\\\$|\$(\d+)|\$\{(\w+)\}|\\",
                           lambda m: "$" if m.group(0) == "\\$" else ("\\\\" if m.group(0) == "\\" else
                                                                       "\\" + (m.group(1) or m.group(2))), text)
        node.set("replacement", exp.Literal.string(converted))
    elif replacement is not None:
        node.set("replacement", _fn("regexp_replace", replacement, exp.Literal.string(r"\$(\d)"),
                                    exp.Literal.string(r"\\\1"), exp.Literal.string("g")))
    node.set("modifiers", exp.Literal.string("g"))
    return node


def _regexp_extract(node: exp.RegexpExtract) -> exp.Expression:
    group = node.args.get("group")
    if group is not None:
        return _fn("trino_regexp_extract_group", node.this, node.expression, group)
    return _fn("trino_regexp_extract", node.this, node.expression)


def _interval_for(unit: str, amount: exp.Expression) -> exp.Expression:
    base, factor = _INTERVAL_UNITS.get(unit, (unit, 1))
    if factor != 1:
        amount = exp.Mul(this=exp.Paren(this=amount), expression=exp.Literal.number(factor))
    return exp.Interval(this=exp.Paren(this=amount), unit=exp.var(base))


def _date_add(node: exp.DateAdd) -> exp.Expression:
    unit = _unit_name(node.args.get("unit"))
    return _fn("trino_date_plus", node.this, _interval_for(unit, node.expression))


def _date_diff(node: exp.DateDiff) -> exp.Expression:
    # Trino counts whole units elapsed (DuckDB's date_sub), not boundaries crossed (date_diff).
    unit = _unit_name(node.args.get("unit"))
    return _fn("date_sub", exp.Literal.string(unit.lower()), node.expression, node.this)


def _date_trunc(node) -> exp.Expression:
    unit = _unit_name(node.args.get("unit"))
    return _fn("trino_date_trunc", exp.Literal.string(unit.lower()), node.this)


def _plus_interval(node: exp.Add | exp.Sub) -> exp.Expression:
    left, right = node.this, node.expression
    left_interval, right_interval = isinstance(left, exp.Interval), isinstance(right, exp.Interval)
    if left_interval == right_interval:
        return node
    if isinstance(node, exp.Sub):
        if left_interval:
            return node
        return _fn("trino_date_plus", left, exp.Neg(this=exp.Paren(this=right)))
    if left_interval:
        left, right = right, left
    return _fn("trino_date_plus", left, right)


def _parse_datetime(node) -> exp.Expression:
    text = _literal_text(node.args.get("format") or node.expression)
    if text is None:
        return node
    pattern = joda.to_strftime(text, parsing=True)
    parsed = _fn("strptime", node.this, exp.Literal.string(pattern))
    if "%z" in pattern or "%Z" in pattern:
        return parsed
    # Trino's parse_datetime answers a timestamp with time zone (the session zone, UTC).
    return _fn("timezone", exp.Literal.string("UTC"), parsed)


def _unix_to_time(node: exp.UnixToTime) -> exp.Expression:
    zone = node.args.get("zone")
    if zone is not None:
        return _fn("trino_from_unixtime_zone", node.this, zone)
    return _fn("to_timestamp", node.this)


def _at_time_zone(node: exp.AtTimeZone) -> exp.Expression:
    return _fn("trino_at_timezone", node.this, node.args.get("zone"))


def _array_slice(node: exp.ArraySlice) -> exp.Expression:
    return _fn("trino_slice", node.this, node.args.get("start"), node.args.get("end"))


def _generate_series(node: exp.GenerateSeries) -> exp.Expression:
    step = node.args.get("step")
    if step is not None:
        return _fn("trino_sequence_step", node.args.get("start"), node.args.get("end"), step)
    return _fn("trino_sequence", node.args.get("start"), node.args.get("end"))


def _split(node: exp.Split) -> exp.Expression:
    limit = node.args.get("limit")
    if limit is not None:
        return _fn("trino_split_limit", node.this, node.expression, limit)
    return _fn("string_split", node.this, node.expression)


def _reduce(node: exp.Reduce) -> exp.Expression:
    merge: exp.Lambda = node.args["merge"]
    reduced = _fn("list_reduce", node.this, merge, node.args["initial"])
    finish = node.args.get("finish")
    if isinstance(finish, exp.Lambda) and finish.expressions:
        return _substitute(finish.this, {finish.expressions[0].name: reduced})
    return reduced


def _typeof(node: exp.Typeof) -> exp.Expression:
    return _fn("trino_typeof", _fn("typeof", node.this))


def _approx_quantile(node: exp.ApproxQuantile) -> exp.Expression:
    # Exact quantiles: the same answer every run, which small data sets deserve.
    return _fn("quantile_disc", node.this, node.args.get("quantile"))


def _json_extract_scalar(node: exp.JSONExtractScalar) -> exp.Expression:
    return _fn("trino_json_extract_scalar", node.this, _json_path(node.expression))


def _json_extract(node: exp.JSONExtract) -> exp.Expression:
    return _fn("json_extract", exp.Cast(this=node.this, to=exp.DataType.build("JSON")), _json_path(node.expression))


def _json_path(path: exp.Expression) -> exp.Expression:
    if isinstance(path, exp.JSONPath):
        return exp.Literal.string(path.sql(READ).strip("'"))
    return path


def _simple(name: str):
    return lambda node: _fn(name, *[a for a in (node.this, node.args.get("expression")) if a is not None])


def _concat_pipe(node: exp.DPipe) -> exp.Expression:
    # ARRAY[1] || 2 appends an element in Trino; DuckDB's || only joins two lists.
    left, right = node.this, node.expression
    if isinstance(left, exp.Array) and _is_scalar_literal(right):
        return _fn("list_append", left, right)
    if isinstance(right, exp.Array) and _is_scalar_literal(left):
        return _fn("list_prepend", left, right)
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
        return _fn("cardinality", node.this)
    if kind == "array":
        return _fn("len", node.this)
    # Unknown shape: count the elements of its JSON form, which exists for both.
    return _fn("trino_cardinality", node.this)


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
            source = _fn("map_entries", source)
        selects.append(_fn("unnest", source, exp.PropertyEQ(this=exp.to_identifier("recursive"),
                                                             expression=exp.true())))
    else:
        selects.extend(_fn("unnest", a) for a in args)
    names = [c.name for c in columns]
    if ordinality:
        selects.append(exp.Window(this=_fn("row_number"), partition_by=None, order=None))
    inner = exp.select(*selects)
    alias_node = exp.TableAlias(this=alias.this.copy() if alias is not None and alias.this else exp.to_identifier("_u"),
                                columns=[exp.to_identifier(n) for n in names])
    return exp.Subquery(this=inner, alias=alias_node)


_HANDLERS: dict[type, Callable[[exp.Expression], exp.Expression]] = {
    exp.DPipe: _concat_pipe,
    exp.Unnest: _unnest,
    exp.WidthBucket: lambda n: _fn("trino_width_bucket", n.this, n.args.get("min_value"), n.args.get("max_value"),
                                   n.args.get("num_buckets")),
    exp.Cbrt: lambda n: _fn("trino_cbrt", n.this),
    exp.ArrayExcept: lambda n: _fn("trino_array_except", n.this, n.expression),
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
    exp.ArrayPosition: lambda n: _fn("trino_array_position", n.this, n.expression),
    exp.ArrayIntersect: lambda n: _fn("trino_array_intersect", *n.expressions) if n.expressions else _fn(
        "trino_array_intersect", n.this, n.expression),
    exp.ArraySize: _cardinality,
    exp.ArrayFirst: _simple("trino_array_first"),
    exp.ArrayLast: _simple("trino_array_last"),
    exp.Repeat: lambda n: _fn("trino_repeat", n.this, n.args.get("times")),
    exp.Reverse: _simple("trino_reverse"),
    exp.SplitPart: lambda n: _fn("trino_split_part", n.this, n.args.get("delimiter"), n.args.get("part_index")),
    exp.MapFromEntries: _simple("trino_map_from_entries"),
}


# --- rewrites of functions sqlglot does not model, by Trino name ---------------------------------


def _lambda_parts(fn: exp.Expression) -> tuple[list[str], exp.Expression]:
    if not isinstance(fn, exp.Lambda):
        raise QueryError("FUNCTION_NOT_FOUND", "line 1:1: Expected a lambda expression")
    return [p.name for p in fn.expressions], fn.this


def _substitute(body: exp.Expression, names: dict[str, exp.Expression]) -> exp.Expression:
    """Replace a lambda's parameters in its body (sqlglot keeps them as bare identifiers)."""
    def swap(n: exp.Expression) -> exp.Expression:
        if isinstance(n, exp.Column) and not n.table and n.name in names:
            return names[n.name].copy()
        if isinstance(n, exp.Identifier) and n.name in names and not isinstance(
                n.parent, exp.Column | exp.Dot | exp.Lambda | exp.PropertyEQ | exp.Alias | exp.TableAlias):
            return names[n.name].copy()
        return n

    body = body.copy()
    if isinstance(body, exp.Identifier) and body.name in names:
        return names[body.name].copy()
    return _bottom_up(body, swap)


def _entry_lambda(fn: exp.Expression, key: str, value: str, var: str = "__e") -> tuple[exp.Expression, exp.Lambda]:
    params, body = _lambda_parts(fn)
    entry = exp.column(var)
    mapping = {}
    if params:
        mapping[params[0]] = exp.Dot(this=entry.copy(), expression=exp.to_identifier(key))
    if len(params) > 1:
        mapping[params[1]] = exp.Dot(this=entry.copy(), expression=exp.to_identifier(value))
    new_body = _substitute(body, mapping)
    return new_body, exp.Lambda(this=new_body, expressions=[exp.to_identifier(var)])


def _map_filter(node, args):
    _, predicate = _entry_lambda(args[1], "key", "value")
    return _fn("map_from_entries", _fn("list_filter", _fn("map_entries", args[0]), predicate))


def _transform_values(node, args):
    body, _ = _entry_lambda(args[1], "key", "value")
    entry = exp.column("__e")
    pack = _fn("struct_pack", exp.PropertyEQ(this=exp.to_identifier("k"), expression=exp.Dot(
        this=entry.copy(), expression=exp.to_identifier("key"))),
        exp.PropertyEQ(this=exp.to_identifier("v"), expression=body))
    return _fn("map_from_entries", _fn("list_transform", _fn("map_entries", args[0]),
                                       exp.Lambda(this=pack, expressions=[exp.to_identifier("__e")])))


def _transform_keys(node, args):
    body, _ = _entry_lambda(args[1], "key", "value")
    entry = exp.column("__e")
    pack = _fn("struct_pack", exp.PropertyEQ(this=exp.to_identifier("k"), expression=body),
               exp.PropertyEQ(this=exp.to_identifier("v"), expression=exp.Dot(
                   this=entry.copy(), expression=exp.to_identifier("value"))))
    return _fn("map_from_entries", _fn("list_transform", _fn("map_entries", args[0]),
                                       exp.Lambda(this=pack, expressions=[exp.to_identifier("__e")])))


def _match(kind: str):
    def rewrite(node, args):
        return _fn(f"trino_{kind}", _fn("list_transform", args[0], args[1]))

    return rewrite


def _zip_with(node, args):
    params, body = _lambda_parts(args[2])
    index = exp.column("__i")
    mapping = {params[0]: exp.Bracket(this=args[0].copy(), expressions=[index.copy()]),
               params[1]: exp.Bracket(this=args[1].copy(), expressions=[index.copy()])}
    new_body = _substitute(body, mapping)
    length = exp.Greatest(this=_fn("len", args[0].copy()), expressions=[_fn("len", args[1].copy())])
    return _fn("list_transform", _fn("range", exp.Literal.number(1), exp.Add(this=length, expression=exp.Literal.number(1))),
               exp.Lambda(this=new_body, expressions=[exp.to_identifier("__i")]))


def _zip(node, args):
    index = exp.column("__i")
    fields = [exp.PropertyEQ(this=exp.to_identifier(f"_{i}"), expression=exp.Bracket(
        this=a.copy(), expressions=[index.copy()])) for i, a in enumerate(args)]
    lengths = [_fn("len", a.copy()) for a in args]
    length = exp.Greatest(this=lengths[0], expressions=lengths[1:]) if len(lengths) > 1 else lengths[0]
    return _fn("list_transform", _fn("range", exp.Literal.number(1), exp.Add(this=length, expression=exp.Literal.number(1))),
               exp.Lambda(this=_fn("struct_pack", *fields), expressions=[exp.to_identifier("__i")]))


def _format_datetime(node, args):
    text = _literal_text(args[1]) if len(args) > 1 else None
    if text is None:
        raise QueryError("NOT_SUPPORTED", "line 1:1: format_datetime needs a constant format")
    try:
        pattern = joda.to_strftime(text)
    except ValueError as error:
        raise QueryError("INVALID_FUNCTION_ARGUMENT", f"line 1:1: {error}") from None
    return _fn("strftime", args[0], exp.Literal.string(pattern))


def _map_concat(node, args):
    result = args[0]
    for other in args[1:]:
        result = _fn("trino_map_concat", result, other)
    return result


def _rename(name: str):
    return lambda node, args: _fn(name, *args)


def _constant(sql: str):
    return lambda node, args: sqlglot.parse_one(sql, read=WRITE)


_ANONYMOUS: dict[str, Callable] = {
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
    _ANONYMOUS[name.lower()] = rewrite


# --- output names ------------------------------------------------------------------------------


def _outermost_selects(tree: exp.Expression) -> list[exp.Select]:
    node = tree
    while isinstance(node, exp.Subquery):
        node = node.this
    if isinstance(node, exp.Select):
        return [node]
    if isinstance(node, exp.SetOperation):
        return _outermost_selects(node.this)
    return []


def _name_outputs(tree: exp.Expression) -> dict[int, str]:
    """Name result columns as Trino does: an unnamed expression is `_colN`, column names and
    unquoted aliases are lower case. Returns the zone of columns computed with AT TIME ZONE."""
    zones: dict[int, str] = {}
    for select in _outermost_selects(tree):
        projections = list(select.expressions)
        for index, item in enumerate(projections):
            if isinstance(item, exp.Star) or (isinstance(item, exp.Column) and isinstance(item.this, exp.Star)):
                continue
            if isinstance(item, exp.Alias):
                ident = item.args["alias"]
                if not ident.quoted:
                    item.set("alias", exp.to_identifier(ident.name.lower(), quoted=True))
                inner = item.this
            else:
                inner = item
                if isinstance(item, exp.Column):
                    if item.name == item.name.lower():
                        continue  # DuckDB names it alike; an alias would shadow a missing column
                    name = item.name.lower()
                elif isinstance(item, exp.Dot):
                    name = item.name.lower()
                else:
                    name = f"_col{index}"
                item.replace(exp.alias_(item.copy(), exp.to_identifier(name, quoted=True)))
            if isinstance(inner, exp.Anonymous) and inner.name == "trino_at_timezone":
                zone = _literal_text(inner.expressions[1]) if len(inner.expressions) > 1 else None
                if zone:
                    zones[index] = zone
    return zones


# Geospatial names register themselves here (imported last: it imports `register`).
from lakestack.engines.sql import geospatial  # noqa: E402,F401
