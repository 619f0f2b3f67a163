"""Versioning's crash safety without a server: the disk steps of a versioned write or delete
(link the old version, rename the new bytes in, promote an older version, remove files),
cut short at every step and replayed by recovery, or finished and replayed again."""

import random

import pytest
from helpers import Crash
from helpers import open_s3_store as open_store

from lakestack.aws.request import BytesBody
from lakestack.services.s3.spool import Incoming
from lakestack.services.s3.versioning import DeleteItem

ACCOUNT = "000000000000"
KEYS = ("k", "dir/k", "dir", "a//b")


@pytest.fixture
def home(tmp_path):
    store, buckets, _ = open_store(tmp_path)
    buckets.create(ACCOUNT, "us-east-1", "bkt", None)
    buckets.set_versioning(ACCOUNT, "bkt", "Enabled")
    store.close()
    return tmp_path


def put(objects, key, data: bytes):
    return objects.put(ACCOUNT, "bkt", key, {}, Incoming(BytesBody(data), len(data))).version_id


def delete(objects, key, version_id=None):
    [result] = objects.versioning.delete("bkt", [DeleteItem(key, version_id)])
    return result


def state(store, objects) -> tuple:
    """Each key's versions, newest first, as (delete marker?, bytes); the lake's files; and
    how many older versions' files there are."""
    listing = objects.versioning.list("bkt", {}, {})
    versions = {}
    for entry in sorted(listing["Versions"] or [], key=lambda e: e["Key"]):
        data = objects.open(ACCOUNT, "bkt", entry["Key"], version_id=entry["VersionId"])[1].read()
        versions.setdefault(entry["Key"], []).append((entry["VersionId"], False, data))
    for entry in listing["DeleteMarkers"] or []:
        versions.setdefault(entry["Key"], []).append((entry["VersionId"], True, b""))
    order = {(row["key"], row["version_id"]): -row["seq"]
             for row in store.db.query("SELECT key, version_id, seq FROM versions")}
    shaped = {key: [(marker, data) for _, marker, data in sorted(found, key=lambda v: order.get((key, v[0]), -1 << 62))]
              for key, found in versions.items()}
    lake = store.home / "s3" / "bkt"
    files = {str(p.relative_to(lake)): p.read_bytes() for p in lake.rglob("*") if p.is_file()}
    old = store.home / "s3-objects" / "bkt" / "versions"
    return shaped, files, len(list(old.iterdir())) if old.exists() else 0


def random_ops(objects, rng: random.Random, count: int) -> None:
    written: list[tuple[str, str]] = []
    for i in range(count):
        key = rng.choice(KEYS)
        roll = rng.random()
        if roll < 0.55:
            written.append((key, put(objects, key, f"{key}#{i}".encode())))
        elif roll < 0.75:
            delete(objects, key)
        elif written:
            key, version = written.pop(rng.randrange(len(written)))
            delete(objects, key, version)


@pytest.mark.parametrize("seed", range(8))
def test_replaying_finished_work_changes_nothing(home, monkeypatch, seed):
    """Every step done but none settled (their pending rows all still there): recovery redoes
    the lot, in order, and must land exactly where the steps had."""
    store, _, objects = open_store(home)
    monkeypatch.setattr(store, "settle", lambda directory, *ids: None)
    random_ops(objects, random.Random(seed), 40)
    before = state(store, objects)
    assert store.db.query("SELECT COUNT(*) AS n FROM pending_files")[0]["n"] > 0
    monkeypatch.undo()
    store, _, objects = open_store(home)
    assert state(store, objects) == before
    assert store.db.query("SELECT COUNT(*) AS n FROM pending_files")[0]["n"] == 0


def scenario_overwrite(objects):
    put(objects, "dir/k", b"one")
    return lambda: put(objects, "dir/k", b"two")


def scenario_marker(objects):
    put(objects, "dir/k", b"one")
    return lambda: delete(objects, "dir/k")


def scenario_delete_current(objects):
    put(objects, "dir/k", b"one")
    current = put(objects, "dir/k", b"two")
    return lambda: delete(objects, "dir/k", current)


def scenario_delete_marker(objects):
    put(objects, "k", b"one")
    marker = delete(objects, "k")["VersionId"]
    return lambda: delete(objects, "k", marker)


def scenario_hashed_overwrite(objects):
    put(objects, "a//b", b"one")
    return lambda: put(objects, "a//b", b"two")


def scenario_suspended_overwrite(objects):
    put(objects, "k", b"versioned")
    objects.buckets.set_versioning(ACCOUNT, "bkt", "Suspended")
    put(objects, "k", b"null one")
    return lambda: put(objects, "k", b"null two")


def scenario_layout_change(objects):
    folder = put(objects, "dir", b"a file where dir/k's folder would be")
    put(objects, "dir/k", b"stored by hash")
    delete(objects, "dir", folder)
    return lambda: put(objects, "dir/k", b"in the lake again")  # keeps the hashed one, removes its path


def scenario_random(seed: int):
    def scenario(objects):
        rng = random.Random(seed)
        random_ops(objects, rng, 10 + seed * 5)
        key = rng.choice(KEYS)
        return lambda: put(objects, key, b"last")  # links, renames, and deletes when the layout changes
    scenario.__name__ = f"scenario_random_{seed}"
    return scenario


SCENARIOS = [scenario_overwrite, scenario_marker, scenario_delete_current, scenario_delete_marker,
             scenario_hashed_overwrite, scenario_suspended_overwrite, scenario_layout_change,
             *(scenario_random(seed) for seed in range(6))]


def steps_of(store, monkeypatch, crash_at: int | None) -> list[int]:
    """Make store.link / rename / remove_file raise Crash at the crash_at-th call (counting all)."""
    calls = [0]
    for name in ("link", "rename", "remove_file"):
        real = getattr(store, name)

        def step(*args, _real=real, **kwargs):
            calls[0] += 1
            if crash_at is not None and calls[0] == crash_at:
                raise Crash()
            return _real(*args, **kwargs)

        monkeypatch.setattr(store, name, step)
    return calls


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_crash_at_every_step_of_a_committed_change(tmp_path_factory, scenario):
    """The change committed, then the process died before its n-th disk step: after recovery
    the bucket is as if it had finished."""
    reference_home = tmp_path_factory.mktemp("reference")
    store, buckets, objects = open_store(reference_home)
    buckets.create(ACCOUNT, "us-east-1", "bkt", None)
    buckets.set_versioning(ACCOUNT, "bkt", "Enabled")
    last = scenario(objects)
    with pytest.MonkeyPatch.context() as monkeypatch:
        calls = steps_of(store, monkeypatch, None)
        last()
    expected = state(store, objects)
    store.close()
    assert calls[0] >= 1
    for crash_at in range(1, calls[0] + 1):
        home = tmp_path_factory.mktemp(f"crash{crash_at}")
        store, buckets, objects = open_store(home)
        buckets.create(ACCOUNT, "us-east-1", "bkt", None)
        buckets.set_versioning(ACCOUNT, "bkt", "Enabled")
        last = scenario(objects)
        with pytest.MonkeyPatch.context() as monkeypatch:
            steps_of(store, monkeypatch, crash_at)
            monkeypatch.setattr(store, "settle", lambda directory, *ids: None)
            with pytest.raises(Crash):
                last()
        store, _, objects = open_store(home)
        assert state(store, objects) == expected, f"crash before step {crash_at}"


def test_recovery_leaves_a_path_written_again_alone(tmp_path, monkeypatch):
    """Unversioned too: key `a` deleted, then `a/b` written (so `a` is a folder), neither
    settled: redoing the delete must not fail or touch the folder."""
    store, buckets, objects = open_store(tmp_path)
    buckets.create(ACCOUNT, "us-east-1", "plain", None)
    monkeypatch.setattr(store, "settle", lambda directory, *ids: None)
    for key in ("a", "a/b"):
        objects.put(ACCOUNT, "plain", key, {}, Incoming(BytesBody(key.encode()), len(key)))
        if key == "a":
            objects.delete(ACCOUNT, "plain", "a")
    monkeypatch.undo()
    store, _, objects = open_store(tmp_path)
    assert objects.open(ACCOUNT, "plain", "a/b")[1].read() == b"a/b"


def test_version_ids_never_start_with_a_dash():
    """A command line would read `--version-id -abc…` as an option."""
    from lakestack.services.s3.versioning import new_version_id

    ids = [new_version_id() for _ in range(5000)]
    assert not any(i.startswith("-") for i in ids) and all(len(i) == 32 for i in ids)
