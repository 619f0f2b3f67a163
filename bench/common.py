"""Shared bench helpers: start a lakestack or moto server as a subprocess on a free port."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent
# Benchmark data dirs go here rather than in /tmp: test suites delete thousands of temp dirs
# there, and on a journal-less ext4 (this VM's) creating files next to recently deleted ones
# is 20x slower (see file_create_us and docs/performance.md).
DATA = Path(os.environ.get("LAKESTACK_BENCH_DATA", Path.home() / ".cache" / "lakestack-bench"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not start")


@contextlib.contextmanager
def lakestack_server(home: str | None = None):
    """Yields (endpoint, access key id, secret, data dir, server pid)."""
    port = free_port()
    if home is None:
        DATA.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lakestack-bench-", dir=home or DATA) as tmp:
        env = dict(os.environ, LAKESTACK_ROOT_ACCESS_KEY_ID="AKIABENCHBENCHBENCH1",
                   LAKESTACK_ROOT_SECRET_ACCESS_KEY="benchbenchbenchbenchbenchbenchbenchbench")
        proc = subprocess.Popen([str(BIN / "lakestack"), "up", "--port", str(port), "--home", tmp], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            endpoint = f"http://127.0.0.1:{port}"
            wait_http(endpoint + "/_lakestack/health")
            yield (endpoint, env["LAKESTACK_ROOT_ACCESS_KEY_ID"], env["LAKESTACK_ROOT_SECRET_ACCESS_KEY"], Path(tmp),
                   proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@contextlib.contextmanager
def moto_server():
    port = free_port()
    proc = subprocess.Popen([str(BIN / "moto_server"), "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        wait_http(endpoint + "/moto-api/")
        yield endpoint, "testing", "testing", proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def file_create_us(where: Path, n: int = 300) -> float:
    """Microseconds to create an empty file in a fresh directory under `where` (left in place:
    deleting them would itself slow the next creations). ~20 µs on a healthy filesystem."""
    directory = Path(tempfile.mkdtemp(prefix="create-probe-", dir=where))
    start = time.perf_counter()
    for i in range(n):
        os.close(os.open(directory / str(i), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    return (time.perf_counter() - start) * 1e6 / n


def client(service: str, endpoint: str, key: str, secret: str, **config):
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        service, endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
        region_name="us-east-1", config=Config(max_pool_connections=32, **config))


class WireClient:
    """Lean signed HTTP calls, one kept-alive connection per thread: the same cheap client for
    every server, so a figure measures the server rather than boto3's own per-call CPU."""

    def __init__(self, endpoint: str, key: str, secret: str, service: str, region: str = "us-east-1"):
        from botocore.auth import S3SigV4Auth, SigV4Auth
        from botocore.credentials import Credentials

        self.endpoint = endpoint
        self.host, port = endpoint.split("//", 1)[1].split(":")
        self.port = int(port)
        # S3 signs the path as sent and the payload hash as a header, like boto3 over HTTP.
        self.signer = (S3SigV4Auth if service == "s3" else SigV4Auth)(Credentials(key, secret), service, region)
        self.local = threading.local()

    def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> tuple[int, bytes]:
        import http.client

        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method=method, url=self.endpoint + path, data=body, headers=headers or {})
        self.signer.add_auth(request)
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            connection.connect()
            # As urllib3 (boto3) does: headers and body go out in separate writes, and Nagle's
            # algorithm would hold the tail of the body for the server's delayed ACK.
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.request(method, path, body, dict(request.headers))
        response = connection.getresponse()
        return response.status, response.read()


def table(rows: list[list], headers: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False))
    out = [line, "  ".join("-" * w for w in widths)]
    for row in rows:
        out.append("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=False)))
    return "\n".join(out)
