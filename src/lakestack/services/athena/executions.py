"""Query executions: queued, run in a worker pool, recorded in the store.

StartQueryExecution only records the execution and hands it to the pool, so the gateway is
never blocked by a query; StopQueryExecution marks it cancelled and interrupts DuckDB.
Every state change is committed before anyone can see it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lakestack.aws.errors import AwsError
from lakestack.engines.sql.engine import csv_header
from lakestack.engines.sql.errors import QueryError
from lakestack.engines.sql.types import ColumnInfo
from lakestack.services.athena import results, statements
from lakestack.services.athena.lake import Lake, split_uri
from lakestack.services.athena.queries import Cancelled, Outcome, Query
from lakestack.services.athena.store import dumps

log = logging.getLogger("lakestack.athena")

FINAL_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")


def _millis(seconds: float) -> int:
    return max(0, int(round(seconds * 1000)))


class Executions:
    def __init__(self, provider, workers: int):
        self.provider = provider
        self.store = provider.store
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lakestack-athena")
        self._running: dict[str, Query] = {}
        self._finished: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def shutdown(self) -> None:
        with self._lock:
            running = list(self._running.values())
        for query in running:
            query.cancel()
        self.pool.shutdown(wait=False, cancel_futures=True)

    def recover(self) -> None:
        """Executions that were queued or running when lakestack stopped have failed."""
        for row in self.store.interrupted():
            self.store.finish_execution(
                row["id"], "FAILED",
                reason="GENERIC_INTERNAL_ERROR: The query was interrupted because lakestack stopped.",
                error=dumps({"ErrorCategory": 1, "ErrorType": 200, "Retryable": True,
                             "ErrorMessage": "The query was interrupted because lakestack stopped."}))

    def submit(self, execution_id: str, principal, spec: dict) -> None:
        with self._lock:
            self._finished[execution_id] = threading.Event()
        self.pool.submit(self._run, execution_id, principal, spec)

    def wait(self, execution_id: str, seconds: float) -> None:
        """Wait up to `seconds` for a queued or running execution to end."""
        with self._lock:
            event = self._finished.get(execution_id)
        if event is not None:
            event.wait(seconds)

    def _ended(self, execution_id: str) -> None:
        with self._lock:
            event = self._finished.pop(execution_id, None)
        if event is not None:
            event.set()

    def stop(self, execution_id: str) -> None:
        if self.store.finish_execution(execution_id, "CANCELLED", reason="Query cancelled by user",
                                       error=dumps({"ErrorCategory": 2, "ErrorType": 1000, "Retryable": False,
                                                    "ErrorMessage": "Query cancelled by user"})):
            with self._lock:
                query = self._running.get(execution_id)
            if query is not None:
                query.cancel()

    # -- running ----------------------------------------------------------------------------

    def _run(self, execution_id: str, principal, spec: dict) -> None:
        try:
            row = self.store.execution(execution_id)
            if row is None or row["state"] != "QUEUED":
                return  # cancelled while it waited
            with self.provider.engines.lease() as engine:
                self._execute(execution_id, principal, spec, row, engine)
        except Exception as error:  # noqa: BLE001 - no database to run in: the query fails, the worker goes on
            log.exception("query %s failed", execution_id)
            reason = f"GENERIC_INTERNAL_ERROR: {type(error).__name__}: {error}"
            self.store.finish_execution(execution_id, "FAILED", reason=reason, error=dumps(
                {"ErrorCategory": 1, "ErrorType": 200, "Retryable": False, "ErrorMessage": reason}))
        finally:
            self._ended(execution_id)

    def _execute(self, execution_id: str, principal, spec: dict, row, engine) -> None:
        started = time.time()
        self.store.update_execution(execution_id, state="RUNNING", started=started)
        provider = self.provider
        query = Query(execution_id=execution_id, stack=provider.stack, engine=engine,
                      schemas=provider.schemas, principal=principal, region=spec["region"],
                      database=spec.get("database"), catalog=spec.get("catalog"), workgroup=spec["workgroup"],
                      output_location=spec["output_prefix"], parameters=spec.get("parameters") or [],
                      work_dir=provider.work_dir, provider=provider)
        query.scan_cutoff = spec.get("cutoff")
        with self._lock:
            self._running[execution_id] = query
        csv_path = None
        try:
            if self.store.execution(execution_id)["state"] != "RUNNING":
                raise Cancelled()
            outcome = statements.run(query, row["query"])
            csv_path = outcome.csv_path
            engine_done = time.time()
            query.check()
            output_bytes = self._write_results(query, outcome, spec)
            finished = time.time()
            statistics = {
                "EngineExecutionTimeInMillis": _millis(engine_done - started),
                "DataScannedInBytes": query.scanned_bytes,
                "TotalExecutionTimeInMillis": _millis(finished - row["submitted"]),
                "QueryQueueTimeInMillis": _millis(started - row["submitted"]),
                "ServicePreProcessingTimeInMillis": 0,
                "QueryPlanningTimeInMillis": _millis(query.planning_seconds),
                "ServiceProcessingTimeInMillis": _millis(finished - engine_done),
                "ResultReuseInformation": {"ReusedPreviousResult": False},
                "__rows": {"OutputRows": outcome.rows if outcome.kind != "none" else (outcome.update_count or 0),
                           "OutputBytes": output_bytes, "InputBytes": query.scanned_bytes},
            }
            if outcome.manifest:
                statistics["DataManifestLocation"] = outcome.manifest[0]
            self.store.finish_execution(
                execution_id, "SUCCEEDED", completed=finished, statistics=dumps(statistics),
                columns=dumps([c.__dict__ for c in outcome.columns]), result_kind=outcome.kind,
                statement_type=outcome.statement_type, substatement_type=outcome.substatement_type,
                update_count=outcome.update_count, manifest=outcome.manifest[0] if outcome.manifest else None)
        except Cancelled:
            self._fail(execution_id, row, started, query, "CANCELLED", "Query cancelled by user", 2, 1000)
        except QueryError as error:
            if error.name == "USER_CANCELLED" or query.cancelled:
                self._fail(execution_id, row, started, query, "CANCELLED", "Query cancelled by user", 2, 1000)
            else:
                self._fail(execution_id, row, started, query, "FAILED", error.reason, error.category, error.error_type)
        except AwsError as error:
            reason = f"{error.code}: {error.message}" if error.message else error.code
            if error.code in ("AccessDenied", "AccessDeniedException"):
                reason = f"Access denied: {error.message}"
            elif error.code == "NoSuchBucket":
                bucket, _ = split_uri(spec["output_prefix"])
                reason = f"INVALID_OUTPUT_LOCATION: Unable to verify/create output bucket {bucket}"
            self._fail(execution_id, row, started, query, "FAILED", reason, 2, 1000)
        except Exception as error:  # noqa: BLE001 - a bug must fail the query, not the worker
            log.exception("query %s failed", execution_id)
            self._fail(execution_id, row, started, query, "FAILED",
                       f"GENERIC_INTERNAL_ERROR: {type(error).__name__}: {error}", 1, 200)
        finally:
            with self._lock:
                self._running.pop(execution_id, None)
            query.close()
            if csv_path is not None:
                try:
                    os.unlink(csv_path)
                except FileNotFoundError:
                    pass

    def _fail(self, execution_id: str, row, started: float, query: Query, state: str, reason: str, category: int,
              error_type: int) -> None:
        finished = time.time()
        statistics = {"EngineExecutionTimeInMillis": _millis(finished - started),
                      "DataScannedInBytes": query.scanned_bytes,
                      "TotalExecutionTimeInMillis": _millis(finished - row["submitted"]),
                      "QueryQueueTimeInMillis": _millis(started - row["submitted"]),
                      "ServiceProcessingTimeInMillis": 0}
        self.store.finish_execution(execution_id, state, completed=finished, reason=reason,
                                    statistics=dumps(statistics),
                                    error=dumps({"ErrorCategory": category, "ErrorType": error_type,
                                                 "Retryable": False, "ErrorMessage": reason}))

    def _write_results(self, query: Query, outcome: Outcome, spec: dict) -> int:
        lake: Lake = query.lake
        base = spec["output_prefix"].rstrip("/") + "/" + query.execution_id
        encryption = spec.get("encryption")
        if outcome.kind == "csv":
            header = csv_header([c.name for c in outcome.columns])
            size = len(header) + os.path.getsize(outcome.csv_path)
            with open(outcome.csv_path, "rb") as body:
                self._put(lake, base + ".csv", results.ChainedBody(header, body), size, "text/csv", encryption)
            metadata = results.metadata_bytes(query.execution_id, outcome.columns)
            self._put(lake, base + ".csv.metadata", metadata, len(metadata), "application/octet-stream", encryption)
            return size
        if outcome.kind == "text":
            body = "".join("\t".join("" if v is None else str(v) for v in r) + "\n" for r in outcome.text_rows).encode()
            self._put(lake, base + ".txt", body, len(body), "text/plain", encryption)
            return len(body)
        if outcome.statement_type == "DML":
            outcome.columns = [ColumnInfo("rows", "bigint", 19)]
            outcome.kind = "csv"
            body = csv_header(["rows"]) + f'"{outcome.update_count or 0}"\n'.encode()
            outcome.rows = 1
            self._put(lake, base + ".csv", body, len(body), "text/csv", encryption)
            metadata = results.metadata_bytes(query.execution_id, outcome.columns)
            self._put(lake, base + ".csv.metadata", metadata, len(metadata), "application/octet-stream", encryption)
            return len(body)
        body = b""
        self._put(lake, base + ".txt", body, 0, "text/plain", encryption)
        outcome.kind = "text"
        return 0

    def _put(self, lake: Lake, uri: str, body, size: int, content_type: str, encryption: dict | None) -> None:
        bucket, key = split_uri(uri)
        params = {"Bucket": bucket, "Key": key, "Body": body, "ContentLength": size, "ContentType": content_type}
        option = (encryption or {}).get("EncryptionOption")
        if option == "SSE_KMS":
            params["ServerSideEncryption"] = "aws:kms"
            if encryption.get("KmsKey"):
                params["SSEKMSKeyId"] = encryption["KmsKey"]
        elif option == "SSE_S3":
            params["ServerSideEncryption"] = "AES256"
        lake.stack.call("s3", "PutObject", params, lake.principal, region=lake.region)


def result_location(output_prefix: str, execution_id: str, statement_type: str) -> str:
    kind = ".txt" if statement_type in ("DDL", "UTILITY") else ".csv"
    return f"{output_prefix.rstrip('/')}/{execution_id}{kind}"


def columns_from(row) -> list[dict]:
    return json.loads(row["columns"]) if row["columns"] else []


def work_dir(home: Path) -> Path:
    """Scratch space for result files and writes before they go to S3 (not `<home>/tmp`,
    which is S3's own). Anything left there by a crash is stale: it is removed."""
    path = home / "scratch" / "athena"
    shutil.rmtree(path, ignore_errors=True)
    return path
