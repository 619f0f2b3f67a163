"""Execution environments: one worker process per concurrent invocation of a function
version, kept warm and reused, as Lambda keeps its sandboxes.

An environment is started (a cold start) when no idle one matches the version and its
configuration revision: the function's execution role is assumed for it, its variables are
set, the runtime (bootstrap.py) starts under the host interpreter and imports the handler.
After an invocation the environment goes back to the idle list unless it failed (timeout,
crash, out of memory), its configuration changed, or its role credentials are about to
expire. Idle environments are stopped after `idle_seconds`.

Concurrency is counted here: at most `reserved concurrency` invocations of a function at
once, and at most `ACCOUNT_CONCURRENCY` in all; beyond that, TooManyRequestsException.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lakestack.aws.errors import AwsError
from lakestack.runtime.workers import Worker, WorkerError, WorkerExited, WorkerTimeout
from lakestack.services.awslambda import bootstrap, errors
from lakestack.services.awslambda.code import CodeStore

if TYPE_CHECKING:
    from lakestack.aws.context import Credential
    from lakestack.services.awslambda.functions import Function, Version

log = logging.getLogger("lakestack.lambda")

# https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html
ACCOUNT_CONCURRENCY = 1000
# The init phase may take up to 10 seconds on AWS before the invocation's own timeout starts.
INIT_SECONDS = 10.0
# Address space allowed beyond the function's memory, for what the interpreter reserves but
# does not use (thread stacks, allocator arenas). Real use is checked against MemorySize.
ADDRESS_SPACE_HEADROOM_MB = 1024
CREDENTIAL_MARGIN = dt.timedelta(minutes=5)
SESSION_SECONDS = 12 * 3600


@dataclass
class Environment:
    worker: Worker
    key: tuple
    function_key: tuple[str, str, str]
    version: str
    log_stream: str
    credential: Credential
    tmp_dir: Path
    init_ms: float = 0.0
    init_error: bytes | None = None  # the init error report, if the handler could not load
    # Lines printed before the first invocation (init), logged ahead of its START.
    init_lines: list[tuple[int, str]] = field(default_factory=list)
    cold: bool = True
    last_used: float = field(default_factory=time.monotonic)
    max_rss_kb: int = 0

    def expiring(self) -> bool:
        expiration = self.credential.expiration
        return expiration is not None and expiration - CREDENTIAL_MARGIN <= dt.datetime.now(dt.UTC)


def environment_key(function: Function, version: Version) -> tuple:
    return (function.account, function.region, function.name, version.number, version.revision)


class Environments:
    idle_seconds = 600.0

    def __init__(self, stack, code: CodeStore, root: Path):
        self.stack = stack
        self.code = code
        self.tmp_root = Path(root) / "tmp"
        self.tmp_root.mkdir(parents=True, exist_ok=True)
        self._idle: dict[tuple, list[Environment]] = {}
        self._busy: dict[tuple[str, str, str], int] = {}
        self._busy_total = 0
        self._running_envs: dict[int, Environment] = {}  # in an invocation right now
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._reaper: threading.Thread | None = None
        for stale in self.tmp_root.iterdir():  # left by a previous run
            shutil.rmtree(stale, ignore_errors=True)

    def start(self) -> None:
        self._reaper = threading.Thread(target=self._reap_loop, name="lambda-env-reaper", daemon=True)
        self._reaper.start()

    def stop(self) -> None:
        """Stop every environment, busy ones included: their invocations end as failed
        (callers that are stopping too leave such work for after the restart)."""
        self._stopping.set()
        with self._lock:
            doomed = [env for envs in self._idle.values() for env in envs] + list(self._running_envs.values())
            self._idle.clear()
        for env in doomed:
            self._discard(env)

    # -- concurrency ----------------------------------------------------------------------

    def in_flight(self, function_key: tuple[str, str, str]) -> int:
        return self._busy.get(function_key, 0)

    def acquire(self, function: Function, version: Version) -> Environment:
        """An environment for one invocation: a warm one if there is, else a new one.
        Raises TooManyRequestsException when the function or the account is at its limit."""
        function_key = (function.account, function.region, function.name)
        key = environment_key(function, version)
        with self._lock:
            if self._stopping.is_set():
                raise errors.error("ServiceException", "Lambda is shutting down.")
            reserved = function.reserved_concurrency
            if reserved is not None and self._busy.get(function_key, 0) >= reserved:
                raise errors.too_many_requests("ReservedFunctionConcurrentInvocationLimitExceeded")
            if self._busy_total >= ACCOUNT_CONCURRENCY:
                raise errors.too_many_requests("ConcurrentInvocationLimitExceeded")
            self._busy[function_key] = self._busy.get(function_key, 0) + 1
            self._busy_total += 1
            env = None
            idle = self._idle.get(key)
            while idle:
                candidate = idle.pop()  # the most recently used: keeps the fewest warm
                if candidate.worker.alive and not candidate.expiring():
                    env = candidate
                    break
                self._discard_later(candidate)
        if env is None:
            try:
                env = self._start(function, version, key)
            except BaseException:
                self._done(function_key)
                raise
        with self._lock:
            self._running_envs[id(env)] = env
        return env

    def release(self, env: Environment, reusable: bool) -> None:
        env.last_used = time.monotonic()
        env.cold = False
        keep = reusable and env.worker.alive and not env.expiring() and not self._stopping.is_set()
        with self._lock:
            self._running_envs.pop(id(env), None)
            self._busy[env.function_key] -= 1
            self._busy_total -= 1
            if keep:
                self._idle.setdefault(env.key, []).append(env)
        if not keep:
            self._discard(env)

    def _done(self, function_key) -> None:
        with self._lock:
            self._busy[function_key] -= 1
            self._busy_total -= 1

    def retire(self, function: Function, keep: set[tuple] | None = None) -> None:
        """Stop the idle environments of a function (all, or those not in `keep`): its code
        or configuration changed, or it is gone. Busy ones are not reused afterwards because
        their key no longer matches."""
        prefix = (function.account, function.region, function.name)
        with self._lock:
            doomed = []
            for key in [k for k in self._idle if k[:3] == prefix and (keep is None or k not in keep)]:
                doomed.extend(self._idle.pop(key))
        for env in doomed:
            self._discard(env)

    # -- starting and stopping ------------------------------------------------------------

    def _start(self, function: Function, version: Version, key: tuple) -> Environment:
        credential = self._credential(function, version)
        now = dt.datetime.now(dt.UTC)
        log_stream = f"{now:%Y/%m/%d}/[{version.number}]{uuid.uuid4().hex}"
        task_root = self.code.unpacked(version.code_sha)
        opt = self.code.layers_root(version.layer_shas)
        tmp_dir = self.tmp_root / uuid.uuid4().hex
        tmp_dir.mkdir()
        env_vars = self._variables(function, version, credential, log_stream, task_root, tmp_dir)
        argv = [sys.executable, "-I", "-u", bootstrap.__file__]
        started = time.monotonic()
        try:
            worker = Worker(argv, env_vars, cwd=str(task_root))
        except OSError as exc:
            shutil.rmtree(tmp_dir, ignore_errors=True)
            raise errors.error("ServiceException", f"Could not start the function's runtime: {exc}") from None
        env = Environment(worker, key, (function.account, function.region, function.name), version.number,
                          log_stream, credential, tmp_dir)
        init_output = LineCollector()
        init = {
            "handler": version.config["Handler"],
            "task_root": str(task_root),
            "layer_paths": _layer_paths(opt),
            "address_space_mb": version.memory + ADDRESS_SPACE_HEADROOM_MB,
        }
        try:
            worker.send(init)
            header, body = worker.receive(started + INIT_SECONDS + version.timeout, init_output.feed)
        except WorkerTimeout:
            env.init_error = _error_json("Sandbox.Timedout", f"Error: Task timed out after {version.timeout:.2f} "
                                         "seconds")
        except WorkerExited as exc:
            env.init_error = _error_json("Runtime.ExitError", exit_message(exc.returncode))
        except WorkerError as exc:
            env.init_error = _error_json("Runtime.Unknown", str(exc))
        else:
            # From process start, like AWS's Init Duration (runtime start-up and imports).
            env.init_ms = (time.monotonic() - started) * 1000
            env.max_rss_kb = header.get("max_rss_kb") or 0
            if not header.get("ready"):
                env.init_error = body
        if env.init_error is not None and not env.init_ms:
            env.init_ms = (time.monotonic() - started) * 1000
        env.init_lines = init_output.finish()
        return env

    def _credential(self, function: Function, version: Version) -> Credential:
        sts = self.stack.provider("sts")
        try:
            return sts.assume_role_for_service(
                version.config["Role"], "lambda.amazonaws.com", function.name, duration=SESSION_SECONDS,
                context={"aws:SourceAccount": function.account, "aws:SourceArn": function.arn},
                region=function.region)
        except AwsError:
            raise errors.invalid_parameter("The role defined for the function cannot be assumed by Lambda.") from None

    def _variables(self, function: Function, version: Version, credential: Credential, log_stream: str,
                   task_root: Path, tmp_dir: Path) -> dict[str, str]:
        """The environment AWS gives a Python function, pointed at lakestack. Nothing of
        the server's own environment leaks in (its keys, its profile)."""
        config = version.config
        bin_dir = os.path.dirname(sys.executable)
        variables = {
            "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "HOME": str(tmp_dir),
            "TMPDIR": str(tmp_dir),
            # boto3 inside must not read the host's ~/.aws files.
            "AWS_CONFIG_FILE": str(tmp_dir / ".aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_dir / ".aws-credentials"),
            "MALLOC_ARENA_MAX": "2",
        }
        variables.update(version.environment)
        logging_config = config.get("LoggingConfig") or {}
        variables.update({
            "_HANDLER": config["Handler"],
            "LAMBDA_TASK_ROOT": str(task_root),
            "LAMBDA_RUNTIME_DIR": os.path.dirname(bootstrap.__file__),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{config['Runtime']}",
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_VERSION": version.number,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(version.memory),
            "AWS_LAMBDA_LOG_GROUP_NAME": version.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": function.region,
            "AWS_DEFAULT_REGION": function.region,
            "AWS_ACCESS_KEY_ID": credential.access_key_id,
            "AWS_SECRET_ACCESS_KEY": credential.secret_access_key,
            "AWS_SESSION_TOKEN": credential.session_token or "",
        })
        if logging_config.get("LogFormat") == "JSON":
            variables["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
            variables["AWS_LAMBDA_LOG_LEVEL"] = logging_config.get("ApplicationLogLevel", "INFO")
        # The one addition: SDKs inside reach lakestack (a function may still point elsewhere).
        variables.setdefault("AWS_ENDPOINT_URL", self.stack.settings.endpoint_url)
        return variables

    def _discard(self, env: Environment) -> None:
        env.worker.kill()
        shutil.rmtree(env.tmp_dir, ignore_errors=True)

    def _discard_later(self, env: Environment) -> None:
        # Called under the lock: killing waits for the process, so do it elsewhere.
        threading.Thread(target=self._discard, args=(env,), daemon=True).start()

    def _reap_loop(self) -> None:
        while not self._stopping.wait(min(30.0, max(self.idle_seconds / 4, 0.05))):
            cutoff = time.monotonic() - self.idle_seconds
            with self._lock:
                doomed = []
                for key, envs in list(self._idle.items()):
                    keep = [e for e in envs if e.last_used > cutoff and e.worker.alive and not e.expiring()]
                    doomed.extend(e for e in envs if e not in keep)
                    if keep:
                        self._idle[key] = keep
                    else:
                        del self._idle[key]
            for env in doomed:
                self._discard(env)


def _layer_paths(opt: Path | None) -> list[str]:
    """Where layers put Python code on AWS: /opt/python and its versioned site-packages."""
    if opt is None:
        return []
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return [str(opt / "python" / "lib" / version / "site-packages"), str(opt / "python")]


def exit_message(returncode: int | None) -> str:
    if returncode is None or returncode == 0:
        return "Error: Runtime exited without providing a reason"
    if returncode < 0:
        import signal

        try:
            name = signal.Signals(-returncode).name.removeprefix("SIG").lower()
        except ValueError:
            name = str(-returncode)
        name = {"kill": "killed", "term": "terminated", "segv": "segmentation fault", "abrt": "aborted"}.get(name, name)
        return f"Error: Runtime exited with error: signal: {name}"
    return f"Error: Runtime exited with error: exit status {returncode}"


def _error_json(error_type: str, message: str) -> bytes:
    import json

    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


class LineCollector:
    """Output bytes → (timestamp ms, line) log events: one event per line, a `\\r` inside a
    line being a line break of the same event (see bootstrap.py). Bounded: past
    `limit` bytes, lines are dropped and counted."""

    MAX_EVENT = 256 * 1024  # CloudWatch Logs' largest event

    def __init__(self, limit: int = 4 << 20):
        self.lines: list[tuple[int, str]] = []
        self._partial = b""
        self._size = 0
        self._limit = limit
        self._dropped = 0

    def feed(self, data: bytes) -> None:
        now_ms = int(time.time() * 1000)
        data = self._partial + data
        *complete, self._partial = data.split(b"\n")
        for raw in complete:
            self._add(now_ms, raw)
        if len(self._partial) > self.MAX_EVENT:  # a huge line without a newline yet
            self._add(now_ms, self._partial)
            self._partial = b""

    def _add(self, now_ms: int, raw: bytes) -> None:
        if self._size + len(raw) > self._limit:
            self._dropped += len(raw) + 1
            return
        self._size += len(raw) + 1
        text = raw[: self.MAX_EVENT].decode("utf-8", "replace").replace("\r", "\n")
        self.lines.append((now_ms, text))

    def finish(self) -> list[tuple[int, str]]:
        if self._partial:
            self._add(int(time.time() * 1000), self._partial)
            self._partial = b""
        if self._dropped:
            self.lines.append((int(time.time() * 1000),
                               f"[lakestack] {self._dropped} bytes of output were not kept (over {self._limit} bytes "
                               "in one invocation)"))
            self._dropped = 0
        lines, self.lines, self._size = self.lines, [], 0
        return lines
