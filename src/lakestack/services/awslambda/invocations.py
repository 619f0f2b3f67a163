"""One invocation, end to end: take an environment, hand it the event, wait (at most the
function's timeout), turn what happened into Lambda's answer, and write the invocation's
log — `START`, the function's output, `END`, `REPORT` — to CloudWatch Logs.

Failures are reported as AWS reports them:
https://docs.aws.amazon.com/lambda/latest/dg/python-exceptions.html
- an exception: FunctionError "Unhandled", {errorMessage, errorType, requestId, stackTrace};
- a timeout: {"errorType": "Sandbox.Timedout", "errorMessage": "RequestId: … Error: Task
  timed out after 3.00 seconds"} — the worker is killed;
- the process ending (os._exit, sys.exit, a crash): "Runtime.ExitError";
- memory beyond MemorySize (peak resident size, or an allocation failing under the
  address-space cap): "Runtime.OutOfMemory" — the worker is replaced.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lakestack.runtime.workers import WorkerError, WorkerExited, WorkerTimeout
from lakestack.services.awslambda.environments import Environment, Environments, LineCollector, exit_message

if TYPE_CHECKING:
    from lakestack.services.awslambda.function_logs import LogShipper
    from lakestack.services.awslambda.functions import Function, Version

MAX_RESPONSE = 6 * 1024 * 1024
TAIL_BYTES = 4096


@dataclass
class Outcome:
    payload: bytes
    function_error: str | None  # "Unhandled" when the function failed
    executed_version: str
    log_tail: str | None = None  # base64 of the last 4 KB of the log, when asked for
    error_type: str | None = None


class Invoker:
    def __init__(self, environments: Environments, shipper: LogShipper):
        self.environments = environments
        self.shipper = shipper

    def invoke(self, function: Function, version: Version, payload: bytes, request_id: str, invoked_arn: str,
               client_context: dict | None = None, tail: bool = False) -> Outcome:
        env = self.environments.acquire(function, version)
        reusable = False
        try:
            outcome, reusable, lines = self._run(env, function, version, payload, request_id, invoked_arn,
                                                 client_context)
        finally:
            self.environments.release(env, reusable)
        self.shipper.ship(function.region, function.account, version.log_group, env.log_stream, env.credential,
                          lines)
        if tail:
            text = "".join(line + "\n" for _, line in lines).encode()
            outcome.log_tail = base64.b64encode(text[-TAIL_BYTES:]).decode()
        return outcome

    def _run(self, env: Environment, function: Function, version: Version, payload: bytes, request_id: str,
             invoked_arn: str, client_context: dict | None) -> tuple[Outcome, bool, list[tuple[int, str]]]:
        lines: list[tuple[int, str]] = []
        platform = PlatformLines((version.config.get("LoggingConfig") or {}).get("LogFormat") == "JSON")
        cold = env.cold
        if cold:
            lines.append((_now_ms(), platform.init_start(version)))
            lines.extend(env.init_lines)
        lines.append((_now_ms(), platform.start(request_id, version.number)))
        output = LineCollector()
        started = time.monotonic()
        status, error_type = None, None
        after_output: list[tuple[int, str]] = []
        if env.init_error is not None:
            body, failed, reusable = env.init_error, True, False
            error_type = _error_type(body)
            status = "error"
        else:
            deadline_ms = time.time() * 1000 + version.timeout * 1000
            header = {"id": request_id, "deadline_ms": deadline_ms, "arn": invoked_arn}
            if client_context is not None:
                header["client_context"] = client_context
            try:
                answer, body = env.worker.exchange(header, payload, started + version.timeout, output.feed)
            except WorkerTimeout:
                env.worker.kill()
                message = f"Task timed out after {version.timeout:.2f} seconds"
                after_output.append((_now_ms(), f"{_iso_now()} {request_id} {message}"))
                body = _error_json("Sandbox.Timedout", f"RequestId: {request_id} Error: {message}")
                failed, reusable, status, error_type = True, False, "timeout", "Sandbox.Timedout"
            except WorkerExited as exc:
                body = _error_json("Runtime.ExitError", f"RequestId: {request_id} {exit_message(exc.returncode)}")
                failed, reusable, status, error_type = True, False, "error", "Runtime.ExitError"
            except WorkerError as exc:
                env.worker.kill()
                body = _error_json("Runtime.Unknown", f"RequestId: {request_id} Error: {exc}")
                failed, reusable, status, error_type = True, False, "error", "Runtime.Unknown"
            else:
                env.max_rss_kb = answer.get("max_rss_kb") or env.max_rss_kb
                failed, reusable = not answer.get("ok"), True
                if failed:
                    error_type = _error_type(body)
                if answer.get("out_of_memory") or env.max_rss_kb > version.memory * 1024:
                    # AWS stops an environment that goes over its memory; here it is replaced.
                    body = _error_json("Runtime.OutOfMemory", f"RequestId: {request_id} Error: Runtime exited with "
                                       "error: signal: killed")
                    failed, reusable, status, error_type = True, False, "error", "Runtime.OutOfMemory"
                elif not failed and len(body) > MAX_RESPONSE:
                    body = _error_json("Function.ResponseSizeTooLarge", "Response payload size exceeded maximum "
                                       f"allowed payload size ({MAX_RESPONSE} bytes).")
                    failed, error_type = True, "Function.ResponseSizeTooLarge"
        duration_ms = (time.monotonic() - started) * 1000
        lines.extend(output.finish())
        lines.extend(after_output)
        lines.append((_now_ms(), platform.end(request_id, duration_ms, status)))
        lines.append((_now_ms(), platform.report(request_id, duration_ms, version.memory, env.max_rss_kb,
                                                 env.init_ms if cold else None, status, error_type)))
        outcome = Outcome(body, "Unhandled" if failed else None, version.number, error_type=error_type)
        return outcome, reusable, lines


class PlatformLines:
    """Lambda's own log lines around each invocation, as text (START/END/REPORT) or, with
    LoggingConfig LogFormat=JSON, as platform.* records.
    https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-logformat.html"""

    def __init__(self, as_json: bool):
        self.as_json = as_json

    def _json(self, kind: str, record: dict) -> str:
        return json.dumps({"time": _iso_now(), "type": kind, "record": record})

    def init_start(self, version: Version) -> str:
        runtime = f"{version.config['Runtime']}.lakestack"
        if self.as_json:
            return self._json("platform.initStart", {"initializationType": "on-demand", "phase": "init",
                                                     "runtimeVersion": runtime,
                                                     "runtimeVersionArn": _runtime_arn(version)})
        return f"INIT_START Runtime Version: {runtime}\tRuntime Version ARN: {_runtime_arn(version)}"

    def start(self, request_id: str, version: str) -> str:
        if self.as_json:
            return self._json("platform.start", {"requestId": request_id, "version": version})
        return f"START RequestId: {request_id} Version: {version}"

    def end(self, request_id: str, duration_ms: float, status: str | None) -> str:
        if self.as_json:
            return self._json("platform.runtimeDone", {"requestId": request_id, "status": status or "success",
                                                       "metrics": {"durationMs": round(duration_ms, 3)}})
        return f"END RequestId: {request_id}"

    def report(self, request_id: str, duration_ms: float, memory_mb: int, max_rss_kb: int, init_ms: float | None,
               status: str | None, error_type: str | None) -> str:
        # Billed in 1 ms increments: https://aws.amazon.com/lambda/pricing/
        billed = max(1, math.ceil(duration_ms))
        used = max(1, math.ceil(max_rss_kb / 1024))
        if self.as_json:
            metrics = {"durationMs": round(duration_ms, 3), "billedDurationMs": billed, "memorySizeMB": memory_mb,
                       "maxMemoryUsedMB": used}
            if init_ms is not None:
                metrics["initDurationMs"] = round(init_ms, 3)
            record = {"requestId": request_id, "metrics": metrics, "status": status or "success"}
            if error_type and status == "error":
                record["errorType"] = error_type
            return self._json("platform.report", record)
        parts = [f"REPORT RequestId: {request_id}", f"Duration: {duration_ms:.2f} ms", f"Billed Duration: {billed} ms",
                 f"Memory Size: {memory_mb} MB", f"Max Memory Used: {used} MB"]
        if init_ms is not None:
            parts.append(f"Init Duration: {init_ms:.2f} ms")
        if status is not None:
            parts.append(f"Status: {status}")
            if error_type and status == "error":
                parts.append(f"Error Type: {error_type}")
        return "\t".join(parts) + "\t"


def _runtime_arn(version: Version) -> str:
    return (version.config.get("RuntimeVersionConfig") or {}).get("RuntimeVersionArn", "")


def _error_json(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def _error_type(body: bytes) -> str | None:
    try:
        return json.loads(body).get("errorType")
    except (ValueError, AttributeError):
        return None


def _now_ms() -> int:
    return int(time.time() * 1000)


def _iso_now() -> str:
    now = dt.datetime.now(dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
