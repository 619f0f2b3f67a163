"""Browser uploads and CORS rules are durable once acknowledged: a server killed with SIGKILL
comes back with every acknowledged POST Object upload whole and the bucket's CORS rules in
force (evaluated from the rules it loads at start-up)."""

import hashlib
import threading
import time

import pytest
import requests

RULES = [{"AllowedOrigins": ["https://*.example.com"], "AllowedMethods": ["GET", "POST"], "MaxAgeSeconds": 60}]


def body_for(key: str) -> bytes:
    size = int(hashlib.md5(key.encode()).hexdigest()[:5], 16) % (200 << 10)
    return (hashlib.sha256(key.encode()).digest() * (size // 32 + 1))[:size]


@pytest.mark.slow
def test_sigkill_keeps_acknowledged_uploads_and_cors_rules(server_process):
    server = server_process()
    s3 = server.client("s3", signature_version="s3v4")
    s3.create_bucket(Bucket="browser")
    s3.put_bucket_cors(Bucket="browser", CORSConfiguration={"CORSRules": RULES})
    post = s3.generate_presigned_post("browser", "up/${filename}", ExpiresIn=600)
    acknowledged: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def uploader(n: int) -> None:
        session = requests.Session()
        i = 0
        while not stop.is_set():
            name = f"w{n}-{i:05d}.bin"
            try:
                answer = session.post(post["url"], data=post["fields"],
                                      files={"file": (name, body_for(f"up/{name}"))}, timeout=10)
            except requests.RequestException:
                return  # the server is gone
            if answer.status_code != 204:
                return
            with lock:
                acknowledged.add(f"up/{name}")
            i += 1

    threads = [threading.Thread(target=uploader, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    time.sleep(2)
    server.kill()
    stop.set()
    for t in threads:
        t.join()
    assert len(acknowledged) > 10, "the uploaders barely ran; the test proves nothing"

    server.start()
    s3 = server.client("s3", signature_version="s3v4")
    assert s3.get_bucket_cors(Bucket="browser")["CORSRules"] == RULES
    listed = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket="browser")
              for o in page.get("Contents", [])}
    missing = acknowledged - listed
    assert not missing, f"{len(missing)} acknowledged uploads lost, e.g. {sorted(missing)[:3]}"
    for key in listed:
        assert s3.get_object(Bucket="browser", Key=key)["Body"].read() == body_for(key), f"{key} is torn"
    preflight = requests.options(f"{server.endpoint_url}/browser/up/x", headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Max-Age"] == "60"
