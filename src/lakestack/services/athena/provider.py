"""Athena's operations: query executions, results, workgroups, named queries, prepared
statements, data catalogs and catalog metadata.

Queries run in executions.py's worker pool; this module records and answers.
https://docs.aws.amazon.com/athena/latest/APIReference/API_Operations.html
"""

from __future__ import annotations

import copy
import datetime as dt
import time
import uuid

from lakestack.engines.sql.engine import SqlEngine
from lakestack.engines.sql.errors import QueryError
from lakestack.services.athena import results
from lakestack.services.athena.catalog import GlueCatalog
from lakestack.services.athena.engines import Engines
from lakestack.services.athena.errors import invalid_request, metadata_error, not_found
from lakestack.services.athena.executions import Executions, columns_from, result_location, work_dir
from lakestack.services.athena.lake import Lake
from lakestack.services.athena.queries import statement_type
from lakestack.services.athena.relations import SchemaCache
from lakestack.services.athena.store import AthenaStore, dumps, loads
from lakestack.services.base import Action, Provider

WORKGROUP = "arn:aws:athena:{region}:{account}:workgroup/{WorkGroup}"
DATACATALOG = "arn:aws:athena:{region}:{account}:datacatalog/{CatalogName}"
PRIMARY = "primary"
DEFAULT_CATALOG = "AwsDataCatalog"
ENGINE_VERSION = {"SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": "Athena engine version 3"}
MAX_PAGE = 1000
POLL_WAIT = 0.02  # seconds GetQueryExecution waits for a running query to end
# "Athena keeps query history for 45 days" (executions, not their result files in S3):
# https://docs.aws.amazon.com/athena/latest/ug/queries-viewing-history.html
HISTORY_SECONDS = 45 * 86400
EXPIRY_INTERVAL = 3600  # seconds between looks for executions past it

# Operations authorized on the workgroup of the execution / named query they name.
_BY_EXECUTION = {"GetQueryExecution", "GetQueryResults", "GetQueryRuntimeStatistics", "StopQueryExecution"}
_BY_NAMED_QUERY = {"GetNamedQuery", "DeleteNamedQuery", "UpdateNamedQuery"}


def _ts(seconds: float | None) -> dt.datetime | None:
    return None if seconds is None else dt.datetime.fromtimestamp(seconds, dt.UTC)


def _default_configuration() -> dict:
    return {"EnforceWorkGroupConfiguration": False, "PublishCloudWatchMetricsEnabled": False,
            "RequesterPaysEnabled": False, "EngineVersion": dict(ENGINE_VERSION)}


class AthenaProvider(Provider):
    service = "athena"
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonathena.html
    ACTIONS = {
        **{op: Action(f"athena:{op}", WORKGROUP) for op in (
            "StartQueryExecution", "GetQueryExecution", "GetQueryResults", "GetQueryRuntimeStatistics",
            "StopQueryExecution", "ListQueryExecutions", "BatchGetQueryExecution", "GetWorkGroup", "UpdateWorkGroup",
            "DeleteWorkGroup", "CreateWorkGroup", "CreateNamedQuery", "GetNamedQuery", "DeleteNamedQuery",
            "UpdateNamedQuery", "ListNamedQueries", "BatchGetNamedQuery", "CreatePreparedStatement",
            "GetPreparedStatement", "UpdatePreparedStatement", "DeletePreparedStatement", "ListPreparedStatements",
            "BatchGetPreparedStatement")},
        **{op: Action(f"athena:{op}", DATACATALOG) for op in (
            "ListDatabases", "GetDatabase", "ListTableMetadata", "GetTableMetadata")},
        **{op: Action(f"athena:{op}", "arn:aws:athena:{region}:{account}:datacatalog/{Name}") for op in (
            "CreateDataCatalog", "GetDataCatalog", "UpdateDataCatalog", "DeleteDataCatalog")},
        "ListWorkGroups": Action("athena:ListWorkGroups"),
        "ListDataCatalogs": Action("athena:ListDataCatalogs"),
        "ListEngineVersions": Action("athena:ListEngineVersions"),
        "TagResource": Action("athena:TagResource", "{ResourceARN}"),
        "UntagResource": Action("athena:UntagResource", "{ResourceARN}"),
        "ListTagsForResource": Action("athena:ListTagsForResource", "{ResourceARN}"),
    }

    def __init__(self, stack):
        super().__init__(stack)
        settings = stack.settings
        self.store = AthenaStore(settings.state_dir)
        self.work_dir = work_dir(settings.home)
        self.engines = Engines(self._make_engine, settings.home / "scratch" / "duckdb")
        self.schemas = SchemaCache()
        workers = int(getattr(settings, "athena_workers", 0) or 0) or 4
        self.executions = Executions(self, workers)
        self._next_expiry = 0.0

    @property
    def engine(self) -> SqlEngine:
        """The DuckDB database new queries run in, made on first use (a server that never
        runs a query does not pay for loading extensions and macros); see engines.py."""
        return self.engines.current

    def _make_engine(self, temp_dir) -> SqlEngine:
        threads = int(getattr(self.stack.settings, "athena_engine_threads", 0) or 0) or None
        self.work_dir.mkdir(parents=True, exist_ok=True)
        return SqlEngine(temp_dir=temp_dir, threads=threads)

    def start(self) -> None:
        self.executions.recover()
        self.expire_history()

    def expire_history(self) -> None:
        """Forget executions older than AWS keeps them; looks at most once an interval."""
        now = time.time()
        if now >= self._next_expiry:
            self._next_expiry = now + EXPIRY_INTERVAL
            self.store.expire_executions(now - HISTORY_SECONDS)

    def stop(self) -> None:
        self.executions.shutdown()
        self.engines.close()
        self.store.close()

    # -- authorization ------------------------------------------------------------------------

    def authorization(self, ctx, params):
        params = dict(params)
        if ctx.operation in _BY_EXECUTION and params.get("QueryExecutionId"):
            row = self.store.execution(params["QueryExecutionId"])
            if row is not None:
                params["WorkGroup"] = row["workgroup"]
        elif ctx.operation in _BY_NAMED_QUERY and params.get("NamedQueryId"):
            row = self.store.named_query(params["NamedQueryId"])
            if row is not None:
                params["WorkGroup"] = row["workgroup"]
        elif ctx.operation == "CreateWorkGroup":
            params["WorkGroup"] = params.get("Name", "")
        elif ctx.operation in ("GetDatabase", "ListDatabases", "GetTableMetadata", "ListTableMetadata"):
            params.setdefault("CatalogName", DEFAULT_CATALOG)
        params.setdefault("WorkGroup", PRIMARY)
        return super().authorization(ctx, params)

    # -- workgroups ---------------------------------------------------------------------------

    def _workgroup_row(self, account: str, region: str, name: str):
        row = self.store.workgroup(account, region, name)
        if row is None and name == PRIMARY:
            self.store.put_workgroup(account, region, PRIMARY, "ENABLED", None, _default_configuration(), replace=False)
            row = self.store.workgroup(account, region, name)
        return row

    def _require_workgroup(self, ctx, name: str | None):
        name = name or PRIMARY
        row = self._workgroup_row(ctx.account_id, ctx.region, name)
        if row is None:
            raise invalid_request(f"WorkGroup {name} is not found.")
        return row

    def create_work_group(self, ctx, params):
        name = params["Name"]
        configuration = _default_configuration()
        configuration.update(copy.deepcopy(params.get("Configuration") or {}))
        if "EngineVersion" in (params.get("Configuration") or {}):
            configuration["EngineVersion"] = dict(ENGINE_VERSION)
        if self._workgroup_row(ctx.account_id, ctx.region, name) is not None or not self.store.put_workgroup(
                ctx.account_id, ctx.region, name, "ENABLED", params.get("Description"), configuration, replace=False):
            raise invalid_request(f"WorkGroup is already created: {name}")
        self._tag(ctx, self._workgroup_arn(ctx, name), params.get("Tags"))
        return {}

    def get_work_group(self, ctx, params):
        row = self._require_workgroup(ctx, params["WorkGroup"])
        return {"WorkGroup": self._workgroup_out(row)}

    def _workgroup_out(self, row) -> dict:
        configuration = loads(row["configuration"]) or {}
        configuration.setdefault("EngineVersion", dict(ENGINE_VERSION))
        out = {"Name": row["name"], "State": row["state"], "Configuration": configuration,
               "CreationTime": _ts(row["created"])}
        if row["description"]:
            out["Description"] = row["description"]
        return out

    def list_work_groups(self, ctx, params):
        self._workgroup_row(ctx.account_id, ctx.region, PRIMARY)
        rows = self.store.workgroups(ctx.account_id, ctx.region)
        start = _offset_token(params)
        limit = params.get("MaxResults") or 50
        page = rows[start:start + limit]
        out = {"WorkGroups": [{"Name": r["name"], "State": r["state"], "Description": r["description"] or "",
                               "CreationTime": _ts(r["created"]), "EngineVersion": dict(ENGINE_VERSION)}
                              for r in page]}
        if start + limit < len(rows):
            out["NextToken"] = str(start + limit)
        return out

    def update_work_group(self, ctx, params):
        row = self._require_workgroup(ctx, params["WorkGroup"])
        configuration = loads(row["configuration"]) or {}
        updates = params.get("ConfigurationUpdates") or {}
        for key in ("EnforceWorkGroupConfiguration", "PublishCloudWatchMetricsEnabled", "RequesterPaysEnabled",
                    "BytesScannedCutoffPerQuery", "AdditionalConfiguration", "ExecutionRole"):
            if key in updates:
                configuration[key] = updates[key]
        if updates.get("RemoveBytesScannedCutoffPerQuery"):
            configuration.pop("BytesScannedCutoffPerQuery", None)
        result_updates = updates.get("ResultConfigurationUpdates") or {}
        result = configuration.setdefault("ResultConfiguration", {})
        for key in ("OutputLocation", "EncryptionConfiguration", "ExpectedBucketOwner", "AclConfiguration"):
            if key in result_updates:
                result[key] = result_updates[key]
            if result_updates.get(f"Remove{key}"):
                result.pop(key, None)
        if not result:
            configuration.pop("ResultConfiguration", None)
        state = params.get("State") or row["state"]
        description = params.get("Description", row["description"])
        self.store.put_workgroup(ctx.account_id, ctx.region, row["name"], state, description, configuration,
                                 created=row["created"])
        return {}

    def delete_work_group(self, ctx, params):
        name = params["WorkGroup"]
        if name == PRIMARY:
            raise invalid_request("The primary workgroup cannot be deleted.")
        self._require_workgroup(ctx, name)
        if not params.get("RecursiveDeleteOption") and self.store.named_queries(ctx.account_id, ctx.region, name):
            raise invalid_request(f"WorkGroup {name} is not empty. Use RecursiveDeleteOption to delete it with its "
                                  "named queries.")
        self.store.delete_workgroup(ctx.account_id, ctx.region, name)
        return {}

    def _workgroup_arn(self, ctx, name: str) -> str:
        return f"arn:aws:athena:{ctx.region}:{ctx.account_id}:workgroup/{name}"

    # -- query executions ---------------------------------------------------------------------

    def start_query_execution(self, ctx, params):
        self.expire_history()
        query_string = params["QueryString"]
        workgroup = self._require_workgroup(ctx, params.get("WorkGroup"))
        if workgroup["state"] != "ENABLED":
            raise invalid_request(f"WorkGroup {workgroup['name']} is disabled.")
        token = params.get("ClientRequestToken")
        if token:
            existing = self.store.execution_by_token(ctx.account_id, ctx.region, token)
            if existing is not None:
                if existing["query"] != query_string:
                    raise invalid_request("Idempotent parameters do not match")
                return {"QueryExecutionId": existing["id"]}
        configuration = loads(workgroup["configuration"]) or {}
        enforced = bool(configuration.get("EnforceWorkGroupConfiguration"))
        result_configuration = dict(configuration.get("ResultConfiguration") or {})
        if not enforced:
            for key, value in (params.get("ResultConfiguration") or {}).items():
                result_configuration[key] = value
        output_prefix = result_configuration.get("OutputLocation")
        if not output_prefix:
            raise invalid_request("No output location provided. An output location is required either through the "
                                  "Workgroup result configuration setting or as an API input.")
        if not output_prefix.startswith("s3://"):
            raise invalid_request(f"Invalid output location: {output_prefix}")
        context = dict(params.get("QueryExecutionContext") or {})
        execution_id = str(uuid.uuid4())
        kind = statement_type(query_string)
        location = result_location(output_prefix, execution_id, kind)
        stored_result = dict(result_configuration, OutputLocation=location)
        submitted = time.time()
        self.store.insert_execution({
            "id": execution_id, "account": ctx.account_id, "region": ctx.region, "workgroup": workgroup["name"],
            "query": query_string, "statement_type": kind, "context": dumps(context),
            "result_configuration": dumps(stored_result),
            "execution_parameters": dumps(params.get("ExecutionParameters")), "client_token": token,
            "state": "QUEUED", "submitted": submitted,
            "principal_arn": ctx.principal.arn if ctx.principal else None,
        })
        spec = {"region": ctx.region, "workgroup": workgroup["name"], "database": context.get("Database"),
                "catalog": context.get("Catalog"), "output_prefix": output_prefix,
                "parameters": params.get("ExecutionParameters") or [],
                "encryption": result_configuration.get("EncryptionConfiguration"),
                "cutoff": configuration.get("BytesScannedCutoffPerQuery")}
        self.executions.submit(execution_id, ctx.principal, spec)
        return {"QueryExecutionId": execution_id}

    def _execution(self, ctx, execution_id: str):
        row = self.store.execution(execution_id)
        if row is None or row["account"] != ctx.account_id or row["region"] != ctx.region:
            raise invalid_request(f"QueryExecution {execution_id} was not found")
        return row

    def _execution_out(self, row) -> dict:
        status = {"State": row["state"], "SubmissionDateTime": _ts(row["submitted"])}
        if row["completed"] is not None:
            status["CompletionDateTime"] = _ts(row["completed"])
        if row["reason"]:
            status["StateChangeReason"] = row["reason"]
        if row["error"]:
            status["AthenaError"] = loads(row["error"])
        statistics = loads(row["statistics"]) or {}
        statistics.pop("__rows", None)
        if not statistics:
            now = time.time()
            started = row["started"]
            statistics = {"TotalExecutionTimeInMillis": int((now - row["submitted"]) * 1000),
                          "QueryQueueTimeInMillis": int(((started or now) - row["submitted"]) * 1000),
                          "EngineExecutionTimeInMillis": int((now - started) * 1000) if started else 0,
                          "DataScannedInBytes": 0}
        out = {
            "QueryExecutionId": row["id"], "Query": row["query"], "StatementType": row["statement_type"],
            "ResultConfiguration": loads(row["result_configuration"]) or {},
            "ResultReuseConfiguration": {"ResultReuseByAgeConfiguration": {"Enabled": False}},
            "QueryExecutionContext": loads(row["context"]) or {},
            "Status": status, "Statistics": statistics, "WorkGroup": row["workgroup"],
            "EngineVersion": dict(ENGINE_VERSION),
        }
        if row["substatement_type"]:
            out["SubstatementType"] = row["substatement_type"]
        parameters = loads(row["execution_parameters"])
        if parameters:
            out["ExecutionParameters"] = parameters
        return out

    def get_query_execution(self, ctx, params):
        row = self._execution(ctx, params["QueryExecutionId"])
        if row["state"] in ("QUEUED", "RUNNING"):
            # Answer a moment later if the query ends meanwhile: a client polling in a tight
            # loop then learns of the end at once instead of on its next poll, and its polls
            # stop competing with the query for CPU. (AWS itself takes tens of milliseconds
            # to answer this call.)
            self.executions.wait(row["id"], POLL_WAIT)
            row = self._execution(ctx, params["QueryExecutionId"])
        return {"QueryExecution": self._execution_out(row)}

    def batch_get_query_execution(self, ctx, params):
        found, missing = [], []
        for execution_id in params["QueryExecutionIds"]:
            row = self.store.execution(execution_id)
            if row is None or row["account"] != ctx.account_id or row["region"] != ctx.region:
                missing.append({"QueryExecutionId": execution_id, "ErrorCode": "INVALID_INPUT",
                                "ErrorMessage": f"QueryExecution {execution_id} was not found"})
            else:
                found.append(self._execution_out(row))
        return {"QueryExecutions": found, "UnprocessedQueryExecutionIds": missing}

    def list_query_executions(self, ctx, params):
        workgroup = self._require_workgroup(ctx, params.get("WorkGroup"))
        limit = params.get("MaxResults") or 50
        after = None
        if params.get("NextToken"):
            try:
                after = float(params["NextToken"])
            except ValueError:
                raise invalid_request("Invalid NextToken") from None
        rows = self.store.list_executions(ctx.account_id, ctx.region, workgroup["name"], after, limit + 1)
        out = {"QueryExecutionIds": [r["id"] for r in rows[:limit]]}
        if len(rows) > limit:
            out["NextToken"] = repr(rows[limit - 1]["submitted"])
        return out

    def stop_query_execution(self, ctx, params):
        row = self._execution(ctx, params["QueryExecutionId"])
        if row["state"] not in ("SUCCEEDED", "FAILED", "CANCELLED"):
            self.executions.stop(row["id"])
        return {}

    def get_query_results(self, ctx, params):
        row = self._execution(ctx, params["QueryExecutionId"])
        state = row["state"]
        if state in ("QUEUED", "RUNNING"):
            raise invalid_request(f"Query has not yet finished. Current state: {state}")
        if state == "FAILED":
            raise invalid_request(row["reason"] or "Query failed")
        if state == "CANCELLED":
            raise invalid_request("Query was cancelled: " + (row["reason"] or "Query cancelled by user"))
        limit = min(params.get("MaxResults") or MAX_PAGE, MAX_PAGE)
        columns = columns_from(row)
        location = (loads(row["result_configuration"]) or {}).get("OutputLocation")
        offset, header_done = 0, False
        if params.get("NextToken"):
            try:
                offset, header_done = results.decode_token(params["NextToken"])
            except (ValueError, TypeError):
                raise invalid_request("Invalid NextToken") from None
        kind = row["result_kind"] or ("csv" if location.endswith(".csv") else "text")
        lake = Lake(self.stack, ctx.principal, ctx.region)
        chunk = results.CHUNK
        while True:
            data = lake.get(location, offset) if location else b""
            if len(data) > chunk:
                data = data[:chunk]
                final = False
            else:
                final = True
            parser = results.parse_csv if kind == "csv" else results.parse_text
            rows, consumed = parser(data, limit, final)
            if rows or final or not data:
                break
            chunk *= 4  # a single row larger than the chunk
        out_rows = [{"Data": [{} if v is None else {"VarCharValue": v} for v in r]} for r in rows]
        next_offset = offset + consumed
        response = {
            "UpdateCount": row["update_count"] or 0,
            "ResultSet": {"Rows": out_rows, "ResultSetMetadata": {"ColumnInfo": [
                {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": c["name"], "Label": c["name"],
                 "Type": c["type"], "Precision": c["precision"], "Scale": c["scale"], "Nullable": "UNKNOWN",
                 "CaseSensitive": c["case_sensitive"]} for c in columns]}},
        }
        if not (final and next_offset >= offset + len(data)) and rows:
            response["NextToken"] = results.encode_token(next_offset, True)
        return response

    def get_query_runtime_statistics(self, ctx, params):
        row = self._execution(ctx, params["QueryExecutionId"])
        statistics = loads(row["statistics"]) or {}
        counts = statistics.get("__rows") or {}
        timeline = {k: statistics[k] for k in ("QueryQueueTimeInMillis", "ServicePreProcessingTimeInMillis",
                                               "QueryPlanningTimeInMillis", "EngineExecutionTimeInMillis",
                                               "ServiceProcessingTimeInMillis", "TotalExecutionTimeInMillis")
                    if k in statistics}
        rows = {"InputBytes": counts.get("InputBytes", statistics.get("DataScannedInBytes", 0)),
                "OutputBytes": counts.get("OutputBytes", 0), "OutputRows": counts.get("OutputRows", 0)}
        return {"QueryRuntimeStatistics": {"Timeline": timeline, "Rows": rows}}

    def check_scan_cutoff(self, query) -> None:
        """The workgroup's BytesScannedCutoffPerQuery, checked before the engine runs."""
        cutoff = getattr(query, "scan_cutoff", None)
        if cutoff and query.scanned_bytes > cutoff:
            raise QueryError("EXCEEDED_BYTES_SCANNED_LIMIT",
                             f"Query cancelled! : Bytes scanned limit was exceeded. The query would scan "
                             f"{query.scanned_bytes} bytes; the workgroup's cutoff is {cutoff} bytes.")

    # -- named queries ------------------------------------------------------------------------

    def create_named_query(self, ctx, params):
        workgroup = self._require_workgroup(ctx, params.get("WorkGroup"))
        token = params.get("ClientRequestToken")
        if token:
            existing = self.store.named_query_by_token(ctx.account_id, ctx.region, token)
            if existing is not None:
                return {"NamedQueryId": existing["id"]}
        query_id = str(uuid.uuid4())
        self.store.put_named_query({"id": query_id, "account": ctx.account_id, "region": ctx.region,
                                    "name": params["Name"], "description": params.get("Description"),
                                    "database": params["Database"], "query": params["QueryString"],
                                    "workgroup": workgroup["name"], "client_token": token})
        return {"NamedQueryId": query_id}

    def _named_query(self, ctx, query_id: str):
        row = self.store.named_query(query_id)
        if row is None or row["account"] != ctx.account_id or row["region"] != ctx.region:
            raise invalid_request(f"NamedQuery {query_id} was not found")
        return row

    @staticmethod
    def _named_query_out(row) -> dict:
        out = {"Name": row["name"], "Database": row["database"], "QueryString": row["query"],
               "NamedQueryId": row["id"], "WorkGroup": row["workgroup"]}
        if row["description"]:
            out["Description"] = row["description"]
        return out

    def get_named_query(self, ctx, params):
        return {"NamedQuery": self._named_query_out(self._named_query(ctx, params["NamedQueryId"]))}

    def batch_get_named_query(self, ctx, params):
        found, missing = [], []
        for query_id in params["NamedQueryIds"]:
            row = self.store.named_query(query_id)
            if row is None or row["account"] != ctx.account_id:
                missing.append({"NamedQueryId": query_id, "ErrorCode": "INVALID_INPUT",
                                "ErrorMessage": f"NamedQuery {query_id} was not found"})
            else:
                found.append(self._named_query_out(row))
        return {"NamedQueries": found, "UnprocessedNamedQueryIds": missing}

    def list_named_queries(self, ctx, params):
        workgroup = self._require_workgroup(ctx, params.get("WorkGroup"))
        ids = [r["id"] for r in self.store.named_queries(ctx.account_id, ctx.region, workgroup["name"])]
        start = _offset_token(params)
        limit = params.get("MaxResults") or 50
        out = {"NamedQueryIds": ids[start:start + limit]}
        if start + limit < len(ids):
            out["NextToken"] = str(start + limit)
        return out

    def update_named_query(self, ctx, params):
        row = dict(self._named_query(ctx, params["NamedQueryId"]))
        row.update(name=params["Name"], description=params.get("Description"), query=params["QueryString"])
        self.store.put_named_query(row)
        return {}

    def delete_named_query(self, ctx, params):
        self._named_query(ctx, params["NamedQueryId"])
        self.store.delete_named_query(params["NamedQueryId"])
        return {}

    # -- prepared statements --------------------------------------------------------------------

    def create_prepared_statement(self, ctx, params):
        workgroup = self._require_workgroup(ctx, params["WorkGroup"])
        if self.store.prepared(ctx.account_id, ctx.region, workgroup["name"], params["StatementName"]):
            raise invalid_request(f"Prepared statement {params['StatementName']} already exists")
        self._check_preparable(params["QueryStatement"])
        self.store.put_prepared(ctx.account_id, ctx.region, workgroup["name"], params["StatementName"],
                                params["QueryStatement"], params.get("Description"))
        return {}

    @staticmethod
    def _check_preparable(sql: str) -> None:
        from lakestack.engines.sql.parsing import parse

        try:
            parse(sql)
        except QueryError as error:
            raise invalid_request(error.reason) from None

    def _prepared(self, ctx, workgroup: str, name: str):
        row = self.store.prepared(ctx.account_id, ctx.region, workgroup, name)
        if row is None:
            raise not_found(f"Prepared statement {name} was not found in workgroup {workgroup}.", name)
        return row

    @staticmethod
    def _prepared_out(row) -> dict:
        out = {"StatementName": row["name"], "QueryStatement": row["query"], "WorkGroupName": row["workgroup"],
               "LastModifiedTime": _ts(row["modified"])}
        if row["description"]:
            out["Description"] = row["description"]
        return out

    def get_prepared_statement(self, ctx, params):
        workgroup = self._require_workgroup(ctx, params["WorkGroup"])
        return {"PreparedStatement": self._prepared_out(self._prepared(ctx, workgroup["name"],
                                                                       params["StatementName"]))}

    def batch_get_prepared_statement(self, ctx, params):
        workgroup = self._require_workgroup(ctx, params["WorkGroup"])
        found, missing = [], []
        for name in params["PreparedStatementNames"]:
            row = self.store.prepared(ctx.account_id, ctx.region, workgroup["name"], name)
            if row is None:
                missing.append({"StatementName": name, "ErrorCode": "INVALID_INPUT",
                                "ErrorMessage": f"Prepared statement {name} was not found"})
            else:
                found.append(self._prepared_out(row))
        return {"PreparedStatements": found, "UnprocessedPreparedStatementNames": missing}

    def list_prepared_statements(self, ctx, params):
        workgroup = self._require_workgroup(ctx, params["WorkGroup"])
        rows = self.store.prepared_list(ctx.account_id, ctx.region, workgroup["name"])
        start = _offset_token(params)
        limit = params.get("MaxResults") or 50
        out = {"PreparedStatements": [{"StatementName": r["name"], "LastModifiedTime": _ts(r["modified"])}
                                      for r in rows[start:start + limit]]}
        if start + limit < len(rows):
            out["NextToken"] = str(start + limit)
        return out

    def update_prepared_statement(self, ctx, params):
        workgroup = self._require_workgroup(ctx, params["WorkGroup"])
        self._prepared(ctx, workgroup["name"], params["StatementName"])
        self._check_preparable(params["QueryStatement"])
        self.store.put_prepared(ctx.account_id, ctx.region, workgroup["name"], params["StatementName"],
                                params["QueryStatement"], params.get("Description"))
        return {}

    def delete_prepared_statement(self, ctx, params):
        workgroup = self._require_workgroup(ctx, params["WorkGroup"])
        self._prepared(ctx, workgroup["name"], params["StatementName"])
        self.store.delete_prepared(ctx.account_id, ctx.region, workgroup["name"], params["StatementName"])
        return {}

    # -- data catalogs ------------------------------------------------------------------------

    def is_glue_catalog(self, account: str, region: str, name: str) -> bool:
        """A catalog queries may name: AwsDataCatalog, or a GLUE catalog of this account."""
        if name.lower() == DEFAULT_CATALOG.lower():
            return True
        for row in self.store.catalogs(account, region):
            if row["name"].lower() == name.lower() and row["type"] == "GLUE":
                catalog_id = (loads(row["parameters"]) or {}).get("catalog-id", account)
                return catalog_id == account
        return False

    def _catalog_out(self, ctx, name: str) -> dict:
        if name.lower() == DEFAULT_CATALOG.lower():
            return {"Name": DEFAULT_CATALOG, "Description": "AWS Glue Data Catalog", "Type": "GLUE",
                    "Parameters": {"catalog-id": ctx.account_id}, "Status": "CREATE_COMPLETE"}
        row = self.store.catalog(ctx.account_id, ctx.region, name)
        if row is None:
            raise invalid_request(f"DataCatalog {name} was not found", "INVALID_INPUT")
        out = {"Name": row["name"], "Type": row["type"], "Parameters": loads(row["parameters"]) or {},
               "Status": "CREATE_COMPLETE"}
        if row["description"]:
            out["Description"] = row["description"]
        return out

    def create_data_catalog(self, ctx, params):
        name = params["Name"]
        if name.lower() == DEFAULT_CATALOG.lower() or self.store.catalog(ctx.account_id, ctx.region, name):
            raise invalid_request(f"DataCatalog {name} already exists")
        self.store.put_catalog(ctx.account_id, ctx.region, name, params["Type"], params.get("Description"),
                               params.get("Parameters"))
        self._tag(ctx, f"arn:aws:athena:{ctx.region}:{ctx.account_id}:datacatalog/{name}", params.get("Tags"))
        return {"DataCatalog": self._catalog_out(ctx, name)}

    def get_data_catalog(self, ctx, params):
        return {"DataCatalog": self._catalog_out(ctx, params["Name"])}

    def list_data_catalogs(self, ctx, params):
        summaries = [{"CatalogName": DEFAULT_CATALOG, "Type": "GLUE", "Status": "CREATE_COMPLETE"}]
        summaries += [{"CatalogName": r["name"], "Type": r["type"], "Status": "CREATE_COMPLETE"}
                      for r in self.store.catalogs(ctx.account_id, ctx.region)]
        return {"DataCatalogsSummary": summaries}

    def update_data_catalog(self, ctx, params):
        name = params["Name"]
        if self.store.catalog(ctx.account_id, ctx.region, name) is None:
            raise invalid_request(f"DataCatalog {name} was not found")
        self.store.put_catalog(ctx.account_id, ctx.region, name, params["Type"], params.get("Description"),
                               params.get("Parameters"))
        return {}

    def delete_data_catalog(self, ctx, params):
        name = params["Name"]
        if name.lower() == DEFAULT_CATALOG.lower():
            raise invalid_request("The AwsDataCatalog cannot be deleted.")
        out = self._catalog_out(ctx, name)
        self.store.delete_catalog(ctx.account_id, ctx.region, name)
        out["Status"] = "DELETE_COMPLETE"
        return {"DataCatalog": out}

    # -- catalog metadata -------------------------------------------------------------------------

    def _glue(self, ctx, catalog_name: str | None) -> GlueCatalog:
        name = catalog_name or DEFAULT_CATALOG
        if not self.is_glue_catalog(ctx.account_id, ctx.region, name):
            raise metadata_error(f"Catalog {name} is not a Glue catalog of this account, or does not exist")
        return GlueCatalog(self.stack, ctx.principal, ctx.region)

    def list_databases(self, ctx, params):
        glue = self._glue(ctx, params.get("CatalogName"))
        databases = sorted(glue.databases(), key=lambda d: d["Name"])
        start = _offset_token(params)
        limit = params.get("MaxResults") or 50
        out = {"DatabaseList": [_database_out(d) for d in databases[start:start + limit]]}
        if start + limit < len(databases):
            out["NextToken"] = str(start + limit)
        return out

    def get_database(self, ctx, params):
        glue = self._glue(ctx, params.get("CatalogName"))
        database = glue.database(params["DatabaseName"].lower())
        if database is None:
            raise metadata_error(f"Database {params['DatabaseName']} not found.")
        return {"Database": _database_out(database)}

    def list_table_metadata(self, ctx, params):
        glue = self._glue(ctx, params.get("CatalogName"))
        database = params["DatabaseName"].lower()
        if glue.database(database) is None:
            raise metadata_error(f"Database {database} not found.")
        tables = sorted(glue.tables(database), key=lambda t: t["Name"])
        expression = params.get("Expression")
        if expression:
            import fnmatch

            tables = [t for t in tables if fnmatch.fnmatchcase(t["Name"], expression.replace(".*", "*"))]
        start = _offset_token(params)
        limit = params.get("MaxResults") or 50
        out = {"TableMetadataList": [_table_metadata(t) for t in tables[start:start + limit]]}
        if start + limit < len(tables):
            out["NextToken"] = str(start + limit)
        return out

    def get_table_metadata(self, ctx, params):
        glue = self._glue(ctx, params.get("CatalogName"))
        database, name = params["DatabaseName"].lower(), params["TableName"].lower()
        table = glue.table(database, name)
        if table is None:
            if glue.database(database) is None:
                raise metadata_error(f"Database {database} not found.")
            raise metadata_error(f"Table {name} not found.")
        return {"TableMetadata": _table_metadata(table)}

    def list_engine_versions(self, ctx, params):
        return {"EngineVersions": [{"SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": "Athena engine version 3"},
                                   {"SelectedEngineVersion": "Athena engine version 3",
                                    "EffectiveEngineVersion": "Athena engine version 3"}]}

    # -- tags ---------------------------------------------------------------------------------

    def _tag(self, ctx, arn: str, tags: list[dict] | None) -> None:
        if tags:
            current = self.store.tags(arn)
            current.update({t["Key"]: t.get("Value", "") for t in tags})
            self.store.put_tags(arn, current)

    def _require_resource(self, ctx, arn: str) -> None:
        parts = arn.split(":", 5)
        if len(parts) < 6 or parts[2] != "athena":
            raise invalid_request(f"Invalid ARN: {arn}")
        kind, _, name = parts[5].partition("/")
        if kind == "workgroup" and self._workgroup_row(ctx.account_id, ctx.region, name) is not None:
            return
        if kind == "datacatalog" and (name.lower() == DEFAULT_CATALOG.lower()
                                      or self.store.catalog(ctx.account_id, ctx.region, name) is not None):
            return
        raise not_found(f"Resource {arn} was not found", arn)

    def tag_resource(self, ctx, params):
        self._require_resource(ctx, params["ResourceARN"])
        self._tag(ctx, params["ResourceARN"], params["Tags"])
        return {}

    def untag_resource(self, ctx, params):
        self._require_resource(ctx, params["ResourceARN"])
        current = self.store.tags(params["ResourceARN"])
        for key in params["TagKeys"]:
            current.pop(key, None)
        self.store.put_tags(params["ResourceARN"], current)
        return {}

    def list_tags_for_resource(self, ctx, params):
        self._require_resource(ctx, params["ResourceARN"])
        tags = self.store.tags(params["ResourceARN"])
        return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}


def _database_out(database: dict) -> dict:
    out = {"Name": database["Name"]}
    if database.get("Description"):
        out["Description"] = database["Description"]
    if database.get("Parameters"):
        out["Parameters"] = database["Parameters"]
    return out


def _table_metadata(table: dict) -> dict:
    descriptor = table.get("StorageDescriptor") or {}
    parameters = dict(table.get("Parameters") or {})
    for key in ("InputFormat", "OutputFormat", "Location"):
        if descriptor.get(key):
            parameters[{"InputFormat": "inputformat", "OutputFormat": "outputformat",
                        "Location": "location"}[key]] = descriptor[key]
    serde = (descriptor.get("SerdeInfo") or {})
    if serde.get("SerializationLibrary"):
        parameters["serde.serialization.lib"] = serde["SerializationLibrary"]
    for key, value in (serde.get("Parameters") or {}).items():
        parameters[f"serde.param.{key}"] = value
    out = {"Name": table["Name"], "TableType": table.get("TableType", "EXTERNAL_TABLE"),
           "Columns": [_column(c) for c in descriptor.get("Columns") or []],
           "PartitionKeys": [_column(c) for c in table.get("PartitionKeys") or []],
           "Parameters": {k: str(v) for k, v in parameters.items()}}
    if table.get("CreateTime"):
        out["CreateTime"] = table["CreateTime"]
    if table.get("LastAccessTime"):
        out["LastAccessTime"] = table["LastAccessTime"]
    return out


def _column(column: dict) -> dict:
    out = {"Name": column["Name"], "Type": column.get("Type", "string")}
    if column.get("Comment"):
        out["Comment"] = column["Comment"]
    return out


def _offset_token(params: dict) -> int:
    """The list offset a NextToken of ours encodes; anything else is the client's error."""
    token = params.get("NextToken") or "0"
    if not token.isdigit():
        raise invalid_request("Invalid NextToken")
    return int(token)
