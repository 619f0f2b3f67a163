"""Soak: does the server's memory stay flat under hours of mixed load?

    .venv/bin/python bench/soak.py [--minutes 5] [--threads 8] [--service all|s3|kinesis|glue|athena]

A `lakestack up` server runs as a subprocess (data dir under ~/.cache/lakestack-bench, see
bench/common.py). T boto3 threads then drive it for --minutes, every thread looping over one
service's operation:
- s3: PUT of a new 1 KiB object, GET of it, DELETE of the one written 50 steps earlier, and
  every 20th step a LIST of the thread's prefix (each call is one operation);
- kinesis: PutRecords of 10 records of 100 bytes with random partition keys (one operation);
- glue: GetTable (one operation);
- athena: one query over a small CSV table, with one of 100 literals: StartQueryExecution,
  GetQueryExecution until it ends, GetQueryResults — together one operation.
The server's RSS (psutil) is sampled every few seconds and printed once a minute, with the
operations done so far.

--service all runs one phase per service alone (an eighth of the time each), then all four
at once (the other half; threads split evenly across services). A single service runs alone
for the whole time: the way to a firm per-service figure, since a short phase holds few
operations and some warm-ups are long (Athena renews its DuckDB database every 5,000
queries, services/athena/engines.py, so its curve is flat only from the first renewal on).

"bytes/op" is the slope of a least-squares line through (operations, RSS) over a phase's
samples after its first quarter (its warm-up): memory the process keeps per operation. A
leak shows as a steady slope; a process whose memory is bounded shows a slope near zero,
within noise of some ±5 bytes/op for a short phase — RSS moves in pages and malloc keeps
freed memory for reuse, so read it next to the RSS column, which should stay flat.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parent))
from common import client, lakestack_server, table  # noqa: E402

SERVICES = ("s3", "kinesis", "glue", "athena")
BUCKET, STREAM, DATABASE, TABLE = "soak", "soak", "soak", "events"


def setup(make_client) -> None:
    """A bucket, a 2-shard stream, and a small CSV table in the Glue catalog for Athena."""
    s3, kinesis = make_client("s3"), make_client("kinesis")
    s3.create_bucket(Bucket=BUCKET)
    rows = "".join(f"{i},device-{i % 17},{i * 0.5}\n" for i in range(1000))
    s3.put_object(Bucket=BUCKET, Key="lake/events/part-0.csv", Body=rows.encode())
    kinesis.create_stream(StreamName=STREAM, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName=STREAM, WaiterConfig={"Delay": 0.2})
    worker = Worker(make_client, 0)
    worker.query(f"CREATE DATABASE {DATABASE}")
    worker.query(f"CREATE EXTERNAL TABLE {TABLE} (id bigint, device string, value double) ROW FORMAT DELIMITED "
                 f"FIELDS TERMINATED BY ',' LOCATION 's3://{BUCKET}/lake/events/'")


class Worker:
    """One client thread's clients and state; each method does one operation."""

    def __init__(self, make_client, number: int):
        self.clients = {name: make_client(name) for name in SERVICES}
        self.number, self.step = number, 0
        self.random = random.Random(number)

    def s3(self) -> int:
        s3, prefix, n = self.clients["s3"], f"objects/{self.number}/", self.step
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}{n}", Body=self.random.randbytes(1024))
        s3.get_object(Bucket=BUCKET, Key=f"{prefix}{n}")["Body"].read()
        calls = 2
        if n >= 50:
            s3.delete_object(Bucket=BUCKET, Key=f"{prefix}{n - 50}")
            calls += 1
        if n % 20 == 0:
            s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
            calls += 1
        return calls

    def kinesis(self) -> int:
        records = [{"Data": self.random.randbytes(100), "PartitionKey": str(self.random.random())} for _ in range(10)]
        response = self.clients["kinesis"].put_records(StreamName=STREAM, Records=records)
        assert response["FailedRecordCount"] == 0, response
        return 1

    def glue(self) -> int:
        self.clients["glue"].get_table(DatabaseName=DATABASE, Name=TABLE)
        return 1

    def athena(self) -> int:
        self.query(f"SELECT device, count(*), sum(value) FROM {TABLE} WHERE id > {self.step % 100} GROUP BY device")
        return 1

    def query(self, sql: str) -> None:
        athena = self.clients["athena"]
        query_id = athena.start_query_execution(
            QueryString=sql, QueryExecutionContext={"Database": DATABASE},
            ResultConfiguration={"OutputLocation": f"s3://{BUCKET}/results/"})["QueryExecutionId"]
        delay = 0.005
        while (status := athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"])[
                "State"] in ("QUEUED", "RUNNING"):
            time.sleep(delay)
            delay = min(delay * 1.5, 0.05)
        if status["State"] != "SUCCEEDED":
            raise RuntimeError(f"{sql}: {status.get('StateChangeReason')}")
        athena.get_query_results(QueryExecutionId=query_id)

    def run(self, service: str, ops: dict[str, int], stop: threading.Event, errors: list) -> None:
        operation = getattr(self, service)
        while not stop.is_set():
            try:
                operation()
                ops[service] += 1
            except Exception as error:  # noqa: BLE001 - counted and shown, the soak goes on
                errors.append(f"{service}: {error}")
            self.step += 1


def slope(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of y over x."""
    n = len(points)
    if n < 2:
        return float("nan")
    mx, my = sum(x for x, _ in points) / n, sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else float("nan")


def run_phase(name: str, services: list[str], workers: list[Worker], seconds: float, process, ops: dict,
              started: float, interval: float) -> list[tuple[int, float]]:
    """All workers loop on `services` (worker i on services[i % len]) for `seconds`; returns
    (operations of this phase, RSS bytes) samples after the warm-up quarter."""
    stop, errors = threading.Event(), []
    before = sum(ops.values())
    threads = [threading.Thread(target=w.run, args=(services[i % len(services)], ops, stop, errors), daemon=True)
               for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    phase_start, samples, next_row = time.monotonic(), [], 0.0
    while (elapsed := time.monotonic() - phase_start) < seconds:
        time.sleep(min(interval, seconds - elapsed))
        elapsed, rss, done = time.monotonic() - phase_start, process.memory_info().rss, sum(ops.values())
        if elapsed >= seconds / 4:
            samples.append((done - before, rss))
        if elapsed >= next_row or elapsed >= seconds:
            print(f"{(time.monotonic() - started) / 60:6.1f}  {name:8} {done:10}  {rss / 2**20:6.1f}", flush=True)
            next_row += 60
    stop.set()
    for thread in threads:
        thread.join()
    if errors:
        print(f"  {len(errors)} errors in {name}, first: {errors[0]}", flush=True)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5, help="total duration (default 5)")
    parser.add_argument("--threads", type=int, default=8, help="boto3 client threads (default 8)")
    parser.add_argument("--service", choices=(*SERVICES, "all"), default="all")
    parser.add_argument("--interval", type=float, default=5, help="seconds between RSS samples (default 5)")
    args = parser.parse_args()
    seconds = args.minutes * 60
    if args.service == "all":
        phases = [(s, [s], seconds / 8) for s in SERVICES] + [("mixed", list(SERVICES), seconds / 2)]
    else:
        phases = [(args.service, [args.service], seconds)]

    os.environ["LAKESTACK_KINESIS_ENFORCE_LIMITS"] = "0"  # the server inherits it: 8 threads exceed 1 MB/s a shard
    with lakestack_server() as (endpoint, key, secret, _, pid):
        def make_client(service):
            return client(service, endpoint, key, secret, retries={"max_attempts": 0})

        process = psutil.Process(pid)
        setup(make_client)
        workers = [Worker(make_client, i) for i in range(args.threads)]
        ops = dict.fromkeys(SERVICES, 0)
        print(f"server RSS after setup: {process.memory_info().rss / 2**20:.1f} MB", flush=True)
        print("minute  phase    ops so far  RSS MB", flush=True)
        results, started = [], time.monotonic()
        for name, services, phase_seconds in phases:
            before = dict(ops)
            samples = run_phase(name, services, workers, phase_seconds, process, ops, started, args.interval)
            done = sum(ops.values()) - sum(before.values())
            grown = (samples[-1][1] - samples[0][1]) / 2**20 if samples else float("nan")
            results.append([name, done, f"{done / phase_seconds:.0f}", f"{grown:+.2f}", f"{slope(samples):.1f}"])
        print()
        print(table(results, ["phase", "ops", "ops/s", "RSS after warm-up, MB", "bytes/op"]))
        print(f"\nserver RSS at the end: {process.memory_info().rss / 2**20:.1f} MB")


if __name__ == "__main__":
    main()
