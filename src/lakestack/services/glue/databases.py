"""Databases: named containers of tables and functions in an account's catalog."""

from __future__ import annotations

import time

from lakestack.services.glue import codec, pagination
from lakestack.services.glue.errors import already_exists, database_not_found
from lakestack.services.glue.scope import Scope, catalog_name
from lakestack.services.glue.store import GlueStore

# What Glue grants on new tables when Lake Formation is left at its defaults: everything to
# IAM principals, so IAM policies alone decide access.
DEFAULT_TABLE_PERMISSIONS = [{"Principal": {"DataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"},
                              "Permissions": ["ALL"]}]


class Databases:
    def __init__(self, store: GlueStore):
        self.store = store

    def create(self, scope: Scope, database_input: dict) -> str:
        name = catalog_name(database_input["Name"])
        data = {k: v for k, v in database_input.items() if k != "Name"}
        data.setdefault("CreateTableDefaultPermissions", DEFAULT_TABLE_PERMISSIONS)
        with self.store.transaction() as db:
            self.ensure_catalog(db, scope)
            if db.execute("SELECT 1 FROM databases WHERE account_id=? AND region=? AND name=?",
                          (*scope.key, name)).fetchone():
                raise already_exists("Database already exists.")
            db.execute("INSERT INTO databases VALUES (?,?,?,?,?)", (*scope.key, name, time.time(), codec.dumps(data)))
        return name

    @staticmethod
    def ensure_catalog(db, scope: Scope) -> None:
        db.execute("INSERT OR IGNORE INTO catalogs VALUES (?,?,?)", (*scope.key, time.time()))

    def require(self, scope: Scope, name: str) -> str:
        """The stored (lower-case) name of an existing database."""
        name = catalog_name(name)
        if self.store.query_one("SELECT 1 FROM databases WHERE account_id=? AND region=? AND name=?",
                                (*scope.key, name)) is None:
            raise database_not_found(name)
        return name

    def get(self, scope: Scope, name: str) -> dict:
        row = self.store.query_one("SELECT * FROM databases WHERE account_id=? AND region=? AND name=?",
                                   (*scope.key, catalog_name(name)))
        if row is None:
            raise database_not_found(catalog_name(name))
        return _describe(scope, row)

    def list(self, scope: Scope, params: dict) -> dict:
        after = pagination.decode(params.get("NextToken"))
        limit = pagination.page_size(params, 100, 100)
        rows = self.store.query(
            "SELECT * FROM databases WHERE account_id=? AND region=? AND name > ? ORDER BY name LIMIT ?",
            (*scope.key, after or "", limit + 1))
        out = {"DatabaseList": [_describe(scope, r) for r in rows[:limit]]}
        if params.get("AttributesToGet"):
            wanted = {"Name", *(_ATTRIBUTES.get(a, a) for a in params["AttributesToGet"])}
            out["DatabaseList"] = [{k: v for k, v in d.items() if k in wanted} for d in out["DatabaseList"]]
        if len(rows) > limit:
            out["NextToken"] = pagination.encode(rows[limit - 1]["name"])
        return out

    def update(self, scope: Scope, name: str, database_input: dict) -> None:
        name = catalog_name(name)
        with self.store.transaction() as db:
            row = db.execute("SELECT data FROM databases WHERE account_id=? AND region=? AND name=?",
                             (*scope.key, name)).fetchone()
            if row is None:
                raise database_not_found(name)
            data = {k: v for k, v in database_input.items() if k != "Name"}
            # Permissions are Lake Formation's to change; UpdateDatabase keeps them.
            previous = codec.loads(row["data"])
            if "CreateTableDefaultPermissions" not in data and "CreateTableDefaultPermissions" in previous:
                data["CreateTableDefaultPermissions"] = previous["CreateTableDefaultPermissions"]
            db.execute("UPDATE databases SET data=? WHERE account_id=? AND region=? AND name=?",
                       (codec.dumps(data), *scope.key, name))

    def delete(self, scope: Scope, name: str) -> None:
        """Deletes the database with everything in it, as Glue does."""
        name = catalog_name(name)
        with self.store.transaction() as db:
            if db.execute("DELETE FROM databases WHERE account_id=? AND region=? AND name=?",
                          (*scope.key, name)).rowcount == 0:
                raise database_not_found(name)
            for table in ("tables", "table_versions", "partitions", "partition_indexes", "column_statistics",
                          "functions"):
                db.execute(f"DELETE FROM {table} WHERE account_id=? AND region=? AND database=?", (*scope.key, name))


_ATTRIBUTES = {"NAME": "Name"}


def _describe(scope: Scope, row) -> dict:
    out = {"Name": row["name"], "CreateTime": codec.timestamp(row["created"]), "CatalogId": scope.account}
    out.update(codec.loads(row["data"]))
    return out
