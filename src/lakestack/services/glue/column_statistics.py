"""Column statistics of a table or of one of its partitions, stored as the client sent them
(Athena's and Glue's statistics tasks write them; query planners read them)."""

from __future__ import annotations

from lakestack.services.glue import codec
from lakestack.services.glue.errors import not_found
from lakestack.services.glue.partitions import partition_key
from lakestack.services.glue.scope import Scope
from lakestack.services.glue.tables import Tables

TABLE_LEVEL = ""


def _error(code: str, message: str) -> dict:
    return {"ErrorCode": code, "ErrorMessage": message}


class ColumnStatistics:
    def __init__(self, tables: Tables):
        self.tables = tables
        self.store = tables.store

    def _target(self, scope: Scope, database: str, table: str, values: list[str] | None):
        """(table row, column names, partition key) — the partition must exist when named."""
        row = self.tables.require_row(scope, database, table)
        definition = codec.loads(row["data"])
        columns = {c["Name"].lower() for c in (definition.get("StorageDescriptor") or {}).get("Columns") or []}
        if values is None:
            return row, columns, TABLE_LEVEL
        key = partition_key(values)
        if self.store.query_one("SELECT 1 FROM partitions WHERE account_id=? AND region=? AND database=? AND "
                                "table_name=? AND key=?", (*scope.key, row["database"], row["name"], key)) is None:
            raise not_found("Partition not found.")
        return row, columns, key

    def update(self, scope: Scope, database: str, table: str, statistics: list[dict],
               values: list[str] | None = None) -> list[dict]:
        row, columns, key = self._target(scope, database, table, values)
        errors = []
        with self.store.transaction() as db:
            for item in statistics:
                if item["ColumnName"].lower() not in columns:
                    errors.append({"ColumnStatistics": item, "Error": _error(
                        "EntityNotFoundException", f"Column {item['ColumnName']} not found in table {row['name']}.")})
                    continue
                db.execute("INSERT OR REPLACE INTO column_statistics VALUES (?,?,?,?,?,?,?)",
                           (*scope.key, row["database"], row["name"], key, item["ColumnName"].lower(),
                            codec.dumps(item)))
        return errors

    def get(self, scope: Scope, database: str, table: str, names: list[str],
            values: list[str] | None = None) -> dict:
        row, _, key = self._target(scope, database, table, values)
        found, errors = [], []
        for name in names:
            stored = self.store.query_one(
                "SELECT data FROM column_statistics WHERE account_id=? AND region=? AND database=? AND table_name=? "
                "AND partition_key=? AND column_name=?", (*scope.key, row["database"], row["name"], key, name.lower()))
            if stored is None:
                errors.append({"ColumnName": name, "Error": _error(
                    "EntityNotFoundException", f"Column statistics for {name} not found.")})
            else:
                found.append(codec.loads(stored["data"]))
        return {"ColumnStatisticsList": found, "Errors": errors}

    def delete(self, scope: Scope, database: str, table: str, name: str, values: list[str] | None = None) -> None:
        row, _, key = self._target(scope, database, table, values)
        with self.store.transaction() as db:
            if db.execute("DELETE FROM column_statistics WHERE account_id=? AND region=? AND database=? AND "
                          "table_name=? AND partition_key=? AND column_name=?",
                          (*scope.key, row["database"], row["name"], key, name.lower())).rowcount == 0:
                raise not_found(f"Column statistics for {name} not found.")
