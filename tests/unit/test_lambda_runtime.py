"""The worker machinery (runtime/workers.py) and the Python runtime that runs in it
(awslambda/bootstrap.py), without a server: framing, output capture, deadlines, crashes."""

import json
import sys
import time

import pytest

from lakestack.runtime.workers import FrameReader, Worker, WorkerExited, WorkerTimeout, encode_frame
from lakestack.services.awslambda import bootstrap
from lakestack.services.awslambda.environments import LineCollector, exit_message

HANDLER = '''
import os, sys, time, logging

state = {"calls": 0}

def handler(event, context):
    state["calls"] += 1
    action = event.get("do")
    if action == "print":
        print("line one")
        print("line two", file=sys.stderr)
    elif action == "log":
        logging.getLogger().warning("multi\\nline")
    elif action == "flood":
        for i in range(event["lines"]):
            print("x" * 99)
    elif action == "raise":
        raise KeyError("missing")
    elif action == "sleep":
        time.sleep(event["seconds"])
    elif action == "exit":
        os._exit(event["status"])
    elif action == "sys_exit":
        sys.exit(0)
    elif action == "set":
        return {"bad": {1, 2}}
    return {"calls": state["calls"], "function": context.function_name,
            "remaining": context.get_remaining_time_in_millis(), "memory": context.memory_limit_in_mb}
'''


@pytest.fixture()
def worker(tmp_path):
    (tmp_path / "app.py").write_text(HANDLER)
    env = {"PATH": "/usr/bin:/bin", "AWS_LAMBDA_FUNCTION_NAME": "fn", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128"}
    started = Worker([sys.executable, "-I", "-u", bootstrap.__file__], env, cwd=str(tmp_path))
    started.send({"handler": "app.handler", "task_root": str(tmp_path), "address_space_mb": 2048})
    header, _ = started.receive(time.monotonic() + 10, lambda data: None)
    assert header["ready"] is True
    yield started
    started.kill()


def call(worker, event, timeout=5.0, output=None):
    sink = output if output is not None else []
    header = {"id": "req-1", "deadline_ms": time.time() * 1000 + timeout * 1000, "arn": "arn:fn"}
    answer, body = worker.exchange(header, json.dumps(event).encode(), time.monotonic() + timeout, sink.append)
    return answer, json.loads(body)


def test_frames_round_trip():
    reader = FrameReader()
    data = encode_frame({"a": 1}, b"payload") + encode_frame({"b": 2})
    for i in range(len(data)):  # byte by byte: frames are reassembled
        reader.feed(data[i:i + 1])
    assert reader.frame() == ({"a": 1}, b"payload")
    assert reader.frame() == ({"b": 2}, b"")
    assert reader.frame() is None


def test_a_warm_worker_keeps_its_state_and_answers(worker):
    assert call(worker, {})[1]["calls"] == 1
    answer, result = call(worker, {})
    assert answer["ok"] is True and result["calls"] == 2
    assert result["function"] == "fn" and result["memory"] == "128"
    assert 0 < result["remaining"] <= 5000


def test_output_is_captured_with_the_answer(worker):
    output = []
    call(worker, {"do": "print"}, output=output)
    assert b"".join(output) == b"line one\nline two\n"


def test_log_records_keep_their_line_breaks_as_one_event(worker):
    output = []
    call(worker, {"do": "log"}, output=output)
    collector = LineCollector()
    collector.feed(b"".join(output))
    lines = [text for _, text in collector.finish()]
    assert len(lines) == 1 and lines[0].startswith("[WARNING]\t") and lines[0].endswith("req-1\tmulti\nline")


def test_megabytes_of_output_do_not_block(worker):
    output = []
    answer, _ = call(worker, {"do": "flood", "lines": 100_000}, timeout=30, output=output)
    assert answer["ok"] and sum(map(len, output)) == 100_000 * 100


def test_exceptions_come_back_in_aws_shape(worker):
    answer, report = call(worker, {"do": "raise"})
    assert answer["ok"] is False
    assert report["errorType"] == "KeyError" and report["errorMessage"] == "'missing'"
    assert report["requestId"] == "req-1"
    assert any("app.py" in frame and "in handler" in frame for frame in report["stackTrace"])
    assert not any("bootstrap.py" in frame for frame in report["stackTrace"])


def test_unserializable_results_are_a_marshal_error(worker):
    answer, report = call(worker, {"do": "set"})
    assert answer["ok"] is False and report["errorType"] == "Runtime.MarshalError"
    assert report["errorMessage"].startswith("Unable to marshal response:")


def test_deadline_raises_timeout(worker):
    started = time.monotonic()
    with pytest.raises(WorkerTimeout):
        call(worker, {"do": "sleep", "seconds": 30}, timeout=0.5)
    assert time.monotonic() - started < 2
    worker.kill()
    assert not worker.alive


@pytest.mark.parametrize("event,message", [
    ({"do": "exit", "status": 3}, "Error: Runtime exited with error: exit status 3"),
    ({"do": "sys_exit"}, "Error: Runtime exited without providing a reason"),
])
def test_exits_are_reported(worker, event, message):
    with pytest.raises(WorkerExited) as caught:
        call(worker, event)
    assert exit_message(caught.value.returncode) == message


def test_signals_read_like_aws():
    assert exit_message(-9) == "Error: Runtime exited with error: signal: killed"


def test_init_errors(tmp_path):
    (tmp_path / "broken.py").write_text("def handler(:\n")
    for spec, error_type in (("missing.handler", "Runtime.ImportModuleError"),
                             ("broken.handler", "Runtime.UserCodeSyntaxError"),
                             ("nodot", "Runtime.MalformedHandlerName")):
        worker = Worker([sys.executable, "-I", "-u", bootstrap.__file__], {"PATH": "/usr/bin"}, cwd=str(tmp_path))
        try:
            worker.send({"handler": spec, "task_root": str(tmp_path)})
            header, body = worker.receive(time.monotonic() + 10, lambda data: None)
            assert header["ready"] is False
            assert json.loads(body)["errorType"] == error_type
        finally:
            worker.kill()


def test_line_collector_bounds_what_it_keeps():
    collector = LineCollector(limit=1000)
    collector.feed(b"a" * 600 + b"\n" + b"b" * 600 + b"\n" + b"tail")
    lines = [text for _, text in collector.finish()]
    assert lines[0] == "a" * 600
    assert "bytes of output were not kept" in lines[-1]
