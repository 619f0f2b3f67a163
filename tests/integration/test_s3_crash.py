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


def versioned_body(tag: str) -> bytes:
    """Self-describing: the tag, a newline, then bytes derived from the tag."""
    size = int(hashlib.md5(tag.encode()).hexdigest()[:5], 16) % (200 << 10)
    seed = hashlib.sha256(tag.encode()).digest()
    return tag.encode() + b"\n" + (seed * (size // len(seed) + 1))[:size]


def whole(data: bytes) -> bool:
    tag, _, _ = data.partition(b"\n")
    return data == versioned_body(tag.decode())


@pytest.mark.slow
def test_sigkill_during_versioned_writes_and_deletes_loses_nothing_acknowledged(server_process):
    """Overwrites that keep the old version (a link, then the rename), delete markers and
    deletes of versions that bring an older one back, all killed mid-flight: every
    acknowledged version is readable by its id, the current one is the lake file, and no
    version's file is torn or left over."""
    server = server_process()
    s3 = server.client("s3")
    s3.create_bucket(Bucket="vcrash")
    s3.put_bucket_versioning(Bucket="vcrash", VersioningConfiguration={"Status": "Enabled"})
    lock = threading.Lock()
    written: dict[str, tuple[str, str]] = {}  # acknowledged version id → (key, tag)
    markers: set[str] = set()  # acknowledged delete markers
    doubtful: set[str] = set()  # versions a delete was sent for (acknowledged or not)

    def writer(n: int) -> None:
        i = 0
        mine: list[str] = []
        while not stop.is_set():
            key = f"w{n}/part={i % 3}/k{i % 4}.bin"
            try:
                if i % 9 == 8:
                    marker = s3.delete_object(Bucket="vcrash", Key=key)["VersionId"]
                    with lock:
                        markers.add(marker)
                elif i % 7 == 6 and mine:
                    version = mine.pop(0)
                    with lock:
                        doubtful.add(version)
                    s3.delete_object(Bucket="vcrash", Key=written[version][0], VersionId=version)
                else:
                    tag = f"{key}#{i}"
                    version = s3.put_object(Bucket="vcrash", Key=key, Body=versioned_body(tag))["VersionId"]
                    with lock:
                        written[version] = (key, tag)
                    mine.append(version)
            except Exception:
                return  # the server is gone
            i += 1

    stop = threading.Event()
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(3)
    server.kill()
    stop.set()
    for t in threads:
        t.join()
    assert len(written) > 20 and markers, "the writers barely ran; the test proves nothing"

    server.start()
    listed, listed_markers = {}, set()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket="vcrash"):
        for version in page.get("Versions", []):
            listed[version["VersionId"]] = version
        listed_markers |= {m["VersionId"] for m in page.get("DeleteMarkers", [])}
    for version, (key, tag) in written.items():
        if version in doubtful:
            continue
        assert version in listed, f"acknowledged version {tag} ({version}) lost"
        got = s3.get_object(Bucket="vcrash", Key=key, VersionId=version)["Body"].read()
        assert got == versioned_body(tag), f"version {tag} is torn"
    assert markers <= listed_markers | doubtful, "an acknowledged delete marker was lost"
    # Whatever is listed — acknowledged or not — is whole, and the current versions are the lake.
    current = {}
    for version_id, version in listed.items():
        data = s3.get_object(Bucket="vcrash", Key=version["Key"], VersionId=version_id)["Body"].read()
        assert whole(data) and data.startswith(version["Key"].encode() + b"#"), f"{version['Key']} is torn"
        if version["IsLatest"]:
            current[version["Key"]] = data
    lake = server.home / "s3" / "vcrash"
    on_disk = {str(p.relative_to(lake)): p.read_bytes() for p in lake.rglob("*") if p.is_file()}
    assert on_disk == current
    old_files = list((server.home / "s3-objects" / "vcrash" / "versions").iterdir())
    assert len(old_files) == len(listed) - len(current), "older versions' files and rows disagree"
