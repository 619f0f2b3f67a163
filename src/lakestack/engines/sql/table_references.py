"""Tables named in a query: what the resolver is told about each (`TableRef`), and the
rewrite that points each at the relation the resolver answers (the Athena service maps them
through the Glue catalog to files), so the translator knows nothing about catalogs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from lakestack.engines.sql.errors import position_of


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


def resolve_tables(tree: exp.Expression, resolve: Resolver) -> None:
    """Replace each table reference in `tree` (not CTE names, not table functions) by the
    relation `resolve` names, keeping what the query calls it."""
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
        view = resolve(ref)
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
