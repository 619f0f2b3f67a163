"""Partitions of a table, and the partition indexes declared on it.

A partition is keyed by its values (stored as their JSON text, which is also the order
GetPartitions pages through) and keeps the PartitionInput it was given. Segments split a
table's partitions into disjoint sets by a stable hash of the key, so parallel readers
(Spark, Athena-style engines) each get a share.
"""

from __future__ import annotations

import json
import time
import zlib

from lakestack.services.glue import codec, pagination
from lakestack.services.glue.errors import already_exists, invalid_input, limit_exceeded, not_found
from lakestack.services.glue.expressions import compile_predicate
from lakestack.services.glue.scope import Scope
from lakestack.services.glue.tables import Tables

MAX_INDEXES = 3  # per table, https://docs.aws.amazon.com/glue/latest/dg/partition-indexes.html
SCAN_CHUNK = 1000


def partition_key(values: list[str]) -> str:
    return json.dumps(list(values), separators=(",", ":"), ensure_ascii=False)


def _error(values: list[str], code: str, message: str) -> dict:
    return {"PartitionValues": values, "ErrorDetail": {"ErrorCode": code, "ErrorMessage": message}}


class Partitions:
    def __init__(self, tables: Tables):
        self.tables = tables
        self.store = tables.store

    def _table(self, scope: Scope, database: str, table: str):
        row = self.tables.require_row(scope, database, table)
        return row, codec.loads(row["data"]).get("PartitionKeys") or []

    @staticmethod
    def _check_values(values: list[str], keys: list[dict]) -> None:
        if len(values) != len(keys):
            raise invalid_input("The number of partition keys do not match the number of partition values")

    # -- writing ---------------------------------------------------------------------------

    def create_many(self, scope: Scope, database: str, table: str, inputs: list[dict]) -> list[dict]:
        """BatchCreatePartition: creates what it can; returns errors for the rest."""
        row, keys = self._table(scope, database, table)
        errors, now = [], time.time()
        with self.store.transaction() as db:
            for item in inputs:
                values = list(item.get("Values") or [])
                if len(values) != len(keys):
                    errors.append(_error(values, "InvalidInputException",
                                         "The number of partition keys do not match the number of partition values"))
                    continue
                data = {k: v for k, v in item.items() if k != "Values"}
                cursor = db.execute("INSERT OR IGNORE INTO partitions VALUES (?,?,?,?,?,?,?)",
                                    (*scope.key, row["database"], row["name"], partition_key(values), now,
                                     codec.dumps(data)))
                if cursor.rowcount == 0:
                    errors.append(_error(values, "AlreadyExistsException", "Partition already exists."))
        return errors

    def create(self, scope: Scope, database: str, table: str, item: dict) -> None:
        errors = self.create_many(scope, database, table, [item])
        if errors:
            detail = errors[0]["ErrorDetail"]
            if detail["ErrorCode"] == "AlreadyExistsException":
                raise already_exists(detail["ErrorMessage"])
            raise invalid_input(detail["ErrorMessage"])

    def update(self, scope: Scope, database: str, table: str, values: list[str], item: dict) -> None:
        """Replace a partition's definition; new Values in the input move it."""
        row, keys = self._table(scope, database, table)
        self._check_values(values, keys)
        new_values = list(item.get("Values") or values)
        self._check_values(new_values, keys)
        data = {k: v for k, v in item.items() if k != "Values"}
        old_key, new_key = partition_key(values), partition_key(new_values)
        where = (*scope.key, row["database"], row["name"])
        with self.store.transaction() as db:
            found = db.execute("SELECT created FROM partitions WHERE account_id=? AND region=? AND database=? AND "
                               "table_name=? AND key=?", (*where, old_key)).fetchone()
            if found is None:
                raise not_found("Partition not found.")
            if new_key != old_key:
                if db.execute("SELECT 1 FROM partitions WHERE account_id=? AND region=? AND database=? AND "
                              "table_name=? AND key=?", (*where, new_key)).fetchone():
                    raise already_exists("Partition already exists.")
                db.execute("DELETE FROM partitions WHERE account_id=? AND region=? AND database=? AND table_name=? "
                           "AND key=?", (*where, old_key))
                db.execute("INSERT INTO partitions VALUES (?,?,?,?,?,?,?)",
                           (*where, new_key, found["created"], codec.dumps(data)))
            else:
                db.execute("UPDATE partitions SET data=? WHERE account_id=? AND region=? AND database=? AND "
                           "table_name=? AND key=?", (codec.dumps(data), *where, old_key))

    def update_many(self, scope: Scope, database: str, table: str, entries: list[dict]) -> list[dict]:
        errors = []
        for entry in entries:
            values = entry["PartitionValueList"]
            try:
                self.update(scope, database, table, values, entry["PartitionInput"])
            except Exception as exc:  # AwsError: reported per entry, as BatchUpdatePartition does
                code = getattr(exc, "code", None)
                if code is None:
                    raise
                errors.append({"PartitionValueList": values,
                               "ErrorDetail": {"ErrorCode": code, "ErrorMessage": exc.message}})
        return errors

    def delete_many(self, scope: Scope, database: str, table: str, value_lists: list[list[str]]) -> list[dict]:
        row, _ = self._table(scope, database, table)
        errors = []
        with self.store.transaction() as db:
            for values in value_lists:
                cursor = db.execute("DELETE FROM partitions WHERE account_id=? AND region=? AND database=? AND "
                                    "table_name=? AND key=?",
                                    (*scope.key, row["database"], row["name"], partition_key(values)))
                if cursor.rowcount == 0:
                    errors.append(_error(values, "EntityNotFoundException", "Partition not found."))
                else:
                    db.execute("DELETE FROM column_statistics WHERE account_id=? AND region=? AND database=? AND "
                               "table_name=? AND partition_key=?",
                               (*scope.key, row["database"], row["name"], partition_key(values)))
        return errors

    def delete(self, scope: Scope, database: str, table: str, values: list[str]) -> None:
        if self.delete_many(scope, database, table, [values]):
            raise not_found("Partition not found.")

    # -- reading ---------------------------------------------------------------------------

    def get(self, scope: Scope, database: str, table: str, values: list[str]) -> dict:
        row, _ = self._table(scope, database, table)
        found = self.store.query_one(
            "SELECT * FROM partitions WHERE account_id=? AND region=? AND database=? AND table_name=? AND key=?",
            (*scope.key, row["database"], row["name"], partition_key(values)))
        if found is None:
            raise not_found("Partition not found.")
        return describe(scope, found)

    def get_many(self, scope: Scope, database: str, table: str, value_lists: list[list[str]]) -> list[dict]:
        row, _ = self._table(scope, database, table)
        out = []
        for values in value_lists:
            found = self.store.query_one(
                "SELECT * FROM partitions WHERE account_id=? AND region=? AND database=? AND table_name=? AND key=?",
                (*scope.key, row["database"], row["name"], partition_key(values)))
            if found is not None:
                out.append(describe(scope, found))
        return out

    def list(self, scope: Scope, database: str, table: str, params: dict) -> dict:
        row, keys = self._table(scope, database, table)
        predicate = compile_predicate(params["Expression"], keys) if params.get("Expression") else None
        segment = params.get("Segment")
        if segment is not None:
            total, number = segment["TotalSegments"], segment["SegmentNumber"]
            if not 0 <= number < total:
                raise invalid_input("SegmentNumber must be less than TotalSegments.")
        limit = pagination.page_size(params, 1000, 1000)
        after = pagination.decode(params.get("NextToken"))
        after = after if isinstance(after, str) else ""
        found = []
        while len(found) <= limit:
            rows = self.store.query(
                "SELECT * FROM partitions WHERE account_id=? AND region=? AND database=? AND table_name=? AND key > ? "
                "ORDER BY key LIMIT ?", (*scope.key, row["database"], row["name"], after, SCAN_CHUNK))
            for r in rows:
                after = r["key"]
                if segment is not None and zlib.crc32(r["key"].encode()) % total != number:
                    continue
                if predicate is not None and not predicate(json.loads(r["key"])):
                    continue
                found.append(r)
                if len(found) > limit:
                    break
            if len(rows) < SCAN_CHUNK:
                break
        out = {"Partitions": [describe(scope, r, params.get("ExcludeColumnSchema")) for r in found[:limit]]}
        if len(found) > limit:
            out["NextToken"] = pagination.encode(found[limit - 1]["key"])
        return out

    def all_values(self, scope: Scope, database: str, table: str) -> dict[str, dict]:
        """{values key: stored PartitionInput (without Values)} — the crawler compares against it."""
        rows = self.store.query("SELECT key, data FROM partitions WHERE account_id=? AND region=? AND database=? AND "
                                "table_name=?", (*scope.key, database, table))
        return {r["key"]: codec.loads(r["data"]) for r in rows}

    # -- partition indexes -----------------------------------------------------------------

    def create_index(self, scope: Scope, database: str, table: str, index: dict) -> None:
        row, keys = self._table(scope, database, table)
        self._add_index(scope, row, keys, index)

    def _add_index(self, scope: Scope, row, keys: list[dict], index: dict) -> None:
        known = {k["Name"].lower() for k in keys}
        for key in index["Keys"]:
            if key.lower() not in known:
                raise invalid_input(f"Partition index key {key} is not a partition key of table {row['name']}.")
        with self.store.transaction() as db:
            existing = db.execute("SELECT name FROM partition_indexes WHERE account_id=? AND region=? AND database=? "
                                  "AND table_name=?", (*scope.key, row["database"], row["name"])).fetchall()
            if any(r["name"] == index["IndexName"] for r in existing):
                raise already_exists(f"Partition index {index['IndexName']} already exists.")
            if len(existing) >= MAX_INDEXES:
                raise limit_exceeded(f"A table can have at most {MAX_INDEXES} partition indexes.")
            db.execute("INSERT INTO partition_indexes VALUES (?,?,?,?,?,?,?)",
                       (*scope.key, row["database"], row["name"], index["IndexName"], json.dumps(index["Keys"]),
                        time.time()))

    def add_indexes_for_new_table(self, scope: Scope, database: str, table: str, indexes: list[dict]) -> None:
        row, keys = self._table(scope, database, table)
        for index in indexes:
            self._add_index(scope, row, keys, index)

    def list_indexes(self, scope: Scope, database: str, table: str) -> list[dict]:
        row, keys = self._table(scope, database, table)
        types = {k["Name"].lower(): k.get("Type", "string") for k in keys}
        rows = self.store.query("SELECT * FROM partition_indexes WHERE account_id=? AND region=? AND database=? AND "
                                "table_name=? ORDER BY created", (*scope.key, row["database"], row["name"]))
        # Indexes are built as they are created here, so each is ACTIVE at once.
        return [{"IndexName": r["name"], "IndexStatus": "ACTIVE",
                 "Keys": [{"Name": k, "Type": types.get(k.lower(), "string")} for k in json.loads(r["keys"])]}
                for r in rows]

    def delete_index(self, scope: Scope, database: str, table: str, name: str) -> None:
        row, _ = self._table(scope, database, table)
        with self.store.transaction() as db:
            if db.execute("DELETE FROM partition_indexes WHERE account_id=? AND region=? AND database=? AND "
                          "table_name=? AND name=?", (*scope.key, row["database"], row["name"], name)).rowcount == 0:
                raise not_found(f"Partition index {name} not found.")


def describe(scope: Scope, row, exclude_columns: bool = False) -> dict:
    out = {"Values": json.loads(row["key"]), "DatabaseName": row["database"], "TableName": row["table_name"],
           "CreationTime": codec.timestamp(row["created"]), "CatalogId": scope.account}
    out.update(codec.loads(row["data"]))
    if exclude_columns and isinstance(out.get("StorageDescriptor"), dict):
        out["StorageDescriptor"] = {k: v for k, v in out["StorageDescriptor"].items() if k != "Columns"}
    return out
