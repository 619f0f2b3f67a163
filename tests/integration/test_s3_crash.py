"""Nothing acknowledged is lost: a server killed with SIGKILL in the middle of a stream of
PUTs comes back with every acknowledged object byte-identical and no torn object listed."""

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

BIN = Path(sys.executable).parent
KEY_ID, SECRET = "AKIACRASHTESTCRASH01", "crashtestcrashtestcrashtestcrashtest0001"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ, LAKESTACK_ROOT_ACCESS_KEY_ID=KEY_ID, LAKESTACK_ROOT_SECRET_ACCESS_KEY=SECRET)
    proc = subprocess.Popen([str(BIN / "lakestack"), "up", "--port", str(port), "--home", str(home)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_lakestack/health", timeout=1)
            return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode()) from None
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def body_for(key: str) -> bytes:
    # Sizes from empty to a few hundred KiB, content derived from the key.
    size = int(hashlib.md5(key.encode()).hexdigest()[:5], 16) % (300 << 10)
    seed = hashlib.sha256(key.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


@pytest.mark.slow
def test_sigkill_during_puts_loses_nothing_acknowledged(tmp_path):
    port = free_port()
    proc = start_server(tmp_path, port)
    s3 = boto3.session.Session().client(
        "s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
        region_name="us-east-1", config=Config(retries={"max_attempts": 0}, connect_timeout=2, read_timeout=5))
    s3.create_bucket(Bucket="crash")
    acknowledged: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n: int) -> None:
        i = 0
        while not stop.is_set():
            key = f"w{n}/part={i % 7}/obj-{i:05d}.bin"
            try:
                s3.put_object(Bucket="crash", Key=key, Body=body_for(key))
            except Exception:
                return  # the server is gone
            with lock:
                acknowledged.add(key)
            i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stop.set()
    for t in threads:
        t.join()
    assert len(acknowledged) > 20, "the writers barely ran; the test proves nothing"

    proc = start_server(tmp_path, port)
    try:
        listed = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket="crash"):
            for obj in page.get("Contents", []):
                listed[obj["Key"]] = obj["Size"]
        missing = acknowledged - set(listed)
        assert not missing, f"{len(missing)} acknowledged objects lost, e.g. {sorted(missing)[:3]}"
        # Every listed object, acknowledged or not, must be whole: no torn object is visible.
        for key, size in listed.items():
            data = s3.get_object(Bucket="crash", Key=key)["Body"].read()
            assert data == body_for(key), f"{key} is torn"
            assert size == len(data)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
