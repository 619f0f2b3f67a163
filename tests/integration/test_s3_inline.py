"""Small S3 reads and writes run on the event loop thread while small fsyncs are quick, and
on worker threads otherwise; both ways answer the same."""

import hashlib
import os

import pytest
from helpers import error_of

import lakestack
from lakestack.aws.context import RequestContext
from lakestack.aws.request import AsgiBody, BytesBody, HttpRequest
from lakestack.services.s3 import spool

BUCKET = "inline"


@pytest.fixture(scope="module")
def stack():
    with lakestack.local() as running:
        running.client("s3").create_bucket(Bucket=BUCKET)
        yield running


def decide(stack, operation, body=None, **params) -> bool:
    http = HttpRequest("PUT", f"/{BUCKET}/k", "", {}, body=body if body is not None else BytesBody(b"x"))
    ctx = RequestContext("id", "s3", operation, "us-east-1", None, stack.stack, http)
    return stack.stack.providers["s3"].runs_inline(ctx, {"Bucket": BUCKET, "Key": "k", **params})


def test_what_runs_on_the_loop(stack, monkeypatch):
    monkeypatch.setattr(spool.small_file_sync, "seconds", 0.0002)  # a quick disk
    assert decide(stack, "PutObject", ContentLength=4096)
    assert decide(stack, "GetObject") and decide(stack, "HeadObject") and decide(stack, "HeadBucket")
    assert not decide(stack, "PutObject", ContentLength=spool.SMALL_FILE + 1)  # hashing it takes too long
    assert not decide(stack, "PutObject", body=AsgiBody(None, None), ContentLength=10)  # body still on the wire
    assert not decide(stack, "ListObjectsV2") and not decide(stack, "DeleteObject")
    monkeypatch.setattr(stack.stack.providers["s3"].notifications, "has_targets", lambda bucket: True)
    assert not decide(stack, "PutObject", ContentLength=4096)  # notifying enqueues durably in Lambda


def test_a_slow_disk_sends_them_to_worker_threads(stack, monkeypatch):
    monkeypatch.setattr(spool.small_file_sync, "seconds", 0.02)
    assert not decide(stack, "PutObject", ContentLength=4096)
    assert not decide(stack, "GetObject")


def test_small_fsyncs_are_measured(stack, monkeypatch):
    s3 = stack.client("s3")
    monkeypatch.setattr(spool.small_file_sync, "seconds", 5.0)
    s3.put_object(Bucket=BUCKET, Key="measured", Body=b"x")
    assert 0 < spool.small_file_sync.seconds < 5.0


@pytest.mark.parametrize("sync_seconds", [0.0, 1.0], ids=["on the loop", "on workers"])
def test_both_ways_answer_alike(stack, monkeypatch, sync_seconds):
    monkeypatch.setattr(spool.small_file_sync, "seconds", sync_seconds)
    monkeypatch.setattr(spool.small_file_sync, "add", lambda seconds: None)  # hold the path steady
    s3 = stack.client("s3")
    key = f"both/{sync_seconds}"
    data = os.urandom(5000)
    put = s3.put_object(Bucket=BUCKET, Key=key, Body=data)
    assert put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == data
    assert s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] == len(data)
    failed = error_of(s3.put_object, Bucket=BUCKET, Key=key, Body=b"other", IfNoneMatch="*")
    assert failed["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert error_of(s3.get_object, Bucket=BUCKET, Key=f"{key}/missing")["Error"]["Code"] == "NoSuchKey"
    assert error_of(s3.head_bucket, Bucket="no-such-bucket-here")["ResponseMetadata"]["HTTPStatusCode"] == 404
