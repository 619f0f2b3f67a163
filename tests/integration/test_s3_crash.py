"""Nothing acknowledged is lost: a server killed with SIGKILL in the middle of a stream of
PUTs comes back with every acknowledged object byte-identical and no torn object listed."""

import hashlib
import threading
import time

import pytest


def body_for(key: str) -> bytes:
    # Sizes from empty to a few hundred KiB, content derived from the key.
    size = int(hashlib.md5(key.encode()).hexdigest()[:5], 16) % (300 << 10)
    seed = hashlib.sha256(key.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


@pytest.mark.slow
def test_sigkill_during_puts_loses_nothing_acknowledged(server_process):
    server = server_process()
    s3 = server.client("s3")
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
    server.kill()
    stop.set()
    for t in threads:
        t.join()
    assert len(acknowledged) > 20, "the writers barely ran; the test proves nothing"

    server.start()
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
