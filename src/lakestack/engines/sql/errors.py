"""Query errors the way Athena (engine v3) reports them: an error name, then Trino's message,
which points at the query text (`SYNTAX_ERROR: line 1:8: …`).

DuckDB's messages are about the translated SQL; `from_duckdb` maps the common ones back to
Trino's wording and to positions in the text the user wrote.
"""

from __future__ import annotations

import re

from sqlglot import exp

from lakestack.engines.sql.runtime import ERROR_MARKER

# AthenaError.ErrorType: 1000 user error, 1001 data error, 1003 DDL task failed
# (https://docs.aws.amazon.com/athena/latest/ug/error-reference.html).
USER_ERROR, DATA_ERROR, DDL_ERROR = 1000, 1001, 1003


class QueryError(Exception):
    """A query failed for a reason the user can fix (AthenaError ErrorCategory 2)."""

    def __init__(self, name: str, message: str, error_type: int = USER_ERROR, category: int = 2):
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message
        self.error_type = error_type
        self.category = category

    @property
    def reason(self) -> str:
        """StateChangeReason, e.g. `TABLE_NOT_FOUND: line 1:15: Table '…' does not exist`."""
        return f"{self.name}: {self.message}"


def position_of(node: exp.Expression | None) -> tuple[int, int]:
    """1-based (line, column) where an identifier starts in the original text."""
    meta = getattr(node, "meta", None) or {}
    if "line" not in meta and node is not None:
        for child in node.walk():
            if getattr(child, "meta", None) and "line" in child.meta:
                meta = child.meta
                break
    line, col = meta.get("line", 1), meta.get("col", 1)
    if "start" in meta and "end" in meta:
        col = col - (meta["end"] - meta["start"])
    return line, max(col, 1)


def _find_column(tree: exp.Expression | None, name: str) -> tuple[int, int]:
    if tree is not None:
        wanted = name.lower().strip('"')
        for column in tree.find_all(exp.Column):
            if column.name.lower() == wanted:
                return position_of(column.this)
    return 1, 8


_MISSING_COLUMN = re.compile(r'Referenced column "?([^"]+?)"? (?:was )?not found|column "?([^"\s]+?)"? (?:not found|does not exist)'
                             r'|Referenced table "([^"]+)" not found|Column "([^"]+)" referenced that exists in the SELECT',
                             re.IGNORECASE)
_MISSING_FUNCTION = re.compile(r"(?:Scalar|Aggregate|Table) Function with name \"?([\w$]+)\"? does not exist",
                               re.IGNORECASE)
_NO_FUNCTION_MATCH = re.compile(r"No function matches the given name and argument types '([^']+)'", re.IGNORECASE)
_CONVERSION = re.compile(r"Could not convert string '([^']*)' to (\w+)", re.IGNORECASE)


def from_duckdb(error: Exception, tree: exp.Expression | None = None) -> QueryError:
    """Athena's error for a DuckDB failure while running translated SQL."""
    text = str(error)
    first = text.split("\n", 1)[0]
    marker = re.search(re.escape(ERROR_MARKER) + r"(\w+):([^'\n]*)", text)
    if marker:
        return QueryError(marker.group(1), marker.group(2), DATA_ERROR)
    kind = type(error).__name__
    if kind == "InterruptException":
        return QueryError("USER_CANCELLED", "Query was canceled by user")
    missing = _MISSING_COLUMN.search(first)
    if missing and kind == "BinderException":
        name = next(g for g in missing.groups() if g)
        line, col = _find_column(tree, name.split(".")[-1])
        return QueryError("COLUMN_NOT_FOUND", f"line {line}:{col}: Column '{name.split('.')[-1]}' cannot be resolved "
                                              "or requester is not authorized to access requested resources")
    function = _MISSING_FUNCTION.search(first)
    if function and not function.group(1).startswith("trino_"):
        return QueryError("FUNCTION_NOT_FOUND", f"line 1:1: Function '{function.group(1).lower()}' not registered")
    no_match = _NO_FUNCTION_MATCH.search(first)
    if no_match:
        return QueryError("FUNCTION_NOT_FOUND", f"line 1:1: Unexpected parameters for function {no_match.group(1)}")
    if kind == "BinderException" and ("Cannot compare" in first or "Cannot mix" in first
                                      or "No function matches" in first or "cannot be cast" in first):
        return QueryError("TYPE_MISMATCH", "line 1:1: " + _strip_prefix(first))
    conversion = _CONVERSION.search(first)
    if conversion and kind == "ConversionException":
        return QueryError("INVALID_CAST_ARGUMENT",
                          f"Cannot cast '{conversion.group(1)}' to {conversion.group(2).lower()}", DATA_ERROR)
    if kind == "OutOfRangeException":
        return QueryError("NUMERIC_VALUE_OUT_OF_RANGE", _strip_prefix(first), DATA_ERROR)
    if kind == "ParserException":
        return QueryError("SYNTAX_ERROR", "line 1:1: " + _strip_prefix(first))
    if kind in ("InvalidInputException", "ConversionException", "IOException"):
        return QueryError("INVALID_FUNCTION_ARGUMENT" if kind != "IOException" else "HIVE_CANNOT_OPEN_SPLIT",
                          _strip_prefix(first), DATA_ERROR)
    if kind in ("BinderException", "CatalogException", "NotImplementedException"):
        return QueryError("NOT_SUPPORTED", "line 1:1: " + _strip_prefix(first))
    return QueryError("GENERIC_INTERNAL_ERROR", _strip_prefix(first), 200, category=1)


def _strip_prefix(text: str) -> str:
    return re.sub(r"^[A-Za-z ]+Error: ", "", text).strip()
