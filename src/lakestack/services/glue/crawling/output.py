"""Writing a crawl's findings into the catalog, as the crawler's role and under its policies.

- New tables and partitions are always added (SchemaChangePolicy does not govern them).
- UpdateBehavior UPDATE_IN_DATABASE rewrites a changed table or partition; LOG leaves it.
  CrawlerOutput.Tables.AddOrUpdateBehavior MergeNewColumns only ever adds columns.
- DeleteBehavior decides what happens to tables this crawler made whose data is gone, and
  to partitions whose folder is gone: DELETE_FROM_DATABASE removes them,
  DEPRECATE_IN_DATABASE marks a table with DEPRECATED_BY_CRAWLER, LOG leaves both.
- CrawlerOutput.Partitions.AddOrUpdateBehavior InheritFromTable gives partitions the
  table's schema instead of their own.
https://docs.aws.amazon.com/glue/latest/dg/crawler-schema-changes-prevent.html
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field

from lakestack.services.glue.crawling.grouping import FileResult, PartitionPlan, TablePlan
from lakestack.services.glue.crawling.serdes import format_parameters, storage

log = logging.getLogger("lakestack.glue")

BATCH_CREATE = 100
BATCH_UPDATE = 100
BATCH_DELETE = 25
DEPRECATED = "DEPRECATED_BY_CRAWLER"
CRAWLER_PARAMETER = "UPDATED_BY_CRAWLER"


@dataclass
class Policy:
    crawler: str
    database: str
    update: str = "UPDATE_IN_DATABASE"
    delete: str = "DEPRECATE_IN_DATABASE"
    new_folders_only: bool = False
    merge_new_columns: bool = False
    inherit_from_table: bool = False


@dataclass
class Metrics:
    tables_created: int = 0
    tables_updated: int = 0
    tables_deleted: int = 0
    partitions_created: int = 0
    partitions_updated: int = 0
    partitions_deleted: int = 0
    messages: list[str] = field(default_factory=list)


def statistics(files: list[FileResult]) -> dict[str, str]:
    records = sum(f.detected.records for f in files)
    size = sum(f.obj.size for f in files)
    return {"recordCount": str(records), "averageRecordSize": str(size // records if records else 0),
            "objectCount": str(len(files)), "sizeKey": str(size)}


def table_input(plan: TablePlan, policy: Policy) -> dict:
    parameters = {**format_parameters(plan.detected, plan.compression), **statistics(plan.files),
                  CRAWLER_PARAMETER: policy.crawler, "CrawlerSchemaDeserializerVersion": "1.0",
                  "CrawlerSchemaSerializerVersion": "1.0"}
    return {
        "Name": plan.name,
        "Owner": "owner",
        "Retention": 0,
        "TableType": "EXTERNAL_TABLE",
        "PartitionKeys": [{"Name": key, "Type": "string"} for key in plan.partition_keys],
        "StorageDescriptor": storage(plan.detected, plan.columns, plan.location, plan.compression, parameters),
        "Parameters": parameters,
    }


def partition_input(plan: TablePlan, partition: PartitionPlan, table_columns_source: dict | None,
                    policy: Policy) -> dict:
    parameters = {**format_parameters(plan.detected, plan.compression), **statistics(partition.files),
                  "CrawlerSchemaDeserializerVersion": "1.0", "CrawlerSchemaSerializerVersion": "1.0"}
    descriptor = storage(plan.detected, partition.columns, partition.location, plan.compression, parameters)
    if policy.inherit_from_table and table_columns_source is not None:
        descriptor["Columns"] = list(table_columns_source.get("Columns") or [])
    return {"Values": partition.values, "StorageDescriptor": descriptor, "Parameters": parameters}


def _same_location(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def _merge_new_columns(existing: list[dict], proposed: list[dict]) -> list[dict]:
    known = {c["Name"].lower() for c in existing}
    return list(existing) + [c for c in proposed if c["Name"].lower() not in known]


def unique_names(plans: list[TablePlan], prefix: str) -> None:
    """Apply TablePrefix, and give a second table of the same name a hash suffix, as Glue does."""
    seen: set[str] = set()
    for plan in plans:
        plan.name = f"{prefix}{plan.name}"
        if plan.name in seen:
            plan.name = f"{plan.name}_{_hash(plan.location)}"
        seen.add(plan.name)


def _hash(location: str) -> str:
    return hashlib.md5(location.encode(), usedforsecurity=False).hexdigest()[:16]


class CatalogWriter:
    """Applies table plans through the Glue API (authorized as the crawler's role)."""

    def __init__(self, call, policy: Policy, metrics: Metrics):
        self.call = call  # call(operation, params) -> dict
        self.policy = policy
        self.metrics = metrics

    def _existing(self, name: str) -> dict | None:
        try:
            return self.call("GetTable", {"DatabaseName": self.policy.database, "Name": name})["Table"]
        except Exception as exc:
            if getattr(exc, "code", None) == "EntityNotFoundException":
                return None
            raise

    def apply(self, plan: TablePlan, claimed: set[str]) -> str:
        """Create or update one table and its partitions; returns the table's name."""
        existing = self._existing(plan.name)
        if existing is not None and not _same_location(
                (existing.get("StorageDescriptor") or {}).get("Location", ""), plan.location):
            # Another table already has this name: this one gets a hash suffix.
            plan.name = f"{plan.name}_{_hash(plan.location)}"
            existing = self._existing(plan.name)
        claimed.add(plan.name)
        proposed = table_input(plan, self.policy)
        if existing is None:
            self.call("CreateTable", {"DatabaseName": self.policy.database, "TableInput": proposed})
            self.metrics.tables_created += 1
            self._partitions(plan, proposed["StorageDescriptor"], {})
            return plan.name
        current = _as_input(existing)
        if self.policy.merge_new_columns:
            columns = _merge_new_columns((current.get("StorageDescriptor") or {}).get("Columns") or [],
                                         proposed["StorageDescriptor"]["Columns"])
            proposed["StorageDescriptor"]["Columns"] = columns
        updating = self.policy.update == "UPDATE_IN_DATABASE" and not self.policy.new_folders_only
        if updating and proposed != current:
            self.call("UpdateTable", {"DatabaseName": self.policy.database, "TableInput": proposed})
            self.metrics.tables_updated += 1
        elif proposed != current:
            self.metrics.messages.append(f"Table {plan.name} changed; left as it is (UpdateBehavior LOG).")
        table_descriptor = proposed["StorageDescriptor"] if updating else current.get("StorageDescriptor") or {}
        known = self._known_partitions(plan.name)
        self._partitions(plan, table_descriptor, known, updating)
        return plan.name

    def _known_partitions(self, table: str) -> dict[tuple, dict]:
        known, token = {}, None
        while True:
            params = {"DatabaseName": self.policy.database, "TableName": table}
            if token:
                params["NextToken"] = token
            page = self.call("GetPartitions", params)
            for p in page.get("Partitions") or ():
                known[tuple(p["Values"])] = {k: p[k] for k in ("StorageDescriptor", "Parameters") if k in p}
            token = page.get("NextToken")
            if not token:
                return known

    def _partitions(self, plan: TablePlan, table_descriptor: dict, known: dict[tuple, dict],
                    updating: bool = False) -> None:
        to_create, to_update = [], []
        wanted = set()
        for partition in plan.partitions:
            item = partition_input(plan, partition, table_descriptor, self.policy)
            key = tuple(partition.values)
            wanted.add(key)
            if key not in known:
                to_create.append(item)
            elif updating and {k: item[k] for k in ("StorageDescriptor", "Parameters")} != known[key]:
                to_update.append({"PartitionValueList": partition.values, "PartitionInput": item})
        database = self.policy.database
        for i in range(0, len(to_create), BATCH_CREATE):
            batch = to_create[i:i + BATCH_CREATE]
            errors = self.call("BatchCreatePartition", {"DatabaseName": database, "TableName": plan.name,
                                                        "PartitionInputList": batch}).get("Errors") or []
            self.metrics.partitions_created += len(batch) - len(errors)
        for i in range(0, len(to_update), BATCH_UPDATE):
            batch = to_update[i:i + BATCH_UPDATE]
            errors = self.call("BatchUpdatePartition", {"DatabaseName": database, "TableName": plan.name,
                                                        "Entries": batch}).get("Errors") or []
            self.metrics.partitions_updated += len(batch) - len(errors)
        gone = [list(key) for key in known if key not in wanted]
        if gone and not self.policy.new_folders_only:
            if self.policy.delete == "DELETE_FROM_DATABASE":
                for i in range(0, len(gone), BATCH_DELETE):
                    batch = gone[i:i + BATCH_DELETE]
                    errors = self.call("BatchDeletePartition", {
                        "DatabaseName": database, "TableName": plan.name,
                        "PartitionsToDelete": [{"Values": v} for v in batch]}).get("Errors") or []
                    self.metrics.partitions_deleted += len(batch) - len(errors)
            else:
                self.metrics.messages.append(f"{len(gone)} partitions of {plan.name} no longer exist; kept.")

    def add_partitions(self, table: dict, partitions: list[PartitionPlan], plan: TablePlan) -> None:
        """New folders of an existing table (CRAWL_NEW_FOLDERS_ONLY): add them as partitions."""
        known = self._known_partitions(table["Name"])
        self._partitions(plan, table.get("StorageDescriptor") or {}, known)

    def retire(self, table: dict) -> None:
        """A table this crawler made whose data is gone."""
        name = table["Name"]
        if self.policy.delete == "DELETE_FROM_DATABASE":
            self.call("DeleteTable", {"DatabaseName": self.policy.database, "Name": name})
            self.metrics.tables_deleted += 1
        elif self.policy.delete == "DEPRECATE_IN_DATABASE":
            current = _as_input(table)
            if DEPRECATED in (current.get("Parameters") or {}):
                return
            current["Parameters"] = {**(current.get("Parameters") or {}),
                                     DEPRECATED: dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
            self.call("UpdateTable", {"DatabaseName": self.policy.database, "TableInput": current})
            self.metrics.tables_deleted += 1
        else:
            self.metrics.messages.append(f"Table {name}: its data is gone; kept (DeleteBehavior LOG).")


_TABLE_INPUT = ("Name", "Description", "Owner", "LastAccessTime", "LastAnalyzedTime", "Retention",
                "StorageDescriptor", "PartitionKeys", "ViewOriginalText", "ViewExpandedText", "TableType",
                "Parameters", "TargetTable")


def _as_input(table: dict) -> dict:
    return {k: table[k] for k in _TABLE_INPUT if k in table}
