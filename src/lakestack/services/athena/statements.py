"""Which statement is this, and who runs it.

Utility statements with Hive- or Athena-only grammar (SHOW, DESCRIBE, MSCK, ALTER TABLE …
PARTITION, UNLOAD, OPTIMIZE, VACUUM, PREPARE/EXECUTE) are recognised by their first
words; everything else is parsed by sqlglot's Athena dialect and dispatched on the tree.
"""

from __future__ import annotations

import re

from sqlglot import exp

from lakestack.engines.sql.errors import QueryError
from lakestack.engines.sql.parsing import parse
from lakestack.services.athena import ddl, writes
from lakestack.services.athena.queries import ALTER_PARTITION, Outcome, Query, first_word, strip_comments

_PREPARE = re.compile(r"^\s*PREPARE\s+(\w+)\s+FROM\s+(.*)$", re.IGNORECASE | re.DOTALL)
_EXECUTE = re.compile(r"^\s*EXECUTE\s+(\w+)(?:\s+USING\s+(.*))?$", re.IGNORECASE | re.DOTALL)
_DEALLOCATE = re.compile(r"^\s*DEALLOCATE\s+PREPARE\s+(\w+)\s*$", re.IGNORECASE)


def run(query: Query, sql: str) -> Outcome:
    text = strip_comments(sql)
    word = first_word(text)
    if word == "SHOW":
        return ddl.show(query, text)
    if word in ("DESCRIBE", "DESC"):
        return ddl.describe(query, text)
    if word == "MSCK":
        return ddl.msck_repair(query, text)
    if word == "EXPLAIN":
        return query.explain(text[len("EXPLAIN"):].strip())
    if word == "UNLOAD":
        return writes.unload(query, text)
    if word == "OPTIMIZE":
        return query.iceberg.optimize(text)
    if word == "VACUUM":
        return query.iceberg.vacuum(text)
    if word == "PREPARE":
        return prepare(query, text)
    if word == "EXECUTE":
        return execute(query, text)
    if word == "DEALLOCATE":
        return deallocate(query, text)
    if ALTER_PARTITION.match(text):
        return ddl.alter_partitions(query, text)
    tree = parse(text)
    return run_tree(query, tree, text)


def run_tree(query: Query, tree: exp.Expression, text: str,
             parameters: list[exp.Expression] | None = None) -> Outcome:
    if parameters is None and query.parameters:
        parameters = query.parameter_expressions(query.parameters)
    if isinstance(tree, exp.Query | exp.Values):
        return query.select(tree, parameters)
    if parameters:
        tree = query.translator(parameters)._bind_parameters(tree)
    if isinstance(tree, exp.Insert):
        return writes.insert(query, tree)
    if isinstance(tree, exp.Create):
        kind = (tree.args.get("kind") or "").upper()
        if kind in ("DATABASE", "SCHEMA"):
            return ddl.create_database(query, tree)
        if kind == "VIEW":
            return ddl.create_view(query, tree, text)
        if kind == "TABLE":
            if tree.expression is not None:
                return writes.ctas(query, tree)
            return ddl.create_table(query, tree)
    if isinstance(tree, exp.Drop):
        kind = (tree.args.get("kind") or "").upper()
        if kind in ("DATABASE", "SCHEMA"):
            return ddl.drop_database(query, tree)
        if kind in ("TABLE", "VIEW"):
            return ddl.drop_table(query, tree, view=kind == "VIEW")
    if isinstance(tree, exp.Alter):
        return ddl.alter_table(query, tree)
    if isinstance(tree, exp.Describe):
        return ddl.describe(query, text)
    if isinstance(tree, exp.Update | exp.Delete | exp.Merge):
        return query.iceberg.dml(tree)
    raise QueryError("NOT_SUPPORTED", f"line 1:1: Statement not supported: {text.split()[0] if text else ''}")


def prepare(query: Query, text: str) -> Outcome:
    match = _PREPARE.match(text)
    if not match:
        raise QueryError("SYNTAX_ERROR", "line 1:1: mismatched input. Expecting: PREPARE name FROM statement")
    name, body = match.group(1).lower(), match.group(2).strip()
    parse(body)  # a statement that does not parse cannot be prepared
    query.provider.store.put_prepared(query.account, query.region, query.workgroup, name, body, None)
    return Outcome("UTILITY", "PREPARE", "none")


def execute(query: Query, text: str) -> Outcome:
    match = _EXECUTE.match(text)
    if not match:
        raise QueryError("SYNTAX_ERROR", "line 1:1: mismatched input. Expecting: EXECUTE name [USING …]")
    name = match.group(1).lower()
    row = query.provider.store.prepared(query.account, query.region, query.workgroup, name)
    if row is None:
        raise QueryError("NOT_FOUND", f"line 1:1: Prepared statement not found: {name}")
    values: list[exp.Expression] = []
    if match.group(2):
        holder = parse(f"SELECT {match.group(2)}")
        values = list(holder.expressions)
    elif query.parameters:
        values = query.parameter_expressions(query.parameters)
    body = row["query"]
    tree = parse(body)
    outcome = run_tree(query, tree, body, values)
    outcome.substatement_type = "EXECUTE"
    return outcome


def deallocate(query: Query, text: str) -> Outcome:
    match = _DEALLOCATE.match(text)
    if not match:
        raise QueryError("SYNTAX_ERROR", "line 1:1: mismatched input. Expecting: DEALLOCATE PREPARE name")
    if not query.provider.store.delete_prepared(query.account, query.region, query.workgroup, match.group(1).lower()):
        raise QueryError("NOT_FOUND", f"line 1:1: Prepared statement not found: {match.group(1)}")
    return Outcome("UTILITY", "DEALLOCATE", "none")
