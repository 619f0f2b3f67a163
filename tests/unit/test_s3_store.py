"""The object store without a server: lake layout, overwrite/delete bookkeeping, and crash
recovery from every point of the write and delete sequences (simulated by failing a step)."""

import hashlib
import os
import random
import threading
import time

import pytest
from helpers import Crash
from helpers import open_s3_store as open_store

from lakestack.aws.errors import AwsError
from lakestack.aws.request import BytesBody
from lakestack.services.s3 import spool
from lakestack.services.s3.keys import hashed_relpath
from lakestack.services.s3.spool import Incoming

ACCOUNT = "000000000000"


@pytest.fixture
def s3(tmp_path):
    store, buckets, objects = open_store(tmp_path)
    buckets.create(ACCOUNT, "us-east-1", "bkt", None)
    yield store, objects
    store.close()


def put(objects, key, data, **params):
    return objects.put(ACCOUNT, "bkt", key, params, Incoming(BytesBody(data), len(data)))


def read(objects, key):
    out, status = objects.read(ACCOUNT, "bkt", key, {}, head=False)
    body = out["Body"]
    return body if isinstance(body, bytes) else body.read()


def listed(store):
    return [r["key"] for r in store.db.query("SELECT key FROM objects WHERE bucket = 'bkt' ORDER BY key")]


def pending(store):
    return store.db.query("SELECT src, dst FROM pending_files")


def test_lake_layout_and_overwrite(s3, tmp_path):
    store, objects = s3
    record = put(objects, "year=2024/data.csv", b"a,b\n")
    assert record.lake and record.path == "s3/bkt/year=2024/data.csv"
    assert (tmp_path / "s3/bkt/year=2024/data.csv").read_bytes() == b"a,b\n"
    put(objects, "year=2024/data.csv", b"new")
    assert read(objects, "year=2024/data.csv") == b"new"
    assert os.listdir(tmp_path / "tmp") == []


def test_key_and_its_children_both_exist(s3, tmp_path):
    store, objects = s3
    put(objects, "a", b"file a")
    child = put(objects, "a/b", b"file a/b")  # "a" is a file, so "a/b" cannot be a path
    assert not child.lake and child.path == hashed_relpath("bkt", "a/b")
    objects.delete(ACCOUNT, "bkt", "a")
    moved = put(objects, "a/b", b"now a path")  # the overwrite moves it into the lake
    assert moved.lake and (tmp_path / "s3/bkt/a/b").read_bytes() == b"now a path"
    assert not (tmp_path / child.path).exists()
    parent = put(objects, "a", b"a again")  # now "a" is a directory
    assert not parent.lake
    assert read(objects, "a") == b"a again" and read(objects, "a/b") == b"now a path"


def test_delete_prunes_empty_directories(s3, tmp_path):
    store, objects = s3
    put(objects, "x/y/z/1", b"1")
    put(objects, "x/keep", b"k")
    objects.delete(ACCOUNT, "bkt", "x/y/z/1")
    assert not (tmp_path / "s3/bkt/x/y").exists()
    assert (tmp_path / "s3/bkt/x/keep").exists()
    objects.delete(ACCOUNT, "bkt", "missing")  # deleting nothing is fine
    with pytest.raises(AwsError):
        read(objects, "x/y/z/1")


def test_conditional_writes(s3):
    store, objects = s3
    put(objects, "k", b"1", IfNoneMatch="*")
    with pytest.raises(AwsError) as caught:
        put(objects, "k", b"2", IfNoneMatch="*")
    assert caught.value.status == 412
    with pytest.raises(AwsError) as caught:
        put(objects, "k", b"2", IfMatch='"nope"')
    assert caught.value.status == 412
    with pytest.raises(AwsError) as caught:
        put(objects, "missing", b"2", IfMatch='"nope"')
    assert caught.value.code == "NoSuchKey"
    assert read(objects, "k") == b"1"


def test_crash_after_commit_before_rename_rolls_forward(s3, tmp_path, monkeypatch):
    store, objects = s3
    put(objects, "data/file", b"old")
    monkeypatch.setattr(store, "rename", lambda tmp, final: (_ for _ in ()).throw(Crash()))
    with pytest.raises(Crash):
        put(objects, "data/file", b"new and acknowledged-to-be")
    assert (tmp_path / "s3/bkt/data/file").read_bytes() == b"old"  # the crash window
    monkeypatch.undo()
    store, _, objects = open_store(tmp_path)
    assert read(objects, "data/file") == b"new and acknowledged-to-be"
    assert os.listdir(tmp_path / "tmp") == [] and pending(store) == []


def test_crash_before_commit_leaves_nothing_listed(s3, tmp_path, monkeypatch):
    store, objects = s3
    monkeypatch.setattr(store, "transaction", lambda: (_ for _ in ()).throw(Crash()))
    with pytest.raises(Crash):
        put(objects, "never", b"half-written")
    monkeypatch.undo()
    assert os.listdir(tmp_path / "tmp") == []  # the failed request cleans up after itself
    (tmp_path / "tmp" / "stray").write_bytes(b"from a kill -9 mid-body")
    store, _, objects = open_store(tmp_path)
    assert listed(store) == [] and os.listdir(tmp_path / "tmp") == []


def test_crash_after_delete_commit_finishes_the_delete(s3, tmp_path, monkeypatch):
    store, objects = s3
    put(objects, "p/q/r", b"bytes")
    monkeypatch.setattr(store, "remove_file", lambda path, stop_at=None: (_ for _ in ()).throw(Crash()))
    with pytest.raises(Crash):
        objects.delete(ACCOUNT, "bkt", "p/q/r")
    assert (tmp_path / "s3/bkt/p/q/r").exists()
    monkeypatch.undo()
    store, _, objects = open_store(tmp_path)
    assert listed(store) == []
    assert not (tmp_path / "s3/bkt/p").exists()


def test_recovery_never_deletes_a_file_a_row_still_uses(s3, tmp_path):
    store, objects = s3
    put(objects, "kept", b"still here")
    with store.transaction() as db:  # a finished delete whose row was re-created afterwards
        store.add_pending(db, "s3/bkt/kept", None, "bkt", "kept")
    store, _, objects = open_store(tmp_path)
    assert read(objects, "kept") == b"still here"


def test_recovery_removes_abandoned_multipart_directories(s3, tmp_path):
    store, objects = s3
    (tmp_path / "multipart" / "gone-upload").mkdir()
    (tmp_path / "multipart" / "gone-upload" / "1").write_bytes(b"x")
    open_store(tmp_path)
    assert not (tmp_path / "multipart" / "gone-upload").exists()


def test_a_failed_digest_leaves_no_temp_file(s3, tmp_path):
    store, objects = s3
    with pytest.raises(AwsError) as caught:
        put(objects, "k", b"data", ContentMD5="AAAAAAAAAAAAAAAAAAAAAA==")
    assert caught.value.code == "BadDigest"
    assert os.listdir(tmp_path / "tmp") == [] and listed(store) == []


def test_short_body_is_incomplete(s3):
    store, objects = s3
    with pytest.raises(AwsError) as caught:
        objects.put(ACCOUNT, "bkt", "k", {}, Incoming(BytesBody(b"abc"), 10))
    assert caught.value.code == "IncompleteBody"


def test_bucket_cache_survives_restart(s3, tmp_path):
    store, objects = s3
    _, buckets, _ = open_store(tmp_path)
    assert buckets.get("bkt").account_id == ACCOUNT


def test_concurrent_writers_on_nested_keys(s3, tmp_path):
    """Keys whose paths nest ("a", "a/b", "a/b/c") written and deleted at once from many
    threads: every key reads back its last write, and disk and index agree exactly."""
    store, objects = s3
    keys = ["a", "a/b", "a/b/c", "a/x", "a/x/y", "b", "b/a", "a/b/c/d"]
    expected: dict[str, bytes | None] = {}
    errors_seen = []

    def worker(key: str, seed: int) -> None:
        rng = random.Random(seed)
        try:
            for i in range(60):
                if rng.random() < 0.35:
                    objects.delete(ACCOUNT, "bkt", key)
                    expected[key] = None
                else:
                    body = f"{key}#{i}".encode()
                    put(objects, key, body)
                    expected[key] = body
        except Exception as exc:  # surfaced below
            errors_seen.append(exc)

    threads = [threading.Thread(target=worker, args=(key, n)) for n, key in enumerate(keys)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors_seen == []
    for key, body in expected.items():
        if body is None:
            with pytest.raises(AwsError):
                read(objects, key)
        else:
            assert read(objects, key) == body
    indexed = {row["path"] for row in store.db.query("SELECT path FROM objects")}
    on_disk = {str(p.relative_to(tmp_path)) for top in ("s3", "s3-objects") for p in (tmp_path / top).rglob("*")
               if p.is_file()}
    assert on_disk == indexed


def _start_writers(objects, jobs) -> tuple[list, list]:
    """Threads each PUTting key (its own name as the body) with params; their outcomes."""
    results = [None] * len(jobs)

    def writer(n, key, params):
        try:
            put(objects, key, key.encode(), **params)
            results[n] = "ok"
        except AwsError as exc:
            results[n] = exc.code

    threads = [threading.Thread(target=writer, args=(n, *job)) for n, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    return results, threads


def _wait_for(condition) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_waiting_writes_commit_as_one_group(s3, monkeypatch):
    """Writes that queue while the committer is busy share one transaction; a write whose
    condition fails gets its own error and the rest of its group still lands."""
    store, objects = s3
    put(objects, "exists", b"0")
    transactions, submitted = [], []
    real_transaction, real_submit = store.transaction, store.committer.submit
    monkeypatch.setattr(store, "transaction", lambda: transactions.append(1) or real_transaction())
    monkeypatch.setattr(store.committer, "submit", lambda write: submitted.append(1) or real_submit(write))
    queue = store.committer._queue
    jobs = [(f"k{i}", {}) for i in range(6)] + [("exists", {"IfNoneMatch": "*"}), ("missing", {"IfMatch": '"x"'})]
    with store.layout_lock("bkt"):
        # A first write: the committer takes it and waits for this lock; the rest then queue.
        first, first_threads = _start_writers(objects, [("first", {})])
        _wait_for(lambda: submitted and not queue)
        results, threads = _start_writers(objects, jobs)
        _wait_for(lambda: len(queue) == len(jobs))
    for thread in first_threads + threads:
        thread.join()
    assert len(transactions) == 2
    assert first == ["ok"] and results == ["ok"] * 6 + ["PreconditionFailed", "NoSuchKey"]
    assert listed(store) == ["exists", "first"] + [f"k{i}" for i in range(6)]
    assert read(objects, "exists") == b"0"
    assert os.listdir(store.home / "tmp") == []


def test_racing_create_only_writes_of_one_key(s3):
    """If-None-Match: * from many threads at once: exactly one wins, since writes of the same
    key (or of a key and its folder) never share a group."""
    store, objects = s3
    results, threads = _start_writers(objects, [("once", {"IfNoneMatch": "*"})] * 8 + [("once/inner", {})])
    for thread in threads:
        thread.join()
    assert results[:8].count("ok") == 1 and results[:8].count("PreconditionFailed") == 7
    assert results[8] == "ok"
    assert read(objects, "once") == b"once" and read(objects, "once/inner") == b"once/inner"
    assert os.listdir(store.home / "tmp") == []


@pytest.fixture
def syncs(monkeypatch) -> list:
    """The fds spool fdatasyncs, with early syncs every 1 MiB instead of every 16."""
    done = []
    real_sync = spool._fdatasync
    monkeypatch.setattr(spool, "_fdatasync", lambda fd: done.append(fd) or real_sync(fd))
    monkeypatch.setattr(spool, "EARLY_SYNC_EVERY", 1 << 20)
    return done


def test_large_body_is_synced_as_it_arrives(s3, syncs):
    """A body bigger than EARLY_SYNC_EVERY is flushed in the background while it streams, and
    still lands byte-exact with the right ETag after the final fsync."""
    store, objects = s3
    data = os.urandom(5 << 20)
    record = put(objects, "big", data)
    assert record.etag == f'"{hashlib.md5(data).hexdigest()}"'
    assert read(objects, "big") == data
    assert len(syncs) >= 2  # at least one early sync, and the final one


def test_joined_parts_are_synced_as_they_are_copied(tmp_path, syncs):
    """CompleteMultipartUpload's kernel copy of the parts also flushes as it goes."""
    parts = []
    for n in range(4):
        parts.append(tmp_path / f"part{n}")
        parts[-1].write_bytes(os.urandom(1 << 20))
    joined = spool.concatenate(parts, ("joined", tmp_path / "joined"), None)
    assert (tmp_path / "joined").read_bytes() == b"".join(p.read_bytes() for p in parts)
    assert joined.size == 4 << 20
    assert len(syncs) >= 2  # at least one while copying, and the final one
