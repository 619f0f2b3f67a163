"""Tables: a schema, a storage descriptor and parameters, with a version history.

A table is stored as the TableInput the client sent (minus its name), so storage
descriptors, SerDe info, parameters and table types come back exactly. Each create or
update writes a row in `table_versions`; `tables.version` is the current VersionId, which
UpdateTable's `VersionId` must match — the optimistic lock Iceberg clients commit through
(https://iceberg.apache.org/docs/latest/aws/#optimistic-locking).
"""

from __future__ import annotations

import re
import time
from functools import lru_cache

from lakestack.services.glue import codec, pagination
from lakestack.services.glue.errors import (
    already_exists,
    concurrent_modification,
    database_not_found,
    invalid_input,
    not_found,
    table_not_found,
)
from lakestack.services.glue.scope import Scope, catalog_name
from lakestack.services.glue.store import GlueStore

# Rows that belong to a table and go when it goes.
_DEPENDENTS = ("partitions", "partition_indexes", "column_statistics")


class Tables:
    def __init__(self, store: GlueStore):
        self.store = store

    # -- reading ---------------------------------------------------------------------------

    def row(self, scope: Scope, database: str, name: str):
        return self.store.query_one("SELECT * FROM tables WHERE account_id=? AND region=? AND database=? AND name=?",
                                    (*scope.key, catalog_name(database), catalog_name(name)))

    def require_row(self, scope: Scope, database: str, name: str):
        row = self.row(scope, database, name)
        if row is None:
            self._raise_missing(scope, database, name)
        return row

    def _raise_missing(self, scope: Scope, database: str, name: str):
        if self.store.query_one("SELECT 1 FROM databases WHERE account_id=? AND region=? AND name=?",
                                (*scope.key, catalog_name(database))) is None:
            raise database_not_found(catalog_name(database))
        raise table_not_found(catalog_name(database), catalog_name(name))

    def get(self, scope: Scope, database: str, name: str) -> dict:
        return describe(scope, self.require_row(scope, database, name))

    def definition(self, scope: Scope, database: str, name: str) -> dict | None:
        """The stored TableInput (without Name), or None."""
        row = self.row(scope, database, name)
        return None if row is None else codec.loads(row["data"])

    def list(self, scope: Scope, database: str, params: dict) -> dict:
        database = catalog_name(database)
        if self.store.query_one("SELECT 1 FROM databases WHERE account_id=? AND region=? AND name=?",
                                (*scope.key, database)) is None:
            raise database_not_found(database)
        matcher = name_pattern(params["Expression"]) if params.get("Expression") else None
        after = pagination.decode(params.get("NextToken")) or ""
        limit = pagination.page_size(params, 100, 100)
        found = []
        while len(found) <= limit:
            rows = self.store.query(
                "SELECT * FROM tables WHERE account_id=? AND region=? AND database=? AND name > ? ORDER BY name "
                "LIMIT 500", (*scope.key, database, after))
            if not rows:
                break
            for row in rows:
                after = row["name"]
                if matcher is None or matcher(row["name"]):
                    found.append(row)
                    if len(found) > limit:
                        break
            if len(rows) < 500:
                break
        out = {"TableList": [describe(scope, r) for r in found[:limit]]}
        if len(found) > limit:
            out["NextToken"] = pagination.encode(found[limit - 1]["name"])
        if params.get("AttributesToGet"):
            wanted = {"Name", *(_ATTRIBUTES.get(a, a) for a in params["AttributesToGet"])}
            out["TableList"] = [{k: v for k, v in t.items() if k in wanted} for t in out["TableList"]]
        return out

    def search(self, scope: Scope, params: dict) -> dict:
        """SearchTables over every database of the catalog.
        https://docs.aws.amazon.com/glue/latest/webapi/API_SearchTables.html"""
        rows = self.store.query("SELECT * FROM tables WHERE account_id=? AND region=? ORDER BY database, name",
                                scope.key)
        found = [describe(scope, r) for r in rows]
        text = (params.get("SearchText") or "").strip()
        if text:
            found = [t for t in found if _mentions(t, text)]
        for predicate in params.get("Filters") or []:
            found = [t for t in found if _satisfies(t, predicate)]
        for criterion in reversed(params.get("SortCriteria") or []):
            field = criterion.get("FieldName", "Name")
            found.sort(key=lambda t, field=field: _sort_key(t.get(field)), reverse=criterion.get("Sort") == "DESC")
        start = pagination.decode(params.get("NextToken")) or 0
        limit = pagination.page_size(params, 100, 1000)
        out = {"TableList": found[start:start + limit]}
        if start + limit < len(found):
            out["NextToken"] = pagination.encode(start + limit)
        return out

    def all_rows(self, scope: Scope, database: str):
        return self.store.query("SELECT * FROM tables WHERE account_id=? AND region=? AND database=? ORDER BY name",
                                (*scope.key, catalog_name(database)))

    # -- writing ---------------------------------------------------------------------------

    def create(self, scope: Scope, database: str, table_input: dict, created_by: str | None) -> str:
        database = catalog_name(database)
        name = catalog_name(table_input["Name"])
        data = _definition(table_input)
        now = time.time()
        with self.store.transaction() as db:
            if db.execute("SELECT 1 FROM databases WHERE account_id=? AND region=? AND name=?",
                          (*scope.key, database)).fetchone() is None:
                raise database_not_found(database)
            if db.execute("SELECT 1 FROM tables WHERE account_id=? AND region=? AND database=? AND name=?",
                          (*scope.key, database, name)).fetchone():
                raise already_exists("Table already exists.")
            text = codec.dumps(data)
            db.execute("INSERT INTO tables VALUES (?,?,?,?,?,?,?,?,?)",
                       (*scope.key, database, name, 0, now, now, created_by, text))
            db.execute("INSERT INTO table_versions VALUES (?,?,?,?,?,?,?)", (*scope.key, database, name, 0, now, text))
        return name

    def update(self, scope: Scope, database: str, table_input: dict, version_id: str | None = None,
               skip_archive: bool = False, name: str | None = None) -> int:
        """Replace the table's definition; returns the new version number."""
        database = catalog_name(database)
        name = catalog_name(name or table_input["Name"])
        if catalog_name(table_input["Name"]) != name:
            raise invalid_input("Table name in TableInput does not match the table being updated.")
        data = _definition(table_input)
        now = time.time()
        with self.store.transaction() as db:
            row = db.execute("SELECT version FROM tables WHERE account_id=? AND region=? AND database=? AND name=?",
                             (*scope.key, database, name)).fetchone()
            if row is None:
                self._raise_missing(scope, database, name)
            current = row["version"]
            if version_id is not None and str(current) != version_id:
                raise concurrent_modification(
                    f"Update table failed due to concurrent modifications. Expected version {version_id}, "
                    f"current version is {current}.")
            if skip_archive:
                db.execute("DELETE FROM table_versions WHERE account_id=? AND region=? AND database=? AND name=? "
                           "AND version=?", (*scope.key, database, name, current))
            text = codec.dumps(data)
            db.execute("UPDATE tables SET version=?, updated=?, data=? WHERE account_id=? AND region=? AND database=? "
                       "AND name=?", (current + 1, now, text, *scope.key, database, name))
            db.execute("INSERT INTO table_versions VALUES (?,?,?,?,?,?,?)",
                       (*scope.key, database, name, current + 1, now, text))
        return current + 1

    def delete(self, scope: Scope, database: str, name: str) -> None:
        database, name = catalog_name(database), catalog_name(name)
        with self.store.transaction() as db:
            if db.execute("DELETE FROM tables WHERE account_id=? AND region=? AND database=? AND name=?",
                          (*scope.key, database, name)).rowcount == 0:
                self._raise_missing(scope, database, name)
            db.execute("DELETE FROM table_versions WHERE account_id=? AND region=? AND database=? AND name=?",
                       (*scope.key, database, name))
            for table in _DEPENDENTS:
                db.execute(f"DELETE FROM {table} WHERE account_id=? AND region=? AND database=? AND table_name=?",
                           (*scope.key, database, name))

    # -- versions --------------------------------------------------------------------------

    def versions(self, scope: Scope, database: str, name: str, params: dict) -> dict:
        row = self.require_row(scope, database, name)
        before = pagination.decode(params.get("NextToken"))
        limit = pagination.page_size(params, 100, 100)
        rows = self.store.query(
            "SELECT * FROM table_versions WHERE account_id=? AND region=? AND database=? AND name=? AND version < ? "
            "ORDER BY version DESC LIMIT ?",
            (*scope.key, row["database"], row["name"], before if before is not None else 1 << 62, limit + 1))
        out = {"TableVersions": [{"Table": describe(scope, row, v), "VersionId": str(v["version"])}
                                 for v in rows[:limit]]}
        if len(rows) > limit:
            out["NextToken"] = pagination.encode(rows[limit - 1]["version"])
        return out

    def version(self, scope: Scope, database: str, name: str, version_id: str | None) -> dict:
        row = self.require_row(scope, database, name)
        number = row["version"] if version_id is None else _version_number(version_id)
        found = self.store.query_one(
            "SELECT * FROM table_versions WHERE account_id=? AND region=? AND database=? AND name=? AND version=?",
            (*scope.key, row["database"], row["name"], number))
        if found is None:
            raise not_found(f"Version {version_id} of table {row['name']} not found.")
        return {"Table": describe(scope, row, found), "VersionId": str(number)}

    def delete_version(self, scope: Scope, database: str, name: str, version_id: str) -> None:
        row = self.require_row(scope, database, name)
        number = _version_number(version_id)
        if number == row["version"]:
            raise invalid_input("Cannot delete the current version of a table.")
        with self.store.transaction() as db:
            if db.execute("DELETE FROM table_versions WHERE account_id=? AND region=? AND database=? AND name=? "
                          "AND version=?", (*scope.key, row["database"], row["name"], number)).rowcount == 0:
                raise not_found(f"Version {version_id} of table {row['name']} not found.")


_ATTRIBUTES = {"NAME": "Name", "TABLE_TYPE": "TableType"}


def _definition(table_input: dict) -> dict:
    data = {k: v for k, v in table_input.items() if k != "Name"}
    keys = [c.get("Name", "") for c in data.get("PartitionKeys") or []]
    if len({k.lower() for k in keys}) != len(keys):
        raise invalid_input("Partition key names must be unique.")
    return data


_TOKENS = re.compile(r"[\s\-:#_./,]+")


def _mentions(table: dict, text: str) -> bool:
    """SearchText: a quoted text must equal a name or value; otherwise it may appear in any."""
    exact = len(text) > 1 and text[0] == text[-1] == '"'
    wanted = text.strip('"').lower()
    descriptor = table.get("StorageDescriptor") or {}
    haystack = [table["Name"], table["DatabaseName"], table.get("Description", ""), table.get("TableType", "")]
    for column in (descriptor.get("Columns") or []) + (table.get("PartitionKeys") or []):
        haystack += [column.get("Name", ""), column.get("Comment", "")]
    haystack += list((table.get("Parameters") or {}).values())
    haystack = [h.lower() for h in haystack if isinstance(h, str)]
    return any(h == wanted for h in haystack) if exact else any(wanted in h for h in haystack)


def _satisfies(table: dict, predicate: dict) -> bool:
    key, value = predicate.get("Key", ""), predicate.get("Value", "")
    comparator = predicate.get("Comparator", "EQUALS")
    actual = table.get(key) if key in table else (table.get("Parameters") or {}).get(key)
    if actual is None:
        return False
    if hasattr(actual, "timestamp"):  # times compare as epoch seconds
        try:
            actual, value = actual.timestamp(), float(value)
        except ValueError:
            return False
        return {"EQUALS": actual == value, "GREATER_THAN": actual > value, "LESS_THAN": actual < value,
                "GREATER_THAN_EQUALS": actual >= value, "LESS_THAN_EQUALS": actual <= value}[comparator]
    # Strings match when one of their tokens (split on punctuation) equals the value.
    return value.lower() in _TOKENS.split(str(actual).lower()) or str(actual).lower() == value.lower()


def _sort_key(value):
    if value is None:
        return (0, "")
    if hasattr(value, "timestamp"):
        return (1, value.timestamp())
    return (1, str(value))


def _version_number(version_id: str) -> int:
    try:
        return int(version_id)
    except ValueError:
        raise invalid_input(f"Invalid version id: {version_id}") from None


def describe(scope: Scope, row, version_row=None) -> dict:
    """The Table structure answered to clients, from a `tables` row (or one of its versions)."""
    source = version_row if version_row is not None else row
    out = {
        "Name": row["name"],
        "DatabaseName": row["database"],
        "CreateTime": codec.timestamp(row["created"]),
        "UpdateTime": codec.timestamp(source["updated"]),
        "IsRegisteredWithLakeFormation": False,
        "CatalogId": scope.account,
        "VersionId": str(source["version"]),
    }
    if row["created_by"]:
        out["CreatedBy"] = row["created_by"]
    out.update(codec.loads(source["data"]))
    return out


@lru_cache(maxsize=256)
def _compiled(expression: str):
    # Hive metastore patterns, which Glue follows: `*` is any run of characters and `|`
    # separates alternatives; the rest is a Java regular expression, matched whole and
    # without regard to case.
    alternatives = [part.replace("*", ".*") for part in expression.split("|")]
    try:
        return [re.compile(alt, re.IGNORECASE) for alt in alternatives]
    except re.error as exc:
        raise invalid_input(f"Invalid expression {expression!r}: {exc}") from None


def name_pattern(expression: str):
    """A predicate over table names for GetTables' `Expression`."""
    compiled = _compiled(expression)
    return lambda name: any(rx.fullmatch(name) for rx in compiled)
