"""Glue's operations: thin glue from typed params to the catalog, classifiers and crawlers.

The Data Catalog lives in `<state>/glue.db` (store.py), one catalog per account and region.
IAM checks follow Glue's resource model: catalog operations are authorized on the catalog,
the database and the table ARNs they touch.
https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html
"""

from __future__ import annotations

from lakestack.aws.errors import AwsError
from lakestack.services.base import Action, Provider
from lakestack.services.glue import codec
from lakestack.services.glue.classifiers import Classifiers
from lakestack.services.glue.column_statistics import ColumnStatistics
from lakestack.services.glue.crawlers import Crawlers
from lakestack.services.glue.databases import Databases
from lakestack.services.glue.errors import invalid_input, not_found
from lakestack.services.glue.functions import Functions
from lakestack.services.glue.partitions import Partitions
from lakestack.services.glue.scope import Scope, catalog_name, scope_of
from lakestack.services.glue.store import GlueStore
from lakestack.services.glue.tables import Tables

CATALOG = "arn:aws:glue:{region}:{account}:catalog"
DATABASE = "arn:aws:glue:{region}:{account}:database/{database}"
TABLE = "arn:aws:glue:{region}:{account}:table/{database}/{table}"
ALL_TABLES = "arn:aws:glue:{region}:{account}:table/{database}/*"
FUNCTION = "arn:aws:glue:{region}:{account}:userDefinedFunction/{database}/{function}"
CRAWLER = "arn:aws:glue:{region}:{account}:crawler/{Name}"

# Calls quick enough for the event loop thread itself (Provider.runs_inline).
_INLINE = frozenset({"GetTable", "GetDatabase"})

# Operation → the resources Glue authorizes it on, besides the IAM action of the same name.
_ON_DATABASE = (CATALOG, DATABASE)
_ON_TABLE = (CATALOG, DATABASE, TABLE)
RESOURCES: dict[str, tuple[str, ...]] = {
    **{op: (CATALOG,) for op in ("GetDatabases", "GetCatalogImportStatus")},
    **{op: _ON_DATABASE for op in ("CreateDatabase", "GetDatabase", "UpdateDatabase", "DeleteDatabase")},
    "GetTables": (CATALOG, DATABASE, ALL_TABLES),
    **{op: _ON_TABLE for op in (
        "CreateTable", "GetTable", "UpdateTable", "DeleteTable", "GetTableVersions", "GetTableVersion",
        "DeleteTableVersion", "BatchDeleteTableVersion", "CreatePartition", "BatchCreatePartition", "GetPartition",
        "GetPartitions", "BatchGetPartition", "UpdatePartition", "BatchUpdatePartition", "DeletePartition",
        "BatchDeletePartition", "CreatePartitionIndex", "GetPartitionIndexes", "DeletePartitionIndex",
        "UpdateColumnStatisticsForTable", "GetColumnStatisticsForTable", "DeleteColumnStatisticsForTable",
        "UpdateColumnStatisticsForPartition", "GetColumnStatisticsForPartition",
        "DeleteColumnStatisticsForPartition")},
    **{op: (CATALOG, DATABASE, FUNCTION) for op in (
        "CreateUserDefinedFunction", "GetUserDefinedFunction", "UpdateUserDefinedFunction",
        "DeleteUserDefinedFunction")},
    **{op: (CRAWLER,) for op in (
        "CreateCrawler", "GetCrawler", "UpdateCrawler", "DeleteCrawler", "StartCrawler", "StopCrawler",
        "StartCrawlerSchedule", "StopCrawlerSchedule", "ListCrawls")},
}
_CRAWLER_NAME_PARAM = {"UpdateCrawlerSchedule": "CrawlerName", "StartCrawlerSchedule": "CrawlerName",
                       "StopCrawlerSchedule": "CrawlerName", "ListCrawls": "CrawlerName"}
MAX_BATCH_CREATE = 100
MAX_BATCH_DELETE_PARTITIONS = 25
MAX_BATCH_UPDATE = 100
MAX_BATCH_GET = 1000


def _resource_values(operation: str, params: dict) -> dict:
    """The names an operation's ARNs are built from, wherever the request carries them."""
    database = params.get("DatabaseName") or (params.get("DatabaseInput") or {}).get("Name") or ""
    if operation in ("GetDatabase", "UpdateDatabase", "DeleteDatabase"):
        database = params.get("Name") or database
    table = (params.get("TableName") or params.get("Name") or (params.get("TableInput") or {}).get("Name") or "")
    function = params.get("FunctionName") or (params.get("FunctionInput") or {}).get("FunctionName") or ""
    return {"database": catalog_name(database), "table": catalog_name(table), "function": function,
            "Name": params.get(_CRAWLER_NAME_PARAM.get(operation, "Name")) or ""}


def _batch(items: list, maximum: int, what: str) -> None:
    if len(items) > maximum:
        raise invalid_input(f"A maximum of {maximum} {what} may be given in one request.")


class GlueProvider(Provider):
    service = "glue"
    # Every Glue operation is authorized as glue:<Operation>; `authorization` adds the
    # resources of RESOURCES. Classifier and listing operations take no resource ("*").
    ACTIONS = {op: Action(f"glue:{op}", resources[-1]) for op, resources in RESOURCES.items()}

    def __init__(self, stack):
        super().__init__(stack)
        self.store = GlueStore(stack.settings.state_dir)
        self.databases = Databases(self.store)
        self.tables = Tables(self.store)
        self.partitions = Partitions(self.tables)
        self.statistics = ColumnStatistics(self.tables)
        self.functions = Functions(self.databases)
        self.classifiers = Classifiers(self.store)
        self.crawlers = Crawlers(self)

    def start(self) -> None:
        self.crawlers.start()

    def stop(self) -> None:
        self.crawlers.stop()
        self.store.close()

    def runs_inline(self, ctx, params) -> bool:
        # One indexed read of a WAL database (readers never wait for the writer) and a JSON
        # decode: tens of microseconds, where a worker thread's GIL hand-offs cost ~0.1 ms.
        return ctx.operation in _INLINE

    def authorization(self, ctx, params):
        templates = RESOURCES.get(ctx.operation)
        action = f"glue:{ctx.operation}"
        if ctx.operation == "BatchDeleteTable":
            values = {**_resource_values(ctx.operation, params), "region": ctx.region, "account": ctx.account_id}
            checks = [(action, CATALOG.format_map(values)), (action, DATABASE.format_map(values))]
            for name in params.get("TablesToDelete") or []:
                checks.append((action, TABLE.format_map({**values, "table": catalog_name(name)})))
            return checks
        if templates is None:
            return [(action, "*")]
        values = {**_resource_values(ctx.operation, params), "region": ctx.region, "account": ctx.account_id}
        return [(action, template.format_map(values)) for template in templates]

    # -- catalog -----------------------------------------------------------------------------

    def get_catalog_import_status(self, ctx, params):
        scope = scope_of(ctx, params)
        with self.store.transaction() as db:
            self.databases.ensure_catalog(db, scope)
        row = self.store.query_one("SELECT created FROM catalogs WHERE account_id=? AND region=?", scope.key)
        # Every catalog here is a Glue Data Catalog from the start: there is no Athena import.
        return {"ImportStatus": {"ImportCompleted": True, "ImportTime": codec.timestamp(row["created"]),
                                 "ImportedBy": "StatusSetByDefault"}}

    # -- databases -------------------------------------------------------------------------

    def create_database(self, ctx, params):
        scope = scope_of(ctx, params)
        name = self.databases.create(scope, params["DatabaseInput"])
        if params.get("Tags"):
            self._tag(scope.arn(f"database/{name}"), params["Tags"])
        return {}

    def get_database(self, ctx, params):
        return {"Database": self.databases.get(scope_of(ctx, params), params["Name"])}

    def get_databases(self, ctx, params):
        return self.databases.list(scope_of(ctx, params), params)

    def update_database(self, ctx, params):
        self.databases.update(scope_of(ctx, params), params["Name"], params["DatabaseInput"])
        return {}

    def delete_database(self, ctx, params):
        scope = scope_of(ctx, params)
        self.databases.delete(scope, params["Name"])
        with self.store.transaction() as db:
            db.execute("DELETE FROM tags WHERE arn=?", (scope.arn(f"database/{catalog_name(params['Name'])}"),))
        return {}

    # -- tables ----------------------------------------------------------------------------

    def create_table(self, ctx, params):
        scope = scope_of(ctx, params)
        if params.get("OpenTableFormatInput"):
            raise AwsError("InvalidInputException", "OpenTableFormatInput is not supported by lakestack yet: create "
                           "Iceberg tables with an Iceberg client (pyiceberg, Spark), which registers them here.")
        table_input = params.get("TableInput")
        if table_input is None:
            raise invalid_input("TableInput is required.")
        if params.get("Name") and catalog_name(params["Name"]) != catalog_name(table_input["Name"]):
            raise invalid_input("Name does not match TableInput.Name.")
        created_by = ctx.principal.arn if ctx.principal else None
        name = self.tables.create(scope, params["DatabaseName"], table_input, created_by)
        if params.get("PartitionIndexes"):
            self.partitions.add_indexes_for_new_table(scope, params["DatabaseName"], name, params["PartitionIndexes"])
        return {}

    def get_table(self, ctx, params):
        return {"Table": self.tables.get(scope_of(ctx, params), params["DatabaseName"], params["Name"])}

    def get_tables(self, ctx, params):
        return self.tables.list(scope_of(ctx, params), params["DatabaseName"], params)

    def search_tables(self, ctx, params):
        return self.tables.search(scope_of(ctx, params), params)

    def update_table(self, ctx, params):
        if params.get("TableInput") is None:
            raise invalid_input("TableInput is required.")
        self.tables.update(scope_of(ctx, params), params["DatabaseName"], params["TableInput"],
                           params.get("VersionId"), bool(params.get("SkipArchive")), params.get("Name"))
        return {}

    def delete_table(self, ctx, params):
        self.tables.delete(scope_of(ctx, params), params["DatabaseName"], params["Name"])
        return {}

    def batch_delete_table(self, ctx, params):
        scope = scope_of(ctx, params)
        errors = []
        for name in params["TablesToDelete"]:
            try:
                self.tables.delete(scope, params["DatabaseName"], name)
            except AwsError as exc:
                if exc.code != "EntityNotFoundException":
                    raise
                errors.append({"TableName": name, "ErrorDetail": {"ErrorCode": exc.code,
                                                                  "ErrorMessage": exc.message}})
        return {"Errors": errors}

    def get_table_versions(self, ctx, params):
        return self.tables.versions(scope_of(ctx, params), params["DatabaseName"], params["TableName"], params)

    def get_table_version(self, ctx, params):
        version = self.tables.version(scope_of(ctx, params), params["DatabaseName"], params["TableName"],
                                      params.get("VersionId"))
        return {"TableVersion": version}

    def delete_table_version(self, ctx, params):
        self.tables.delete_version(scope_of(ctx, params), params["DatabaseName"], params["TableName"],
                                   params["VersionId"])
        return {}

    def batch_delete_table_version(self, ctx, params):
        scope = scope_of(ctx, params)
        errors = []
        for version_id in params["VersionIds"]:
            try:
                self.tables.delete_version(scope, params["DatabaseName"], params["TableName"], version_id)
            except AwsError as exc:
                errors.append({"TableName": catalog_name(params["TableName"]), "VersionId": version_id,
                               "ErrorDetail": {"ErrorCode": exc.code, "ErrorMessage": exc.message}})
        return {"Errors": errors}

    # -- partitions ------------------------------------------------------------------------

    def create_partition(self, ctx, params):
        self.partitions.create(scope_of(ctx, params), params["DatabaseName"], params["TableName"],
                               params["PartitionInput"])
        return {}

    def batch_create_partition(self, ctx, params):
        _batch(params["PartitionInputList"], MAX_BATCH_CREATE, "partitions")
        errors = self.partitions.create_many(scope_of(ctx, params), params["DatabaseName"], params["TableName"],
                                             params["PartitionInputList"])
        return {"Errors": errors}

    def get_partition(self, ctx, params):
        partition = self.partitions.get(scope_of(ctx, params), params["DatabaseName"], params["TableName"],
                                        params["PartitionValues"])
        return {"Partition": partition}

    def get_partitions(self, ctx, params):
        return self.partitions.list(scope_of(ctx, params), params["DatabaseName"], params["TableName"], params)

    def batch_get_partition(self, ctx, params):
        _batch(params["PartitionsToGet"], MAX_BATCH_GET, "partitions")
        found = self.partitions.get_many(scope_of(ctx, params), params["DatabaseName"], params["TableName"],
                                         [p["Values"] for p in params["PartitionsToGet"]])
        return {"Partitions": found, "UnprocessedKeys": []}

    def update_partition(self, ctx, params):
        self.partitions.update(scope_of(ctx, params), params["DatabaseName"], params["TableName"],
                               params["PartitionValueList"], params["PartitionInput"])
        return {}

    def batch_update_partition(self, ctx, params):
        _batch(params["Entries"], MAX_BATCH_UPDATE, "entries")
        errors = self.partitions.update_many(scope_of(ctx, params), params["DatabaseName"], params["TableName"],
                                             params["Entries"])
        return {"Errors": errors}

    def delete_partition(self, ctx, params):
        self.partitions.delete(scope_of(ctx, params), params["DatabaseName"], params["TableName"],
                               params["PartitionValues"])
        return {}

    def batch_delete_partition(self, ctx, params):
        _batch(params["PartitionsToDelete"], MAX_BATCH_DELETE_PARTITIONS, "partitions")
        errors = self.partitions.delete_many(scope_of(ctx, params), params["DatabaseName"], params["TableName"],
                                             [p["Values"] for p in params["PartitionsToDelete"]])
        return {"Errors": errors}

    def create_partition_index(self, ctx, params):
        self.partitions.create_index(scope_of(ctx, params), params["DatabaseName"], params["TableName"],
                                     params["PartitionIndex"])
        return {}

    def get_partition_indexes(self, ctx, params):
        found = self.partitions.list_indexes(scope_of(ctx, params), params["DatabaseName"], params["TableName"])
        return {"PartitionIndexDescriptorList": found}

    def delete_partition_index(self, ctx, params):
        self.partitions.delete_index(scope_of(ctx, params), params["DatabaseName"], params["TableName"],
                                     params["IndexName"])
        return {}

    # -- column statistics -----------------------------------------------------------------

    def update_column_statistics_for_table(self, ctx, params):
        _batch(params["ColumnStatisticsList"], 25, "column statistics")
        errors = self.statistics.update(scope_of(ctx, params), params["DatabaseName"], params["TableName"],
                                        params["ColumnStatisticsList"])
        return {"Errors": errors}

    def get_column_statistics_for_table(self, ctx, params):
        return self.statistics.get(scope_of(ctx, params), params["DatabaseName"], params["TableName"],
                                   params["ColumnNames"])

    def delete_column_statistics_for_table(self, ctx, params):
        self.statistics.delete(scope_of(ctx, params), params["DatabaseName"], params["TableName"],
                               params["ColumnName"])
        return {}

    def update_column_statistics_for_partition(self, ctx, params):
        _batch(params["ColumnStatisticsList"], 25, "column statistics")
        errors = self.statistics.update(scope_of(ctx, params), params["DatabaseName"], params["TableName"],
                                        params["ColumnStatisticsList"], params["PartitionValues"])
        return {"Errors": errors}

    def get_column_statistics_for_partition(self, ctx, params):
        return self.statistics.get(scope_of(ctx, params), params["DatabaseName"], params["TableName"],
                                   params["ColumnNames"], params["PartitionValues"])

    def delete_column_statistics_for_partition(self, ctx, params):
        self.statistics.delete(scope_of(ctx, params), params["DatabaseName"], params["TableName"],
                               params["ColumnName"], params["PartitionValues"])
        return {}

    # -- user-defined functions ------------------------------------------------------------

    def create_user_defined_function(self, ctx, params):
        self.functions.create(scope_of(ctx, params), params["DatabaseName"], params["FunctionInput"])
        return {}

    def get_user_defined_function(self, ctx, params):
        found = self.functions.get(scope_of(ctx, params), params["DatabaseName"], params["FunctionName"])
        return {"UserDefinedFunction": found}

    def update_user_defined_function(self, ctx, params):
        self.functions.update(scope_of(ctx, params), params["DatabaseName"], params["FunctionName"],
                              params["FunctionInput"])
        return {}

    def delete_user_defined_function(self, ctx, params):
        self.functions.delete(scope_of(ctx, params), params["DatabaseName"], params["FunctionName"])
        return {}

    def get_user_defined_functions(self, ctx, params):
        return self.functions.list(scope_of(ctx, params), params.get("DatabaseName"), params["Pattern"], params)

    # -- classifiers -----------------------------------------------------------------------

    def create_classifier(self, ctx, params):
        self.classifiers.create(scope_of(ctx), params)
        return {}

    def get_classifier(self, ctx, params):
        return {"Classifier": self.classifiers.get(scope_of(ctx), params["Name"])}

    def get_classifiers(self, ctx, params):
        return self.classifiers.list(scope_of(ctx), params)

    def update_classifier(self, ctx, params):
        self.classifiers.update(scope_of(ctx), params)
        return {}

    def delete_classifier(self, ctx, params):
        self.classifiers.delete(scope_of(ctx), params["Name"])
        return {}

    # -- crawlers --------------------------------------------------------------------------

    def create_crawler(self, ctx, params):
        scope = scope_of(ctx, params)
        self.crawlers.create(scope, params)
        if params.get("Tags"):
            self._tag(scope.arn(f"crawler/{params['Name']}"), params["Tags"])
        return {}

    def get_crawler(self, ctx, params):
        return {"Crawler": self.crawlers.get(scope_of(ctx), params["Name"])}

    def get_crawlers(self, ctx, params):
        return self.crawlers.list(scope_of(ctx), params)

    def batch_get_crawlers(self, ctx, params):
        return self.crawlers.batch_get(scope_of(ctx), params["CrawlerNames"])

    def list_crawlers(self, ctx, params):
        scope = scope_of(ctx)
        tagged = None
        if params.get("Tags"):
            tagged = {}
            for row in self.store.query("SELECT arn, tags FROM tags WHERE arn LIKE ?", (scope.arn("crawler/%"),)):
                tagged[row["arn"].rsplit("/", 1)[-1]] = codec.loads(row["tags"])
        return self.crawlers.names(scope, params, tagged)

    def update_crawler(self, ctx, params):
        self.crawlers.update(scope_of(ctx, params), params)
        return {}

    def delete_crawler(self, ctx, params):
        scope = scope_of(ctx)
        self.crawlers.delete(scope, params["Name"])
        with self.store.transaction() as db:
            db.execute("DELETE FROM tags WHERE arn=?", (scope.arn(f"crawler/{params['Name']}"),))
        return {}

    def start_crawler(self, ctx, params):
        self.crawlers.start_crawl(scope_of(ctx), params["Name"])
        return {}

    def stop_crawler(self, ctx, params):
        self.crawlers.stop_crawl(scope_of(ctx), params["Name"])
        return {}

    def get_crawler_metrics(self, ctx, params):
        return self.crawlers.metrics(scope_of(ctx), params)

    def list_crawls(self, ctx, params):
        return self.crawlers.history(scope_of(ctx), params)

    def update_crawler_schedule(self, ctx, params):
        if not params.get("Schedule"):
            raise invalid_input("Schedule is required.")
        self.crawlers.set_schedule(scope_of(ctx), params["CrawlerName"], params["Schedule"])
        return {}

    def start_crawler_schedule(self, ctx, params):
        self.crawlers.schedule_state(scope_of(ctx), params["CrawlerName"], "SCHEDULED")
        return {}

    def stop_crawler_schedule(self, ctx, params):
        self.crawlers.schedule_state(scope_of(ctx), params["CrawlerName"], "NOT_SCHEDULED")
        return {}

    # -- tags --------------------------------------------------------------------------------

    def _tag(self, arn: str, tags: dict) -> None:
        with self.store.transaction() as db:
            row = db.execute("SELECT tags FROM tags WHERE arn=?", (arn,)).fetchone()
            current = codec.loads(row["tags"]) if row else {}
            current.update(tags)
            db.execute("INSERT OR REPLACE INTO tags VALUES (?,?)", (arn, codec.dumps(current)))

    def _check_taggable(self, ctx, arn: str) -> None:
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[2] != "glue" or parts[4] != ctx.account_id:
            raise invalid_input(f"Invalid resource ARN {arn}")
        scope = Scope(ctx.account_id, parts[3])
        kind, _, rest = parts[5].partition("/")
        exists = {
            "crawler": lambda: self.store.query_one("SELECT 1 FROM crawlers WHERE account_id=? AND region=? AND "
                                                    "name=?", (*scope.key, rest)),
            "database": lambda: self.store.query_one("SELECT 1 FROM databases WHERE account_id=? AND region=? AND "
                                                     "name=?", (*scope.key, rest)),
        }.get(kind)
        if exists is None or exists() is None:
            raise not_found(f"Resource {arn} not found.")

    def tag_resource(self, ctx, params):
        self._check_taggable(ctx, params["ResourceArn"])
        self._tag(params["ResourceArn"], params["TagsToAdd"])
        return {}

    def untag_resource(self, ctx, params):
        self._check_taggable(ctx, params["ResourceArn"])
        with self.store.transaction() as db:
            row = db.execute("SELECT tags FROM tags WHERE arn=?", (params["ResourceArn"],)).fetchone()
            current = codec.loads(row["tags"]) if row else {}
            for key in params["TagsToRemove"]:
                current.pop(key, None)
            db.execute("INSERT OR REPLACE INTO tags VALUES (?,?)", (params["ResourceArn"], codec.dumps(current)))
        return {}

    def get_tags(self, ctx, params):
        self._check_taggable(ctx, params["ResourceArn"])
        row = self.store.query_one("SELECT tags FROM tags WHERE arn=?", (params["ResourceArn"],))
        return {"Tags": codec.loads(row["tags"]) if row else {}}

