"""Lambda invoke latency and throughput: lakestack vs calling the same handler directly.

    .venv/bin/python bench/lambda.py [--invokes N] [--threads T]

lakestack: a server subprocess; a Python function (an echo handler) is created and warmed,
then invoked N times one after another through boto3 (latency p50/p99), then N times from
T client threads (invokes/s). The function's role may write logs, so every invocation's
START/END/REPORT lines are shipped to CloudWatch Logs as they would be in use.
Baseline: the same handler file imported by a plain Python subprocess that reads the
event from a pipe and writes the result back (length-prefixed JSON) — the least any
process-isolated runtime must do — timed the same way (T subprocesses for throughput).
The difference is what lakestack adds: HTTP, SigV4, IAM, the boto3 client itself, the
worker protocol, the context object and the logs.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parent))
from common import client, lakestack_server, table  # noqa: E402

HANDLER = '''
def handler(event, context):
    return {"echo": event}
'''
EVENT = {"order_id": 12345, "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}], "note": "x" * 200}
# The baseline child: import the handler, then answer framed events on stdin/stdout.
CHILD = r'''
import json, struct, sys
sys.path.insert(0, sys.argv[1])
from app import handler
stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
while True:
    head = stdin.read(4)
    if not head:
        break
    event = json.loads(stdin.read(struct.unpack(">I", head)[0]))
    out = json.dumps(handler(event, None)).encode()
    stdout.write(struct.pack(">I", len(out)) + out)
    stdout.flush()
'''
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class PipeHandler:
    """The baseline: one subprocess running the handler, spoken to over a pipe."""

    def __init__(self, code_dir: str):
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD, code_dir], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)

    def call(self, payload: bytes) -> bytes:
        self.proc.stdin.write(struct.pack(">I", len(payload)) + payload)
        self.proc.stdin.flush()
        size = struct.unpack(">I", self.proc.stdout.read(4))[0]
        return self.proc.stdout.read(size)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def measure(call, invokes: int, threads: int, make_caller=None) -> tuple[float, float, float]:
    """(p50 ms, p99 ms, invokes/s with `threads` callers)."""
    for _ in range(50):
        call()
    latencies = []
    for _ in range(invokes):
        start = time.perf_counter()
        call()
        latencies.append((time.perf_counter() - start) * 1000)
    callers = [make_caller() for _ in range(threads)] if make_caller else [call] * threads
    for caller in callers:
        for _ in range(10):
            caller()
    per_thread = invokes // threads
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda c: [c() for _ in range(per_thread)], callers))
    rate = per_thread * threads / (time.perf_counter() - start)
    return statistics.median(latencies), percentile(latencies, 0.99), rate


def bench_lakestack(invokes: int, threads: int):
    with lakestack_server() as (endpoint, key, secret, _home, pid):
        iam = client("iam", endpoint, key, secret)
        role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
        iam.attach_role_policy(RoleName="bench",
                               PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
        lam = client("lambda", endpoint, key, secret)
        package = io.BytesIO()
        with zipfile.ZipFile(package, "w") as archive:
            archive.writestr("app.py", HANDLER)
        lam.create_function(FunctionName="echo", Runtime="python3.12", Role=role, Handler="app.handler",
                            Code={"ZipFile": package.getvalue()}, MemorySize=256)
        lam.get_waiter("function_active_v2").wait(FunctionName="echo")
        payload = json.dumps(EVENT).encode()
        start = time.perf_counter()
        lam.invoke(FunctionName="echo", Payload=payload)["Payload"].read()
        cold_ms = (time.perf_counter() - start) * 1000

        def one() -> None:
            answer = lam.invoke(FunctionName="echo", Payload=payload)
            assert "FunctionError" not in answer and answer["Payload"].read()

        server = psutil.Process(pid)
        cpu_before = sum(server.cpu_times()[:2]) + sum(sum(c.cpu_times()[:2]) for c in server.children())
        p50, p99, rate = measure(one, invokes, threads)
        cpu = sum(server.cpu_times()[:2]) + sum(sum(c.cpu_times()[:2]) for c in server.children()) - cpu_before
        # Per invocation, the server and its workers together (warm-up calls included).
        cpu_ms = cpu * 1000 / (2 * invokes + 50 + 10 * threads)
        return p50, p99, rate, cold_ms, cpu_ms


def bench_baseline(invokes: int, threads: int):
    with tempfile.TemporaryDirectory() as code_dir:
        Path(code_dir, "app.py").write_text(HANDLER)
        payload = json.dumps(EVENT).encode()
        pipes: list[PipeHandler] = []

        def make_caller():
            pipe = PipeHandler(code_dir)
            pipes.append(pipe)
            return lambda: pipe.call(payload)

        try:
            first = make_caller()
            return measure(first, invokes, threads, make_caller)
        finally:
            for pipe in pipes:
                pipe.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invokes", type=int, default=2000, help="invocations per measurement (default 2000)")
    parser.add_argument("--threads", type=int, default=4, help="client threads for throughput (default 4)")
    args = parser.parse_args()
    p50, p99, rate, cold_ms, cpu_ms = bench_lakestack(args.invokes, args.threads)
    b50, b99, brate = bench_baseline(args.invokes, args.threads)
    rows = [
        ["warm invoke p50 ms", f"{p50:.2f}", f"{b50:.3f}", f"+{p50 - b50:.2f} ms (target < +5 ms)"],
        ["warm invoke p99 ms", f"{p99:.2f}", f"{b99:.3f}", f"+{p99 - b99:.2f} ms"],
        [f"invokes/s ({args.threads} threads)", f"{rate:,.0f}", f"{brate:,.0f}", f"{rate / brate:.2f}x pipe"],
        ["server + worker CPU ms per invoke", f"{cpu_ms:.2f}", "-", "-"],
        ["cold start (first invoke) ms", f"{cold_ms:.1f}", "-", "-"],
    ]
    print(table(rows, ["measure", "lakestack (boto3)", "pipe to handler", "difference"]))


if __name__ == "__main__":
    main()
