"""Athena SQL text → one sqlglot statement tree, with syntax errors worded as Athena words them.

sqlglot's Athena dialect (Trino for queries, Hive for most DDL) reads the text; `WRITE` is
the dialect translated trees are generated in.
"""

from __future__ import annotations

import logging
import re
import threading

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from lakestack.engines.sql.errors import QueryError

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
    if len(text) > _CACHED_TEXT_MAX:
        # A tree is ~150x its text (a 1.3 KB query parses to ~200 KB): only short, repeated
        # dashboard queries are worth keeping, and 512 long ones would hold ~100 MB.
        return tree
    with _PARSED_LOCK:
        if len(_PARSED) >= 512:
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[text] = tree
    return tree.copy()


_PARSED: dict[str, exp.Expression] = {}
_CACHED_TEXT_MAX = 2048
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
