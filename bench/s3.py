"""S3 throughput: lakestack vs moto server and MiniStack, and large objects vs raw disk, in one run.

    .venv/bin/python bench/s3.py [--small N] [--large-mib M] [--threads T] [--home DIR] [--https]

Small objects: T client threads each PUT then GET 4 KiB objects (ops/s counts both), first
through a lean signed client (also into a bucket with versioning on, where every PUT
replaces a version that is kept) (bench/common.py's WireClient: SigV4 with the payload's
SHA-256, one kept-alive connection per thread), then through boto3. Client and server share
this machine's two cores, and boto3 spends ~1.3 ms of CPU per call — more than a lakestack
GET costs the server — so through boto3 the client, not the server, sets the pace; the lean
client measures the servers. The server's CPU time per operation is printed for both.
Large objects: one PUT and one GET of an M MiB object through boto3 (single request), then
the same through boto3's transfer manager (multipart, ranged GETs), each against a raw copy
of the same bytes between two files on the same disk (read, write, fsync; timed on a
synced disk) — what any durable store must at least do.
lakestack's data dir defaults to ~/.cache/lakestack-bench (LAKESTACK_BENCH_DATA): see
bench/common.py on why not /tmp. Peers: moto server and MiniStack (from its own venv,
.venv-ministack, as bench/gateway.py makes it); both keep objects in memory and answer a PUT
before anything reaches the disk, while lakestack fsyncs every PUT first.
--https: then the large put_object over HTTP and over HTTPS on the same server and port,
alternating, with the client's and the server's CPU seconds for each. Over HTTP boto3 signs
the body's SHA-256 (a pass over it before sending); over HTTPS it streams the body unsigned
(aws-chunked) with a trailing CRC32, and TLS encrypts it.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parent))
from common import WireClient, client, file_create_us, lakestack_server, moto_server, table  # noqa: E402
from gateway import ministack_server  # noqa: E402  (its own venv, from requirements/ministack.lock)


def timed(one, n: int, threads: int, server_pid: int) -> tuple[float, float]:
    """Run one(i) for i < n on `threads` threads: (PUT+GET ops/s, server CPU ms per op)."""
    for i in range(n, n + 20):  # warm up connections
        one(i)
    server = psutil.Process(server_pid)
    cpu_before = sum(server.cpu_times()[:2])
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(n)))
    elapsed = time.perf_counter() - start
    cpu = sum(server.cpu_times()[:2]) - cpu_before
    return 2 * n / elapsed, cpu * 1000 / (2 * n)


def small_objects(s3, n: int, threads: int, server_pid: int) -> tuple[float, float]:
    """4 KiB PUT then GET of the same key, through boto3."""
    s3.create_bucket(Bucket="bench-small")
    payload = os.urandom(4096)

    def one(i: int) -> None:
        key = f"obj/{i:06d}"
        s3.put_object(Bucket="bench-small", Key=key, Body=payload)
        assert s3.get_object(Bucket="bench-small", Key=key)["Body"].read() == payload

    return timed(one, n, threads, server_pid)


VERSIONING_ON = (b'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                 b"<Status>Enabled</Status></VersioningConfiguration>")


def small_objects_wire(wire: WireClient, n: int, threads: int, server_pid: int,
                       versioned: bool = False) -> tuple[float, float]:
    """The same PUT+GET pairs through the lean signed client (payload SHA-256 signed, as
    boto3 does over HTTP). `versioned`: in a bucket with versioning enabled, where each PUT of
    a key keeps the one before it as a noncurrent version (every key is written twice: the
    warm-up writes the first 20 keys again, and the timed run starts on a second pass)."""
    payload = os.urandom(4096)
    digest = hashlib.sha256(payload).hexdigest()
    bucket = "bench-wire-versioned" if versioned else "bench-wire"

    def one(i: int) -> None:
        path = f"/{bucket}/obj/{i % (n // 2):06d}" if versioned else f"/{bucket}/obj/{i:06d}"
        status, _ = wire.request("PUT", path, payload, {"x-amz-content-sha256": digest})
        assert status == 200, status
        status, body = wire.request("GET", path)
        assert status == 200 and body == payload, status

    status, _ = wire.request("PUT", f"/{bucket}")
    assert status == 200, status
    if versioned:
        status, _ = wire.request("PUT", f"/{bucket}?versioning", VERSIONING_ON,
                                 {"x-amz-content-sha256": hashlib.sha256(VERSIONING_ON).hexdigest()})
        assert status == 200, status
    return timed(one, n, threads, server_pid)


def large_object(s3, data: bytes) -> tuple[float, float]:
    s3.create_bucket(Bucket="bench-large")
    mib = len(data) / (1 << 20)
    start = time.perf_counter()
    s3.put_object(Bucket="bench-large", Key="big.bin", Body=data)
    put = mib / (time.perf_counter() - start)
    start = time.perf_counter()
    body = s3.get_object(Bucket="bench-large", Key="big.bin")["Body"]
    got = 0
    while chunk := body.read(1 << 20):
        got += len(chunk)
    get = mib / (time.perf_counter() - start)
    assert got == len(data)
    return put, get


def large_put_costs(s3, data: bytes, bucket: str, server_pid: int) -> tuple[float, float, float]:
    """One put_object of `data`: (MB/s, client CPU s, server CPU s)."""
    server = psutil.Process(server_pid)
    client_before, server_before = time.process_time(), sum(server.cpu_times()[:2])
    start = time.perf_counter()
    s3.put_object(Bucket=bucket, Key="big.bin", Body=data)
    elapsed = time.perf_counter() - start
    return (len(data) / (1 << 20) / elapsed, time.process_time() - client_before,
            sum(server.cpu_times()[:2]) - server_before)


def http_vs_https(endpoint: str, key: str, secret: str, pid: int, home: Path, data: bytes, rounds: int = 3) -> list:
    """The large put_object over HTTP and HTTPS (same server, same port), alternating."""
    import boto3

    options = dict(region_name="us-east-1", aws_access_key_id=key, aws_secret_access_key=secret)
    plain = boto3.session.Session().client("s3", endpoint_url=endpoint, **options)
    secure = boto3.session.Session().client("s3", endpoint_url=endpoint.replace("http://", "https://"),
                                            verify=str(home / "tls" / "ca.pem"), **options)
    plain.create_bucket(Bucket="bench-transport")
    rows = []
    for _ in range(rounds):
        for name, s3 in (("HTTP", plain), ("HTTPS", secure)):
            os.sync()
            mbps, client_cpu, server_cpu = large_put_costs(s3, data, "bench-transport", pid)
            rows.append([name, f"{mbps:,.0f}", f"{client_cpu:.2f}", f"{server_cpu:.2f}"])
    return rows


def large_object_managed(s3, data: bytes) -> tuple[float, float]:
    """The same object through boto3's transfer manager, as `aws s3 cp` moves it: multipart
    upload and ranged GETs, 8 MiB pieces on 10 threads (its defaults)."""
    mib = len(data) / (1 << 20)
    start = time.perf_counter()
    s3.upload_fileobj(io.BytesIO(data), "bench-large", "managed.bin")
    put = mib / (time.perf_counter() - start)
    out = io.BytesIO()
    start = time.perf_counter()
    s3.download_fileobj("bench-large", "managed.bin", out)
    get = mib / (time.perf_counter() - start)
    assert out.getbuffer().nbytes == len(data)
    return put, get


def raw_copy(data: bytes, where: Path) -> float:
    """MB/s of a plain file copy on the same disk: read a file, write it elsewhere, fsync."""
    src, dst = where / "src.bin", where / "dst.bin"
    with open(src, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())  # its writeback must not compete with the timed copy
    start = time.perf_counter()
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(1 << 20):
            fout.write(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    mbps = len(data) / (1 << 20) / (time.perf_counter() - start)
    src.unlink()
    dst.unlink()
    return mbps


def run(endpoint: str, key: str, secret: str, pid: int, args, data: bytes, before_large=None) -> tuple:
    wire_client = WireClient(endpoint, key, secret, "s3")
    wire = small_objects_wire(wire_client, args.small, args.threads, pid)
    versioned = small_objects_wire(wire_client, args.small, args.threads, pid, versioned=True)
    s3 = client("s3", endpoint, key, secret)
    boto = small_objects(s3, args.small, args.threads, pid)
    os.sync()  # the large transfers start with nothing else waiting to reach the disk
    if before_large is not None:
        before_large()
    return (*wire, *boto, *large_object(s3, data), *large_object_managed(s3, data), *versioned)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=2000, help="small objects per server (default 2000)")
    parser.add_argument("--large-mib", type=int, default=256, help="large object size in MiB (default 256)")
    parser.add_argument("--threads", type=int, default=8, help="client threads for small objects (default 8)")
    parser.add_argument("--home", help="where lakestack's data dir goes (default: ~/.cache/lakestack-bench)")
    parser.add_argument("--https", action="store_true",
                        help="also the large put_object over HTTP vs HTTPS, with client and server CPU")
    args = parser.parse_args()
    transport_rows = []
    data = os.urandom(args.large_mib << 20)
    raw = 0.0
    with lakestack_server(home=args.home) as (endpoint, key, secret, home, pid):
        create_us = file_create_us(home)

        def measure_raw_copy() -> None:  # on the same disk, right before lakestack's large PUT
            nonlocal raw
            with tempfile.TemporaryDirectory(dir=home) as tmp:
                raw = raw_copy(data, Path(tmp))
            os.sync()

        ls = run(endpoint, key, secret, pid, args, data, before_large=measure_raw_copy)
        if args.https:
            transport_rows = http_vs_https(endpoint, key, secret, pid, home, data)
    with moto_server() as (endpoint, key, secret, pid):
        moto = run(endpoint, key, secret, pid, args, data)
    with ministack_server() as (endpoint, key, secret, pid):
        mini = run(endpoint, key, secret, pid, args, data)
    mib = args.large_mib

    def row(name: str, i: int, fmt: str, ratio: str) -> list:
        return [name, format(ls[i], fmt), format(moto[i], fmt), format(mini[i], fmt), ratio]

    def faster(i: int, extra: str = "") -> str:  # ops/s: lakestack over the better peer
        return f"{ls[i] / max(moto[i], mini[i]):.1f}x best peer{extra}"

    def cheaper(i: int, extra: str = "") -> str:  # CPU per op: the better peer's over lakestack's
        return f"{min(moto[i], mini[i]) / ls[i]:.1f}x best peer{extra}"

    rows = [
        row("small 4 KiB PUT+GET ops/s, lean client", 0, ",.0f", faster(0)),
        row("  server CPU ms/op", 1, ".2f", cheaper(1)),
        row("  versioning on: ops/s", 8, ",.0f", faster(8, f", {ls[8] / ls[0]:.2f}x off")),
        row("  versioning on: server CPU ms/op", 9, ".2f", cheaper(9, f", {ls[9] / ls[1]:.2f}x off")),
        row("small 4 KiB PUT+GET ops/s, boto3", 2, ",.0f", faster(2)),
        row("  server CPU ms/op", 3, ".2f", cheaper(3)),
        row(f"large {mib} MiB PUT MB/s", 4, ",.0f", f"{ls[4] / raw:.2f}x raw copy ({raw:,.0f})"),
        row(f"large {mib} MiB GET MB/s", 5, ",.0f", f"{ls[5] / raw:.2f}x raw copy"),
        row("  transfer manager PUT MB/s", 6, ",.0f", f"{ls[6] / raw:.2f}x raw copy"),
        row("  transfer manager GET MB/s", 7, ",.0f", f"{ls[7] / raw:.2f}x raw copy"),
    ]
    print(table(rows, ["measure", "lakestack", "moto", "ministack", "ratio"]))
    if transport_rows:
        print(f"\n{mib} MiB put_object, the same lakestack over HTTP and HTTPS, alternating:")
        print(table(transport_rows, ["transport", "MB/s", "client CPU s", "server CPU s"]))
    print(f"\nCreating a file in lakestack's data dir took {create_us:.0f} µs before the run", end="")
    print(" (normal)." if create_us < 100 else
          " — slow: many files were deleted nearby recently, and every PUT creates one (docs/performance.md).")


if __name__ == "__main__":
    main()
