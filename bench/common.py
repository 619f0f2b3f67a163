"""Shared bench helpers: start a lakestack or moto server as a subprocess on a free port."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent


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
    with tempfile.TemporaryDirectory(prefix="lakestack-bench-", dir=home) as tmp:
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


def client(service: str, endpoint: str, key: str, secret: str, **config):
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        service, endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
        region_name="us-east-1", config=Config(max_pool_connections=32, **config))


def table(rows: list[list], headers: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False))
    out = [line, "  ".join("-" * w for w in widths)]
    for row in rows:
        out.append("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=False)))
    return "\n".join(out)
