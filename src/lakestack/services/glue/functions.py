"""User-defined functions: stored definitions (class name, resources) that engines such as
Hive and Spark load; the catalog only keeps them."""

from __future__ import annotations

import fnmatch
import re
import time

from lakestack.services.glue import codec, pagination
from lakestack.services.glue.databases import Databases
from lakestack.services.glue.errors import already_exists, not_found
from lakestack.services.glue.scope import Scope, catalog_name


class Functions:
    def __init__(self, databases: Databases):
        self.databases = databases
        self.store = databases.store

    def create(self, scope: Scope, database: str, function: dict) -> None:
        database = self.databases.require(scope, database)
        name = function["FunctionName"]
        data = {k: v for k, v in function.items() if k != "FunctionName"}
        with self.store.transaction() as db:
            if db.execute("SELECT 1 FROM functions WHERE account_id=? AND region=? AND database=? AND name=?",
                          (*scope.key, database, name)).fetchone():
                raise already_exists(f"Function {name} already exists.")
            db.execute("INSERT INTO functions VALUES (?,?,?,?,?,?)",
                       (*scope.key, database, name, time.time(), codec.dumps(data)))

    def _row(self, scope: Scope, database: str, name: str):
        database = self.databases.require(scope, database)
        row = self.store.query_one("SELECT * FROM functions WHERE account_id=? AND region=? AND database=? AND name=?",
                                   (*scope.key, database, name))
        if row is None:
            raise not_found(f"Function {name} not found.")
        return row

    def get(self, scope: Scope, database: str, name: str) -> dict:
        return _describe(scope, self._row(scope, database, name))

    def update(self, scope: Scope, database: str, name: str, function: dict) -> None:
        row = self._row(scope, database, name)
        new_name = function.get("FunctionName") or name
        data = {k: v for k, v in function.items() if k != "FunctionName"}
        with self.store.transaction() as db:
            if new_name != name and db.execute(
                    "SELECT 1 FROM functions WHERE account_id=? AND region=? AND database=? AND name=?",
                    (*scope.key, row["database"], new_name)).fetchone():
                raise already_exists(f"Function {new_name} already exists.")
            db.execute("UPDATE functions SET name=?, data=? WHERE account_id=? AND region=? AND database=? AND name=?",
                       (new_name, codec.dumps(data), *scope.key, row["database"], name))

    def delete(self, scope: Scope, database: str, name: str) -> None:
        row = self._row(scope, database, name)
        with self.store.transaction() as db:
            db.execute("DELETE FROM functions WHERE account_id=? AND region=? AND database=? AND name=?",
                       (*scope.key, row["database"], name))

    def list(self, scope: Scope, database: str | None, pattern: str, params: dict) -> dict:
        if database is not None:
            database = self.databases.require(scope, database)
        # The pattern is a Hive-style name pattern: `*` matches any run of characters.
        rx = re.compile(fnmatch.translate(pattern.replace("?", "[?]")), re.IGNORECASE)
        after = pagination.decode(params.get("NextToken")) or ["", ""]
        limit = pagination.page_size(params, 100, 100)
        sql = ("SELECT * FROM functions WHERE account_id=? AND region=? AND (database > ? OR (database = ? AND "
               "name > ?))")
        args: list = [*scope.key, after[0], after[0], after[1]]
        if database is not None:
            sql += " AND database = ?"
            args.append(database)
        rows = [r for r in self.store.query(sql + " ORDER BY database, name", tuple(args)) if rx.match(r["name"])]
        out = {"UserDefinedFunctions": [_describe(scope, r) for r in rows[:limit]]}
        if len(rows) > limit:
            out["NextToken"] = pagination.encode([rows[limit - 1]["database"], rows[limit - 1]["name"]])
        return out


def _describe(scope: Scope, row) -> dict:
    out = {"FunctionName": row["name"], "DatabaseName": catalog_name(row["database"]),
           "CreateTime": codec.timestamp(row["created"]), "CatalogId": scope.account}
    out.update(codec.loads(row["data"]))
    return out
