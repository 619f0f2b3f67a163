"""Kinesis throughput: lakestack (embedded log), lakestack (NATS JetStream) and moto server,
side by side, plus the embedded log against raw fsync'd appends on the same disk.

    .venv/bin/python bench/kinesis.py [--batches N] [--shards S] [--threads T]

PutRecords: T client threads send N batches of 500 records of 1 KiB (random partition
keys) to a stream of S shards. GetRecords catch-up: one reader per shard then reads
everything back from TRIM_HORIZON (Limit 10000). lakestack runs with throughput limits
off (a bulk load: 500 KiB batches exceed 1 MiB/s per shard).

Two clients drive every server the same way. "wire" is a lean SigV4 client: request
bodies are serialized before the clock starts (as a compiled SDK or the KPL would, in well
under a millisecond), each call is signed (payload SHA-256 included) and sent on a kept-
alive connection, and responses are parsed as JSON — so the figure is the server's, not
Python boto3's (whose own CPU, ~7 ms per 500-record call, would otherwise share the 2
cores with the server). "boto3" repeats PutRecords through boto3 itself, for reference.

moto keeps each shard's records in a dict and copies its keys for every record it adds,
so its PutRecords rate falls as a shard grows; the boto3 column, over a fresh stream's
first records, shows it at its best.

Raw appends: the same batches, split across S files as the stream splits them across
shards, each part written and fdatasync'd — what any durable log must at least do for a
group of that size. The embedded engine is measured in process (its append path alone,
with T threads) and end to end, each as a ratio of raw appends.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import WireClient, client, lakestack_server, moto_server, table  # noqa: E402

RECORD = 1024
BATCH = 500


class KinesisWire(WireClient):
    def call(self, operation: str, body: bytes) -> dict:
        import json

        status, data = self.request("POST", "/", body, {"Content-Type": "application/x-amz-json-1.1",
                                                        "X-Amz-Target": f"Kinesis_20131202.{operation}"})
        if status != 200:
            raise RuntimeError(f"{operation}: HTTP {status} {data[:300]!r}")
        return json.loads(data)


def wire_bodies(work: list[list[dict]], name: str) -> list[bytes]:
    import base64
    import json

    return [json.dumps({"StreamName": name, "Records": [
        {"Data": base64.b64encode(r["Data"]).decode(), "PartitionKey": r["PartitionKey"]} for r in batch]}).encode()
        for batch in work]


def wire_put_phase(wire: KinesisWire, bodies: list[bytes], threads: int) -> float:
    def send(body):
        assert wire.call("PutRecords", body)["FailedRecordCount"] == 0

    for body in bodies[:3]:
        send(body)
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, bodies[3:]))
    return time.perf_counter() - start


def wire_get_phase(wire: KinesisWire, name: str, shards: list[str]) -> tuple[int, float]:
    import json

    counts = []

    def drain(shard_id: str) -> None:
        iterator = wire.call("GetShardIterator", json.dumps({"StreamName": name, "ShardId": shard_id,
                                                             "ShardIteratorType": "TRIM_HORIZON"}).encode())
        iterator, got = iterator["ShardIterator"], 0
        while True:
            page = wire.call("GetRecords", json.dumps({"ShardIterator": iterator, "Limit": 10_000}).encode())
            got += len(page["Records"])
            iterator = page.get("NextShardIterator")
            if not page["Records"] or not iterator:
                break
        counts.append(got)

    start = time.perf_counter()
    with ThreadPoolExecutor(len(shards)) as pool:
        list(pool.map(drain, shards))
    return sum(counts), time.perf_counter() - start


def batches(n: int) -> list[list[dict]]:
    payload = os.urandom(RECORD)
    return [[{"Data": payload, "PartitionKey": os.urandom(8).hex()} for _ in range(BATCH)] for _ in range(n)]


def wait_active(kinesis, name: str) -> None:
    while kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamStatus"] != "ACTIVE":
        time.sleep(0.05)


def put_phase(kinesis, name: str, work: list[list[dict]], threads: int) -> float:
    def send(batch):
        result = kinesis.put_records(StreamName=name, Records=batch)
        assert result["FailedRecordCount"] == 0, result["FailedRecordCount"]

    for batch in work[:3]:  # warm up connections
        send(batch)
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, work[3:]))
    return time.perf_counter() - start


def get_phase(kinesis, name: str) -> tuple[int, float]:
    shards = [s["ShardId"] for s in kinesis.list_shards(StreamName=name)["Shards"]]
    counts = []

    def drain(shard_id: str) -> None:
        iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=shard_id,
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        got = 0
        while True:
            page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            got += len(page["Records"])
            iterator = page.get("NextShardIterator")
            if not page["Records"] or not iterator:
                break
        counts.append(got)

    start = time.perf_counter()
    with ThreadPoolExecutor(len(shards)) as pool:
        list(pool.map(drain, shards))
    return sum(counts), time.perf_counter() - start


def run_server(label: str, endpoint: str, key: str, secret: str, work, shards: int, threads: int,
               boto3_batches: int) -> list:
    kinesis = client("kinesis", endpoint, key, secret, parameter_validation=False)
    wire = KinesisWire(endpoint, key, secret, "kinesis")
    kinesis.create_stream(StreamName="bench", ShardCount=shards)
    wait_active(kinesis, "bench")
    put_seconds = wire_put_phase(wire, wire_bodies(work, "bench"), threads)
    records = (len(work) - 3) * BATCH
    shard_ids = [s["ShardId"] for s in kinesis.list_shards(StreamName="bench")["Shards"]]
    got, get_seconds = wire_get_phase(wire, "bench", shard_ids)
    if got != len(work) * BATCH:
        print(f"  ({label} returned {got} of {len(work) * BATCH} records)")
    kinesis.create_stream(StreamName="bench-boto3", ShardCount=shards)
    wait_active(kinesis, "bench-boto3")
    boto3_seconds = put_phase(kinesis, "bench-boto3", work[:boto3_batches], threads)
    boto3_records = (boto3_batches - 3) * BATCH
    mb = RECORD / 1e6
    row = [label, f"{records / put_seconds:,.0f}", f"{records * mb / put_seconds:.1f}",
           f"{got / get_seconds:,.0f}", f"{got * mb / get_seconds:.1f}", f"{boto3_records / boto3_seconds:,.0f}"]
    print("  " + "  ".join(row), flush=True)
    return row


def raw_appends(work, shards: int, where: Path) -> float:
    """Records/s of plain appends + fdatasync, one group per shard per batch."""
    files = [os.open(where / f"raw-{i}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) for i in range(shards)]
    parts = [b"".join(r["Data"] for r in batch[i::shards]) for batch in work for i in range(shards)]
    start = time.perf_counter()
    for i, part in enumerate(parts):
        fd = files[i % shards]
        os.write(fd, part)
        os.fdatasync(fd)
    seconds = time.perf_counter() - start
    for fd in files:
        os.close(fd)
    for i in range(shards):
        (where / f"raw-{i}.log").unlink()
    return len(work) * BATCH / seconds


def engine_appends(work, shards: int, threads: int, where: Path) -> float:
    """Records/s of the embedded log's own append path (framing, index, group commit)."""
    from lakestack.engines.streams import ShardRef
    from lakestack.engines.streams.segments import SegmentLog

    log = SegmentLog(where / "engine")
    refs = [ShardRef("000000000000", "us-east-1", "bench", "ab" * 16, f"shardId-{i:012d}") for i in range(shards)]
    grouped = [{refs[i]: [(r["PartitionKey"], r["Data"]) for r in batch[i::shards]] for i in range(shards)}
               for batch in work]
    lock = threading.Lock()
    start = time.perf_counter()

    def append(batch):
        log.append(batch, int(time.time() * 1000))

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(append, grouped))
    seconds = time.perf_counter() - start
    with lock:
        log.close()
    return len(work) * BATCH / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=200, help="PutRecords calls per server (default 200)")
    parser.add_argument("--shards", type=int, default=4, help="shards in the stream (default 4)")
    parser.add_argument("--threads", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--skip-moto", action="store_true")
    args = parser.parse_args()
    work = batches(args.batches)
    boto3 = max(10, args.batches // 4)
    print(f"{args.batches} PutRecords × {BATCH} × {RECORD} B records, {args.shards} shards, "
          f"{args.threads} client threads", flush=True)
    headers = ["server", "wire put rec/s", "put MB/s", "wire get rec/s", "get MB/s", "boto3 put rec/s"]
    rows = []
    os.environ["LAKESTACK_KINESIS_ENFORCE_LIMITS"] = "0"  # the servers inherit it

    os.environ["LAKESTACK_STREAM_ENGINE"] = "embedded"
    with lakestack_server() as server:
        endpoint, key, secret, home = server[:4]
        rows.append(run_server("lakestack (embedded)", endpoint, key, secret, work, args.shards, args.threads, boto3))
        raw_dir = Path(home)

        with tempfile.TemporaryDirectory(dir=raw_dir) as scratch:
            raw = raw_appends(work, args.shards, Path(scratch))
            engine = engine_appends(work, args.shards, args.threads, Path(scratch))

    from lakestack.engines.streams.nats_server import NatsServer

    with NatsServer() as url:
        os.environ["LAKESTACK_STREAM_ENGINE"] = "jetstream"
        os.environ["LAKESTACK_NATS_URL"] = url
        with lakestack_server() as server:
            endpoint, key, secret = server[:3]
            rows.append(run_server("lakestack (jetstream)", endpoint, key, secret, work, args.shards, args.threads, boto3))
    for name in ("LAKESTACK_STREAM_ENGINE", "LAKESTACK_NATS_URL"):
        os.environ.pop(name, None)

    if not args.skip_moto:
        with moto_server() as server:
            endpoint, key, secret = server[:3]
            rows.append(run_server("moto_server", endpoint, key, secret, work, args.shards, args.threads, boto3))

    print()
    print(table(rows, headers))
    print()
    embedded = float(rows[0][1].replace(",", ""))
    if not args.skip_moto:
        moto = float(rows[-1][1].replace(",", ""))
        print(f"PutRecords (wire), lakestack embedded vs moto:   {embedded / moto:.1f}x   (target >= 10x)")
        boto3_ratio = float(rows[0][5].replace(",", "")) / float(rows[-1][5].replace(",", ""))
        print(f"PutRecords through boto3 (first {(boto3 - 3) * BATCH:,} records of a fresh stream): "
              f"{boto3_ratio:.1f}x moto")
        moto_get = float(rows[-1][3].replace(",", ""))
        print(f"GetRecords, lakestack embedded vs moto:   {float(rows[0][3].replace(',', '')) / moto_get:.1f}x")
    print(f"raw fsync'd appends (same groups):        {raw:,.0f} rec/s ({raw * RECORD / 1e6:.1f} MB/s)")
    print(f"embedded log, in process ({args.threads} threads):     {engine:,.0f} rec/s -> {engine / raw:.2f}x raw "
          "(target >= 0.5x)")
    print(f"embedded, end to end through HTTP:        {embedded / raw:.2f}x raw")


if __name__ == "__main__":
    main()
