"""Result column names as Trino gives them, set on the outermost SELECT of a translated query."""

from __future__ import annotations

from sqlglot import exp

from lakestack.engines.sql.trees import literal_text


def _outermost_selects(tree: exp.Expression) -> list[exp.Select]:
    node = tree
    while isinstance(node, exp.Subquery):
        node = node.this
    if isinstance(node, exp.Select):
        return [node]
    if isinstance(node, exp.SetOperation):
        return _outermost_selects(node.this)
    return []


def name_output_columns(tree: exp.Expression) -> dict[int, str]:
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
                zone = literal_text(inner.expressions[1]) if len(inner.expressions) > 1 else None
                if zone:
                    zones[index] = zone
    return zones
