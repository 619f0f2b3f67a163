"""The Python runtime inside a worker process: what AWS's runtime interface client does in a
Lambda execution environment, spoken over lakestack's worker pipes (runtime/workers.py).

Run as `python -I -u bootstrap.py <request fd> <answer fd>`. It must stay importable on its
own (standard library only): it runs as a script, not as part of lakestack.

1. The parent sends an "init" frame: handler, task root, layer paths, memory cap.
2. This process imports the handler module (the init phase) and answers "ready", or the
   init error in AWS's shape.
3. Then, for each "invoke" frame (header: request id, deadline, ARN, …; body: the event
   JSON), it calls the handler with the event and a context object and answers with the
   result JSON or the error JSON.

What the handler prints goes to stdout/stderr, which the parent reads. Log records from the
`logging` module and error reports keep their line breaks as `\\r` so that the parent
stores each as one log event, as the AWS runtime does.
"""

import decimal
import json
import logging
import os
import resource
import struct
import sys
import time
import traceback

FRAME_HEAD = struct.Struct(">II")
MIB = 1 << 20


# -- frames ---------------------------------------------------------------------------------


def read_exact(fd, size):
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_frame(fd):
    head_len, body_len = FRAME_HEAD.unpack(read_exact(fd, FRAME_HEAD.size))
    header = json.loads(read_exact(fd, head_len))
    return header, read_exact(fd, body_len) if body_len else b""


def write_frame(fd, header, body=b""):
    head = json.dumps(header, separators=(",", ":")).encode()
    data = memoryview(FRAME_HEAD.pack(len(head), len(body)) + head + body)
    while data:
        data = data[os.write(fd, data):]


# -- the context object ---------------------------------------------------------------------


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self):
        self.cognito_identity_id = None
        self.cognito_identity_pool_id = None


class Client:
    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")

    def __init__(self, data):
        self.installation_id = data.get("installation_id")
        self.app_title = data.get("app_title")
        self.app_version_name = data.get("app_version_name")
        self.app_version_code = data.get("app_version_code")
        self.app_package_name = data.get("app_package_name")


class ClientContext:
    __slots__ = ("client", "custom", "env")

    def __init__(self, data):
        self.client = Client(data["client"]) if isinstance(data.get("client"), dict) else None
        self.custom = data.get("custom")
        self.env = data.get("env")


class LambdaContext:
    """The handler's second argument, with the attributes AWS's Python runtime gives it."""

    def __init__(self, request, environ):
        self.aws_request_id = request["id"]
        self.invoked_function_arn = request["arn"]
        self.function_name = environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        # A string, as in AWS's runtime (it comes from the environment there too).
        self.memory_limit_in_mb = environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = CognitoIdentity()
        context = request.get("client_context")
        self.client_context = ClientContext(context) if isinstance(context, dict) else None
        self.tenant_id = request.get("tenant_id")
        self._deadline_ms = request["deadline_ms"]

    def get_remaining_time_in_millis(self):
        return max(int(self._deadline_ms - time.time() * 1000), 0)

    def log(self, message):
        sys.stdout.write(str(message))

    def __repr__(self):
        return (f"LambdaContext([aws_request_id={self.aws_request_id},log_group_name={self.log_group_name},"
                f"log_stream_name={self.log_stream_name},function_name={self.function_name},"
                f"memory_limit_in_mb={self.memory_limit_in_mb},function_version={self.function_version},"
                f"invoked_function_arn={self.invoked_function_arn},client_context={self.client_context},"
                f"identity={self.identity}])")


# -- logging --------------------------------------------------------------------------------


class RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record):
        record.aws_request_id = RequestIdFilter.request_id
        return True


class LambdaLogHandler(logging.StreamHandler):
    """One record → one line on stdout; its own line breaks become \\r so the parent keeps
    it as a single log event."""

    def emit(self, record):
        try:
            text = self.format(record).replace("\r\n", "\r").replace("\n", "\r")
            os.write(1, (text + "\n").encode("utf-8", "replace"))
        except Exception:
            self.handleError(record)


class JsonFormatter(logging.Formatter):
    """LoggingConfig LogFormat=JSON: one JSON object per record, as AWS's runtime writes.
    https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html#python-logging-advanced"""

    def format(self, record):
        out = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z",
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": getattr(record, "aws_request_id", ""),
        }
        if record.exc_info:
            exc = record.exc_info[1]
            out["errorType"] = type(exc).__name__
            out["errorMessage"] = str(exc)
            out["stackTrace"] = traceback.format_tb(record.exc_info[2])
        return json.dumps(out, default=str)


def json_logs():
    return os.environ.get("AWS_LAMBDA_LOG_FORMAT") == "JSON"


def setup_logging():
    if json_logs():
        formatter = JsonFormatter()
    else:
        formatter = logging.Formatter("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
                                      "%Y-%m-%dT%H:%M:%S")
        formatter.converter = time.gmtime
    handler = LambdaLogHandler(sys.stdout)
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    if level:
        root.setLevel(level.upper())


def log_error(report, tb_lines=()):
    if json_logs():
        record = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "level": "ERROR",
                  "message": report["errorMessage"], "errorType": report["errorType"],
                  "errorMessage": report["errorMessage"], "stackTrace": list(tb_lines),
                  "requestId": report.get("requestId", "")}
        os.write(1, (json.dumps(record) + "\n").encode("utf-8", "replace"))
        return
    lines = [f"[ERROR] {report['errorType']}: {report['errorMessage']}"]
    if tb_lines:
        lines.append("Traceback (most recent call last):")
        lines.extend(line.rstrip("\n") for line in tb_lines)
    os.write(1, ("\r".join(lines).replace("\n", "\r") + "\n").encode("utf-8", "replace"))


# -- errors in AWS's shape ------------------------------------------------------------------


def error_report(exc, request_id, error_type=None, message=None, skip_frames=1):
    """{errorMessage, errorType, requestId, stackTrace} for an exception; `skip_frames` drops
    this runtime's own frames from the top of the trace."""
    frames = traceback.extract_tb(exc.__traceback__)[skip_frames:]
    stack = traceback.format_list(frames)
    report = {
        "errorMessage": message if message is not None else str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": request_id,
        "stackTrace": stack,
    }
    return report, stack


def load_handler(spec):
    """Import the handler like AWS's runtime: "module.function", the module path may use dots
    or slashes. Returns (handler, None) or (None, error report)."""
    try:
        module_name, function_name = spec.rsplit(".", 1)
    except ValueError as exc:
        return None, {"errorMessage": f"Bad handler '{spec}': {exc}", "errorType": "Runtime.MalformedHandlerName",
                      "requestId": "", "stackTrace": []}
    module_name = module_name.replace("/", ".")
    if module_name.startswith("."):
        return None, {"errorMessage": f"Bad handler '{spec}': Cannot use relative module names",
                      "errorType": "Runtime.BadHandlerName", "requestId": "", "stackTrace": []}
    try:
        import importlib

        module = importlib.import_module(module_name)
    except ImportError as exc:
        report = {"errorMessage": f"Unable to import module '{module_name}': {exc}",
                  "errorType": "Runtime.ImportModuleError", "requestId": "", "stackTrace": []}
        return None, report
    except SyntaxError as exc:
        report = {"errorMessage": f"Syntax error in module '{module_name}': {exc}",
                  "errorType": "Runtime.UserCodeSyntaxError", "requestId": "", "stackTrace": []}
        return None, report
    except Exception as exc:
        report, _ = error_report(exc, "", skip_frames=0)
        return None, report
    handler = getattr(module, function_name, None)
    if handler is None:
        return None, {"errorMessage": f"Handler '{function_name}' missing on module '{module_name}'",
                      "errorType": "Runtime.HandlerNotFound", "requestId": "", "stackTrace": []}
    return handler, None


def to_json(value):
    def default(obj):
        # DynamoDB-style numbers come back as Decimal; AWS's runtime writes them as numbers.
        if isinstance(obj, decimal.Decimal):
            return int(obj) if obj == obj.to_integral_value() else float(obj)
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")

    return json.dumps(value, default=default).encode()


def max_rss_kb():
    """Peak resident memory of this process. VmHWM, not getrusage: Linux carries ru_maxrss
    over from the parent across fork and exec, so it would report the server's size."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# -- main loop ------------------------------------------------------------------------------


def setup(init):
    # The function's code first, then the layers (later layers win, as when extracted
    # over one another into /opt), then the runtime's own site-packages.
    paths = [init["task_root"], *init.get("layer_paths", [])]
    sys.path[0:0] = [p for p in paths if p]
    os.chdir(init["task_root"])
    memory_mb = init.get("address_space_mb")
    if memory_mb:
        limit = memory_mb * MIB
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    setup_logging()


def main():
    req_fd, resp_fd = int(sys.argv[-2]), int(sys.argv[-1])
    init, _ = read_frame(req_fd)
    started = time.perf_counter()
    setup(init)
    handler, init_error = load_handler(init["handler"])
    init_ms = (time.perf_counter() - started) * 1000
    if init_error is not None:
        log_error(init_error)
        write_frame(resp_fd, {"ready": False, "init_ms": init_ms, "max_rss_kb": max_rss_kb()},
                    json.dumps(init_error).encode())
        return
    write_frame(resp_fd, {"ready": True, "init_ms": init_ms, "max_rss_kb": max_rss_kb()})
    environ = os.environ
    while True:
        try:
            request, body = read_frame(req_fd)
        except EOFError:
            return
        request_id = request["id"]
        RequestIdFilter.request_id = request_id
        for name, value in (request.get("env") or {}).items():
            environ[name] = value
        out_of_memory = False
        try:
            event = json.loads(body) if body else {}
            result = handler(event, LambdaContext(request, environ))
            try:
                answer = {"ok": True}
                payload = to_json(result)
            except (TypeError, ValueError) as exc:
                answer = {"ok": False}
                report = {"errorMessage": f"Unable to marshal response: {exc}", "errorType": "Runtime.MarshalError",
                          "requestId": request_id, "stackTrace": []}
                log_error(report)
                payload = json.dumps(report).encode()
        except MemoryError as exc:
            out_of_memory = True
            answer = {"ok": False, "out_of_memory": True}
            report, stack = error_report(exc, request_id)
            payload = json.dumps(report).encode()
        except Exception as exc:
            answer = {"ok": False}
            report, stack = error_report(exc, request_id)
            log_error(report, stack)
            payload = json.dumps(report).encode()
        answer["max_rss_kb"] = max_rss_kb()
        write_frame(resp_fd, answer, payload)
        if out_of_memory:
            # The heap may be in no state to go on; the parent starts a fresh environment.
            return


if __name__ == "__main__":
    main()
