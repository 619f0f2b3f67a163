"""Trino SQL (Athena engine v3) → DuckDB SQL.

sqlglot parses with its Athena dialect (Trino for queries, Hive for most DDL) and generates
DuckDB SQL (parsing.py); before generating, `Translator` binds `?` parameters, hands table
references to a resolver (table_references.py), and rewrites what sqlglot leaves with Trino's
syntax but DuckDB's meaning, children before parents: by expression class
(expression_rewrites.py) and by function name (function_rewrites.py). Each rewrite names the
difference it corrects, and most call a macro from runtime.py. Output columns are then named
as Trino names them (output_names.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

# geospatial registers its function rewrites on import.
from lakestack.engines.sql import geospatial  # noqa: F401
from lakestack.engines.sql.errors import QueryError
from lakestack.engines.sql.expression_rewrites import REWRITES_BY_CLASS
from lakestack.engines.sql.function_rewrites import REWRITES_BY_NAME
from lakestack.engines.sql.output_names import name_output_columns
from lakestack.engines.sql.parsing import WRITE
from lakestack.engines.sql.table_references import Resolver, resolve_tables
from lakestack.engines.sql.trees import bottom_up


@dataclass
class Translation:
    sql: str
    # Output columns whose Trino type DuckDB cannot carry, by position: a timestamp with a
    # time zone other than UTC keeps its zone only in how it is shown.
    zones: dict[int, str] = field(default_factory=dict)


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
            zones = name_output_columns(tree)
        return Translation(tree.sql(WRITE), zones)

    def rewrite(self, tree: exp.Expression, copy: bool = True) -> exp.Expression:
        if copy:
            tree = tree.copy()
        tree = self._bind_parameters(tree)
        if self.resolve is not None:
            resolve_tables(tree, self.resolve)
        return bottom_up(tree, self._rewrite_node)

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

    # -- expressions ----------------------------------------------------------------------

    def _rewrite_node(self, node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Anonymous):
            rewrite = REWRITES_BY_NAME.get(node.name.lower())
            if rewrite is not None:
                return rewrite(node, list(node.expressions))
            return node
        if isinstance(node, exp.Func):
            rewrite = REWRITES_BY_NAME.get(node.sql_name().lower())
            if rewrite is not None:
                return rewrite(node, _call_args(node))
        handler = REWRITES_BY_CLASS.get(type(node))
        if handler is not None:
            return handler(node)
        return node


def _call_args(node: exp.Func) -> list[exp.Expression]:
    args: list[exp.Expression] = []
    for key in node.arg_types:
        value = node.args.get(key)
        if isinstance(value, list):
            args.extend(value)
        elif isinstance(value, exp.Expression):
            args.append(value)
    return args
