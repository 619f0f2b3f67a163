"""Glue crawler throughput: crawl N small Parquet files in Hive partitions, against the bare
cost of listing the same objects and reading their Parquet footers in one process.

    .venv/bin/python bench/crawler.py [--files N] [--partitions P] [--threads T] [--poll S]

The lake is written into a lakestack server (a subprocess) with boto3 PUTs from T threads.
The crawl is timed from StartCrawler until the crawler is READY again (GetCrawler polled
every --poll seconds);
it includes listing, reading every file's footer, inferring and merging schemas, grouping
into one table and writing P partitions into the catalog.

Baselines, in this process, on the same files:
- "list via S3 + read footers": ListObjectsV2 through boto3 against the same server, then
  pyarrow.parquet.read_metadata of each file from its place on disk;
- "walk disk + read footers": os.walk instead of the S3 listing (no S3 at all).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from common import client, lakestack_server, table  # noqa: E402

BUCKET = "bench-lake"
PREFIX = "events/"
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
ACCESS = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket", "glue:*"], "Resource": "*"}]}


def payloads(n: int = 8) -> list[bytes]:
    """A few distinct small Parquet files (10 rows, 5 columns, snappy)."""
    out = []
    for i in range(n):
        rows = 10
        data = pa.table({
            "event_id": pa.array(range(i * rows, (i + 1) * rows), pa.int64()),
            "device": [f"bike-{(i + j) % 50}" for j in range(rows)],
            "speed": [float(j) * 1.5 for j in range(rows)],
            "battery": pa.array([j % 100 for j in range(rows)], pa.int32()),
            "at": pa.array([dt.datetime(2024, 1, 1) + dt.timedelta(seconds=j) for j in range(rows)],
                           pa.timestamp("ms")),
        })
        buffer = io.BytesIO()
        pq.write_table(data, buffer)
        out.append(buffer.getvalue())
    return out


def partition_folders(count: int) -> list[str]:
    start = dt.date(2019, 1, 1)
    days = [start + dt.timedelta(days=i) for i in range(count)]
    return [f"year={d.year}/month={d.month:02d}/day={d.day:02d}/" for d in days]


def write_lake(s3, files: int, partitions: int, threads: int) -> list[str]:
    s3.create_bucket(Bucket=BUCKET)
    bodies = payloads()
    folders = partition_folders(partitions)
    per = files // partitions
    keys = [f"{PREFIX}{folder}part-{j:05d}.snappy.parquet" for folder in folders for j in range(per)]

    def put(i: int) -> None:
        s3.put_object(Bucket=BUCKET, Key=keys[i], Body=bodies[i % len(bodies)])

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(put, range(len(keys))))
    return keys


def crawl(glue, iam, files: int, poll: float) -> float:
    iam.create_role(RoleName="bench-crawler", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="bench-crawler", PolicyName="lake", PolicyDocument=json.dumps(ACCESS))
    glue.create_database(DatabaseInput={"Name": "bench"})
    glue.create_crawler(Name="bench", Role="bench-crawler", DatabaseName="bench",
                        Targets={"S3Targets": [{"Path": f"s3://{BUCKET}/{PREFIX}"}]})
    start = time.perf_counter()
    glue.start_crawler(Name="bench")
    while True:
        crawler = glue.get_crawler(Name="bench")["Crawler"]
        if crawler["State"] == "READY" and "LastCrawl" in crawler:
            break
        time.sleep(poll)
    elapsed = time.perf_counter() - start
    if crawler["LastCrawl"]["Status"] != "SUCCEEDED":
        raise SystemExit(f"crawl failed: {crawler['LastCrawl']}")
    table_ = glue.get_table(DatabaseName="bench", Name="events")["Table"]
    assert table_["Parameters"]["objectCount"] == str(files), table_["Parameters"]
    return elapsed


def baseline_s3_listing(s3, lake_dir: Path) -> float:
    start = time.perf_counter()
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=PREFIX):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    for key in keys:
        pq.read_metadata(lake_dir / key).schema.to_arrow_schema()
    return time.perf_counter() - start


def baseline_walk(lake_dir: Path) -> float:
    start = time.perf_counter()
    for folder, _, names in os.walk(lake_dir / PREFIX):
        for name in names:
            pq.read_metadata(os.path.join(folder, name)).schema.to_arrow_schema()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=20000, help="Parquet files (default 20000)")
    parser.add_argument("--partitions", type=int, default=2000, help="Hive partitions (default 2000)")
    parser.add_argument("--threads", type=int, default=16, help="client threads writing the lake (default 16)")
    parser.add_argument("--poll", type=float, default=0.05, help="seconds between GetCrawler polls (default 0.05)")
    args = parser.parse_args()
    with lakestack_server() as (endpoint, key, secret, home, _pid):
        s3 = client("s3", endpoint, key, secret)
        started = time.perf_counter()
        write_lake(s3, args.files, args.partitions, args.threads)
        written = time.perf_counter() - started
        lake_dir = home / "s3" / BUCKET
        # Warm the page cache and pyarrow once, so neither side pays for a cold disk.
        baseline_walk(lake_dir)
        listing = baseline_s3_listing(s3, lake_dir)
        walking = baseline_walk(lake_dir)
        seconds = crawl(client("glue", endpoint, key, secret), client("iam", endpoint, key, secret), args.files,
                        args.poll)
    rows = [
        ["crawl (StartCrawler → READY)", f"{seconds:.2f}", f"{args.files / seconds:,.0f}", "-"],
        ["list via S3 + read footers", f"{listing:.2f}", f"{args.files / listing:,.0f}", f"{seconds / listing:.2f}x"],
        ["walk disk + read footers", f"{walking:.2f}", f"{args.files / walking:,.0f}", f"{seconds / walking:.2f}x"],
    ]
    print(f"{args.files:,} Parquet files in {args.partitions:,} partitions, written in {written:.1f}s "
          f"({args.threads} boto3 threads); {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(table(rows, ["measure", "seconds", "files/s", "crawl / this"]))


if __name__ == "__main__":
    main()
