"""Small builders and walkers for sqlglot trees, shared by the rewrites."""

from __future__ import annotations

from sqlglot import exp

from lakestack.engines.sql.errors import QueryError


def call(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=[a for a in args if a is not None])


def literal_text(node: exp.Expression | None) -> str | None:
    return node.this if isinstance(node, exp.Literal) and node.is_string else None


def bottom_up(tree: exp.Expression, fun) -> exp.Expression:
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


def lambda_parts(fn: exp.Expression) -> tuple[list[str], exp.Expression]:
    if not isinstance(fn, exp.Lambda):
        raise QueryError("FUNCTION_NOT_FOUND", "line 1:1: Expected a lambda expression")
    return [p.name for p in fn.expressions], fn.this


def substitute(body: exp.Expression, names: dict[str, exp.Expression]) -> exp.Expression:
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
    return bottom_up(body, swap)
