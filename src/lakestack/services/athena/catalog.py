"""The Glue Data Catalog, through Glue's own API, as the caller (AwsDataCatalog)."""

from __future__ import annotations

from lakestack.aws.errors import AwsError
from lakestack.engines.sql.errors import QueryError

PAGE = 1000


class GlueCatalog:
    def __init__(self, stack, principal, region: str):
        self.stack = stack
        self.principal = principal
        self.region = region

    def call(self, operation: str, params: dict) -> dict:
        try:
            return self.stack.call("glue", operation, params, self.principal, region=self.region)
        except AwsError as error:
            if error.code in ("AccessDenied", "AccessDeniedException"):
                raise QueryError("PERMISSION_DENIED", error.message or "Access denied to the Glue catalog") from None
            raise

    # -- reading --------------------------------------------------------------------------

    def database(self, name: str) -> dict | None:
        try:
            return self.call("GetDatabase", {"Name": name})["Database"]
        except AwsError as error:
            if error.code == "EntityNotFoundException":
                return None
            raise

    def databases(self) -> list[dict]:
        found, token = [], None
        while True:
            params = {"MaxResults": 100}
            if token:
                params["NextToken"] = token
            page = self.call("GetDatabases", params)
            found.extend(page.get("DatabaseList") or [])
            token = page.get("NextToken")
            if not token:
                return found

    def table(self, database: str, name: str) -> dict | None:
        try:
            return self.call("GetTable", {"DatabaseName": database, "Name": name})["Table"]
        except AwsError as error:
            if error.code == "EntityNotFoundException":
                return None
            raise

    def tables(self, database: str, expression: str | None = None) -> list[dict]:
        found, token = [], None
        while True:
            params: dict = {"DatabaseName": database, "MaxResults": 100}
            if expression:
                params["Expression"] = expression
            if token:
                params["NextToken"] = token
            page = self.call("GetTables", params)
            found.extend(page.get("TableList") or [])
            token = page.get("NextToken")
            if not token:
                return found

    def partitions(self, database: str, name: str) -> list[dict]:
        found, token = [], None
        while True:
            params = {"DatabaseName": database, "TableName": name, "MaxResults": PAGE}
            if token:
                params["NextToken"] = token
            page = self.call("GetPartitions", params)
            found.extend(page.get("Partitions") or [])
            token = page.get("NextToken")
            if not token:
                return found

    # -- writing --------------------------------------------------------------------------

    def create_database(self, database_input: dict) -> None:
        self.call("CreateDatabase", {"DatabaseInput": database_input})

    def delete_database(self, name: str) -> None:
        self.call("DeleteDatabase", {"Name": name})

    def create_table(self, database: str, table_input: dict) -> None:
        self.call("CreateTable", {"DatabaseName": database, "TableInput": table_input})

    def update_table(self, database: str, table_input: dict) -> None:
        self.call("UpdateTable", {"DatabaseName": database, "TableInput": table_input})

    def delete_table(self, database: str, name: str) -> None:
        self.call("DeleteTable", {"DatabaseName": database, "Name": name})

    def create_partitions(self, database: str, table: str, inputs: list[dict]) -> list[dict]:
        errors = []
        for start in range(0, len(inputs), 100):
            out = self.call("BatchCreatePartition", {"DatabaseName": database, "TableName": table,
                                                     "PartitionInputList": inputs[start:start + 100]})
            errors.extend(out.get("Errors") or [])
        return errors

    def delete_partitions(self, database: str, table: str, values: list[list[str]]) -> list[dict]:
        errors = []
        for start in range(0, len(values), 25):
            out = self.call("BatchDeletePartition", {
                "DatabaseName": database, "TableName": table,
                "PartitionsToDelete": [{"Values": v} for v in values[start:start + 25]]})
            errors.extend(out.get("Errors") or [])
        return errors


def table_input_from(table: dict) -> dict:
    """A TableInput carrying everything GetTable returned that TableInput accepts."""
    keys = ("Name", "Description", "Owner", "LastAccessTime", "LastAnalyzedTime", "Retention", "StorageDescriptor",
            "PartitionKeys", "ViewOriginalText", "ViewExpandedText", "TableType", "Parameters", "TargetTable")
    return {k: table[k] for k in keys if table.get(k) is not None}
