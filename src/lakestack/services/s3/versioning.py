"""S3 Versioning: version ids, null versions, delete markers, ListObjectVersions.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/Versioning.html

Layout. The current version of a key, when it is an object, is the `objects` row and its
bytes are where an unversioned object's would be (`s3/<bucket>/<key>`, keys.py), so engines
keep reading the lake in place. Every other version — older objects and delete markers — is
a `versions` row, ordered by `seq` (higher is newer); an older object's bytes are a plain
file `s3-objects/<bucket>/versions/<unique name>`. A delete marker as the current version
means no `objects` row and no file at the key's path.

Writes. A bucket whose versioning was never set takes the unversioned paths in objects.py,
untouched; the rest come here early. A write that replaces a current version keeps it: in
the write's transaction its row moves to `versions` with a pending 'link' of its file to a
fresh name under `versions/` (store.py), and after the commit the link is made *before*
the new bytes are renamed over the key's path. Removing the current version (DELETE with
its versionId) brings the newest older version back: its row moves to `objects` and its
file is renamed onto the key's path. Every such step is a `pending_files` row committed
with the rows, so a kill -9 anywhere leaves what recovery finishes (store.recover).

Null versions. An object written before versioning was enabled, or while it is suspended,
has the version id "null" (the `objects.version_id` column is NULL for the former, which is
also how a bucket that never had versioning stores everything; GetObject answers a version
id only for the latter, as S3 does). A key has at most one null version: a write or DELETE
while versioning is suspended replaces it.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import uuid
from dataclasses import dataclass
from email.utils import format_datetime
from pathlib import Path

from lakestack.aws.errors import AwsError
from lakestack.services.s3 import conditions, errors, keys, objects, spool
from lakestack.services.s3.listing import check_max_keys, successor, url_encode
from lakestack.services.s3.objects import COLUMNS, ObjectRecord, VersioningChanged, valid_version_id

log = logging.getLogger("lakestack.s3")

VERSIONS_DIR = "versions"
# `ord` of the current object in a listing: before every older version (those are -seq).
CURRENT_ORD = -(1 << 62)
# The columns a version carries from `objects` to `versions` and back.
DATA_COLUMNS = ", ".join(c for c in COLUMNS.split(", ") if c not in ("bucket", "key", "lake", "path", "version_id"))


def new_version_id() -> str:
    """32 URL-safe characters, like the ids S3 hands out — never starting with '-', which a
    command line (`aws s3api … --version-id -x…`) would read as an option."""
    while (version_id := secrets.token_urlsafe(24)).startswith("-"):
        pass
    return version_id


def is_null(version_id: str | None) -> bool:
    return version_id is None or version_id == "null"


def check_version_id(value: str, name: str = "versionId") -> str:
    if not valid_version_id(value):
        raise errors.invalid_argument("Invalid version id specified", name, value)
    return value


def no_such_version(key: str, version_id: str) -> AwsError:
    return AwsError("NoSuchVersion", "The specified version does not exist.", 404, Key=key, VersionId=version_id)


def http_date(timestamp: float) -> str:
    return format_datetime(dt.datetime.fromtimestamp(int(timestamp), dt.UTC), usegmt=True)


@dataclass
class DeleteItem:
    key: str
    version_id: str | None = None
    if_match: str | None = None
    bypass_governance: bool = False  # x-amz-bypass-governance-retention, from a caller allowed it


class FileOps:
    """Disk work committed as `pending_files` rows in a transaction, done in the same order
    once it has committed (links, renames, deletes; see store.recover for the replay)."""

    def __init__(self, store, bucket: str):
        self.store, self.bucket = store, bucket
        self.ops: list[tuple[str, Path, Path | None, int]] = []

    def link(self, db, src: str, dst: str, key: str) -> None:
        pending = self.store.add_link(db, src, dst, self.bucket, key)
        self.ops.append(("link", self.store.abspath(src), self.store.abspath(dst), pending))

    def rename(self, db, src: str, dst: str) -> None:
        pending = self.store.add_pending(db, src, dst)
        self.ops.append(("rename", self.store.abspath(src), self.store.abspath(dst), pending))

    def delete(self, db, path: str, key: str) -> None:
        pending = self.store.add_pending(db, path, None, self.bucket, key)
        self.ops.append(("delete", self.store.abspath(path), None, pending))

    def run(self, kinds: tuple[str, ...] = ("link", "rename", "delete")) -> None:
        store = self.store
        for kind, src, dst, pending in self.ops:
            if kind not in kinds:
                continue
            if kind == "link":
                store.make_parents(dst)
                try:
                    store.link(src, dst)
                except FileNotFoundError:  # removed behind S3's back (the lake is open to other tools)
                    log.warning("keeping an old version of s3://%s: its file %s is gone", self.bucket, src)
                store.settle(dst.parent, pending)
            elif kind == "rename":
                store.make_parents(dst)
                store.rename(src, dst)
                store.settle(dst.parent, pending)
            else:
                store.remove_file(src, store.bucket_dir(self.bucket))
                store.settle(src.parent, pending)


class VersionedWrite:
    """An object write to a bucket with versioning, as the group committer drives it (the
    counterpart of objects._ObjectWrite; same locks, same order of steps)."""

    after_rows = None

    def __init__(self, objects_, record: ObjectRecord, spooled: spool.Spooled, conditions_from: dict,
                 in_transaction):
        self.objects, self.store = objects_, objects_.store
        self.versioning: Versioning = objects_.versioning
        self.record, self.spooled = record, spooled
        self.bucket, self.key = record.bucket, record.key
        self.conditions_from, self.in_transaction = conditions_from, in_transaction
        self.committed = False
        self.status: str | None = None
        self.final: Path | None = None
        self.ops: FileOps | None = None
        self.finished = False

    def prepare(self) -> None:
        record, store = self.record, self.store
        record.path, record.lake = keys.choose_relpath(store.home, self.bucket, self.key, record.sse is None)
        self.final = store.abspath(record.path)
        store.make_parents(self.final)
        self.versioning.make_versions_dir(self.bucket)

    def check(self, db) -> None:
        found = self.objects.buckets.get(self.bucket)
        if found is None:
            raise errors.no_such_bucket(self.bucket)
        if found.versioning is None:
            raise VersioningChanged()
        self.status = found.versioning
        objects._check_existing(self.conditions_from, self.key, db, self.bucket)
        if self.in_transaction is not None:
            self.in_transaction(db)

    def write_rows(self, db) -> None:
        bucket, key, record = self.bucket, self.key, self.record
        versioning = self.versioning
        ops = self.ops = FileOps(self.store, bucket)
        record.version_id = new_version_id() if self.status == "Enabled" else "null"
        current = db.execute("SELECT path, version_id FROM objects WHERE bucket = ? AND key = ?",
                             (bucket, key)).fetchone()
        replaced = current is not None and self.status == "Suspended" and is_null(current["version_id"])
        if current is not None and not replaced:
            versioning.demote(db, bucket, key, current["path"], ops)
        if self.status == "Suspended":
            versioning.drop_null_version(db, bucket, key, ops)
        db.execute(objects._UPSERT, record.row_values())
        if self.after_rows is not None:
            self.after_rows(db, record)
        ops.rename(db, self.spooled.rel, record.path)
        if current is not None and current["path"] != record.path:
            ops.delete(db, current["path"], key)

    def finish(self) -> None:
        # Committed: the old version gets its second name before the new bytes replace it.
        self.ops.run(("link", "rename"))
        self.finished = True

    def cleanup(self) -> None:
        # Not after a failed link or rename: the old file may be the only copy of a version
        # until recovery redoes the steps in order.
        if self.finished:
            self.ops.run(("delete",))


class Versioning:
    write = VersionedWrite

    def __init__(self, objects_):
        self.objects = objects_
        self.store = objects_.store
        self.buckets = objects_.buckets

    # -- layout ----------------------------------------------------------------------------

    def versions_dir(self, bucket: str) -> str:
        return f"{keys.HASHED_DIR}/{bucket}/{VERSIONS_DIR}"

    def make_versions_dir(self, bucket: str) -> None:
        directory = self.store.abspath(self.versions_dir(bucket))
        if not directory.is_dir():
            self.store.make_parents(directory / "x")

    def new_version_path(self, bucket: str) -> str:
        return f"{self.versions_dir(bucket)}/{uuid.uuid4().hex}"

    # -- row moves (inside a transaction, under the key's and the bucket's layout locks) -----

    @staticmethod
    def next_seq(db, bucket: str, key: str) -> int:
        row = db.execute("SELECT MAX(seq) FROM versions WHERE bucket = ? AND key = ?", (bucket, key)).fetchone()
        return (row[0] or 0) + 1

    def demote(self, db, bucket: str, key: str, path: str, ops: FileOps) -> None:
        """The current object becomes the newest older version; its file gets a name of its own
        (the caller then replaces or removes the key's path)."""
        hidden = self.new_version_path(bucket)
        db.execute(
            f"INSERT INTO versions (bucket, key, seq, version_id, delete_marker, {DATA_COLUMNS}, lake, path)"
            f" SELECT bucket, key, ?, COALESCE(version_id, 'null'), 0, {DATA_COLUMNS}, 0, ?"
            " FROM objects WHERE bucket = ? AND key = ?",
            (self.next_seq(db, bucket, key), hidden, bucket, key))
        ops.link(db, path, hidden, key)

    def drop_null_version(self, db, bucket: str, key: str, ops: FileOps) -> None:
        """Remove an older null version (a write or DELETE while versioning is suspended replaces it)."""
        row = db.execute("SELECT seq, path, delete_marker FROM versions WHERE bucket = ? AND key = ?"
                         " AND version_id = 'null'", (bucket, key)).fetchone()
        if row is None:
            return
        db.execute("DELETE FROM versions WHERE bucket = ? AND key = ? AND seq = ?", (bucket, key, row["seq"]))
        if not row["delete_marker"]:
            ops.delete(db, row["path"], key)

    def add_marker(self, db, bucket: str, key: str, version_id: str) -> None:
        db.execute(
            "INSERT INTO versions (bucket, key, seq, version_id, delete_marker, size, etag, last_modified, lake, path)"
            " VALUES (?, ?, ?, ?, 1, 0, '', ?, 0, '')",
            (bucket, key, self.next_seq(db, bucket, key), version_id, objects.now()))

    def promote(self, db, bucket: str, key: str, ops: FileOps) -> str | None:
        """After the current version went: the newest older one, if it is an object, becomes
        current (row to `objects`, file renamed to the key's path). Its path, or None."""
        top = db.execute("SELECT seq, path, delete_marker, sse FROM versions WHERE bucket = ? AND key = ?"
                         " ORDER BY seq DESC LIMIT 1", (bucket, key)).fetchone()
        if top is None or top["delete_marker"]:
            return None
        path, lake = keys.choose_relpath(self.store.home, bucket, key, top["sse"] is None)
        db.execute(
            f"INSERT OR REPLACE INTO objects (bucket, key, {DATA_COLUMNS}, lake, path, version_id)"
            f" SELECT bucket, key, {DATA_COLUMNS}, ?, ?, version_id FROM versions"
            " WHERE bucket = ? AND key = ? AND seq = ?", (int(lake), path, bucket, key, top["seq"]))
        db.execute("DELETE FROM versions WHERE bucket = ? AND key = ? AND seq = ?", (bucket, key, top["seq"]))
        ops.rename(db, top["path"], path)
        return path

    # -- reading ----------------------------------------------------------------------------

    def open(self, bucket: str, key: str, version_id: str, with_file: bool):
        """(record, open file or None) of one version (GetObject/HeadObject/copy ?versionId=)."""
        check_version_id(version_id)
        with self.store.key_lock(bucket, key):
            record = self.objects.lookup(bucket, key)
            if record is None or (record.version_id or "null") != version_id:
                row = self.store.db.query_one(
                    f"SELECT {COLUMNS}, delete_marker FROM versions WHERE bucket = ? AND key = ? AND version_id = ?",
                    (bucket, key, version_id))
                if row is None:
                    raise no_such_version(key, version_id)
                if row["delete_marker"]:
                    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html (x-amz-delete-marker)
                    raise AwsError("MethodNotAllowed", "The specified method is not allowed against this resource.",
                                   405, headers={"x-amz-delete-marker": "true", "x-amz-version-id": version_id,
                                                 "Last-Modified": http_date(row["last_modified"])},
                                   Method="GET", ResourceType="DeleteMarker")
                record = ObjectRecord.from_row(row)
            record.version_id = version_id
            file = self.objects.open_file(record) if with_file else None
        return record, file

    def no_current_object(self, bucket: str, key: str) -> AwsError:
        """NoSuchKey for a key with no current object; with x-amz-delete-marker when its
        current version is a delete marker."""
        error = errors.no_such_key(key)
        top = self.store.db.query_one("SELECT version_id, delete_marker FROM versions WHERE bucket = ? AND key = ?"
                                      " ORDER BY seq DESC LIMIT 1", (bucket, key))
        if top is not None and top["delete_marker"]:
            error.headers.update({"x-amz-delete-marker": "true", "x-amz-version-id": top["version_id"]})
        return error

    # -- deleting ---------------------------------------------------------------------------

    def delete(self, bucket: str, items: list[DeleteItem]) -> list[dict | AwsError]:
        """DeleteObject / DeleteObjects in a bucket with versioning, or naming a version: one
        result per item, in order ({VersionId, DeleteMarker}, or the item's error)."""
        results: list[dict | AwsError | None] = [None] * len(items)
        batch: list[int] = []
        claimed = _Claimed()
        for index, item in enumerate(items):
            if claimed.conflicts(item.key):
                self._delete_batch(bucket, items, batch, results)
                batch, claimed = [], _Claimed()
            batch.append(index)
            claimed.add(item.key)
        if batch:
            self._delete_batch(bucket, items, batch, results)
        return results

    def _delete_batch(self, bucket: str, items: list[DeleteItem], batch: list[int],
                      results: list) -> None:
        """Items whose keys cannot collide on disk (see commits._conflict) share one transaction:
        each one's choice of path for a promoted version stays right while the others' files move."""
        store = self.store
        with store.key_locks(bucket, [items[i].key for i in batch]), store.layout_lock(bucket):
            found = self.buckets.get(bucket)
            if found is None:
                raise errors.no_such_bucket(bucket)
            ops = FileOps(store, bucket)
            with store.transaction() as db:
                for index in batch:
                    try:
                        results[index] = self._delete_one(db, found.versioning, items[index], ops)
                    except AwsError as error:  # found before it changed anything
                        results[index] = error
            ops.run()

    def _delete_one(self, db, status: str | None, item: DeleteItem, ops: FileOps) -> dict:
        bucket, key = ops.bucket, item.key
        current = db.execute("SELECT etag, path, version_id FROM objects WHERE bucket = ? AND key = ?",
                             (bucket, key)).fetchone()
        if item.version_id is None:
            if item.if_match is not None:
                if current is None:
                    raise errors.no_such_key(key)
                if not conditions.etag_matches(item.if_match, current["etag"]):
                    raise errors.precondition_failed("If-Match")
            if status is None:  # a bucket that never had versioning: a plain delete
                if current is not None:
                    db.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
                    ops.delete(db, current["path"], key)
                return {}
            if current is not None:
                if not (status == "Suspended" and is_null(current["version_id"])):
                    self.demote(db, bucket, key, current["path"], ops)
                db.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
                ops.delete(db, current["path"], key)
            if status == "Suspended":
                self.drop_null_version(db, bucket, key, ops)
                marker = "null"
            else:
                marker = new_version_id()
            self.add_marker(db, bucket, key, marker)
            return {"DeleteMarker": True, "VersionId": marker}
        version_id = item.version_id
        locked = self.buckets.get(bucket).object_lock is not None
        if locked:  # a version under retention or legal hold stays (object_lock.py)
            self.objects.object_lock.check_delete(db, bucket, key, version_id, item.bypass_governance)
        if current is not None and (current["version_id"] or "null") == version_id:
            if item.if_match is not None and not conditions.etag_matches(item.if_match, current["etag"]):
                raise errors.precondition_failed("If-Match")
            db.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
            if self.promote(db, bucket, key, ops) != current["path"]:
                ops.delete(db, current["path"], key)
            if locked:
                self.objects.object_lock.forget(db, bucket, key, version_id)
            return {"VersionId": version_id}
        row = db.execute("SELECT seq, etag, path, delete_marker FROM versions WHERE bucket = ? AND key = ?"
                         " AND version_id = ?", (bucket, key, version_id)).fetchone()
        if row is None:
            if item.if_match is not None:
                raise errors.no_such_key(key)
            return {"VersionId": version_id}  # deleting a version that is not there succeeds
        if item.if_match is not None and (row["delete_marker"] or not conditions.etag_matches(
                item.if_match, row["etag"])) and item.if_match.strip() != "*":
            raise errors.precondition_failed("If-Match")
        was_current = current is None and row["seq"] == self.next_seq(db, bucket, key) - 1
        db.execute("DELETE FROM versions WHERE bucket = ? AND key = ? AND seq = ?", (bucket, key, row["seq"]))
        if not row["delete_marker"]:
            ops.delete(db, row["path"], key)
            if locked:
                self.objects.object_lock.forget(db, bucket, key, version_id)
        if was_current:  # the current delete marker went: the version before it is current again
            self.promote(db, bucket, key, ops)
        out = {"VersionId": version_id}
        if row["delete_marker"]:
            out["DeleteMarker"] = True
        return out

    # -- ListObjectVersions ------------------------------------------------------------------

    def list(self, bucket: str, params: dict, owner: dict) -> dict:
        """https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html"""
        prefix = params.get("Prefix") or ""
        delimiter = params.get("Delimiter") or ""
        max_keys = check_max_keys(params.get("MaxKeys"))
        encoding = params.get("EncodingType")
        if encoding is not None and encoding != "url":
            raise errors.invalid_argument("Invalid Encoding Method specified in Request", "encoding-type", encoding)
        key_marker = params.get("KeyMarker") or ""
        version_marker = params.get("VersionIdMarker") or ""
        if version_marker and not key_marker:
            raise errors.invalid_argument("A version-id marker cannot be specified without a key marker.",
                                          "version-id-marker", version_marker)
        after: tuple[str, int] | None = None  # resume strictly after this (key, ord)
        if key_marker:
            after = (key_marker, -CURRENT_ORD)  # past every version of the marker's key
            if version_marker:
                check_version_id(version_marker, "version-id-marker")
                position = self._position(bucket, key_marker, version_marker)
                if position is not None:
                    after = (key_marker, position)
        versions, markers, prefixes = [], [], []
        truncated, last = False, None
        lower, upper = keys.key_bytes(prefix), (successor(prefix) if prefix else None)
        count = 0
        done = max_keys == 0
        while not done:
            limit = min(max_keys - count + 1, 1001)
            rows = self._fetch(bucket, lower, upper, after, limit)
            jumped = False
            for row in rows:
                key = row["key"]
                common = _common_prefix(key, prefix, delimiter)
                if common is not None:
                    lower, jumped = successor(common), True
                    if key_marker and common <= key_marker:
                        break  # returned on an earlier page
                    if count == max_keys:
                        truncated = done = True
                        break
                    prefixes.append(common)
                    count += 1
                    last = (common, None)
                    break
                if count == max_keys:
                    truncated = done = True
                    break
                entry = {"Key": key, "VersionId": row["version_id"], "IsLatest": bool(row["latest"]),
                         "LastModified": dt.datetime.fromtimestamp(row["last_modified"], dt.UTC), "Owner": owner}
                if row["delete_marker"]:
                    markers.append(entry)
                else:
                    entry.update({"ETag": row["etag"], "Size": row["size"],
                                  "StorageClass": row["storage_class"] or "STANDARD"})
                    if row["checksum_algorithm"]:
                        entry["ChecksumAlgorithm"] = [row["checksum_algorithm"]]
                        entry["ChecksumType"] = row["checksum_type"] or "FULL_OBJECT"
                    versions.append(entry)
                count += 1
                last = (key, row["version_id"])
                after = (key, row["ord"])
            if done or (not jumped and len(rows) < limit):
                break
        out = {
            "Name": bucket, "Prefix": prefix, "KeyMarker": key_marker, "VersionIdMarker": version_marker,
            "MaxKeys": max_keys, "Delimiter": delimiter or None, "IsTruncated": truncated,
            "Versions": versions or None, "DeleteMarkers": markers or None,
            "CommonPrefixes": [{"Prefix": p} for p in prefixes] or None,
        }
        if truncated and last is not None:
            out["NextKeyMarker"] = last[0]
            if last[1] is not None:
                out["NextVersionIdMarker"] = last[1]
        if encoding:
            out["EncodingType"] = "url"
            for name in ("Prefix", "Delimiter", "KeyMarker", "NextKeyMarker"):
                if out.get(name):
                    out[name] = url_encode(out[name])
            for entry in versions + markers:
                entry["Key"] = url_encode(entry["Key"])
            for common in out["CommonPrefixes"] or ():
                common["Prefix"] = url_encode(common["Prefix"])
        return out

    def _position(self, bucket: str, key: str, version_id: str) -> int | None:
        current = self.store.db.query_one("SELECT version_id FROM objects WHERE bucket = ? AND key = ?",
                                          (bucket, key))
        if current is not None and (current["version_id"] or "null") == version_id:
            return CURRENT_ORD
        row = self.store.db.query_one("SELECT seq FROM versions WHERE bucket = ? AND key = ? AND version_id = ?",
                                      (bucket, key, version_id))
        return -row["seq"] if row is not None else None

    def _fetch(self, bucket: str, lower: bytes, upper: bytes | None, after: tuple[str, int] | None, limit: int):
        """Versions in listing order — key (UTF-8 byte order), then newest first — with
        lower <= key < upper, after `after`."""
        bounds = "bucket = ? AND key >= CAST(? AS TEXT)"
        args: list = [bucket, lower]
        if upper is not None:
            bounds += " AND key < CAST(? AS TEXT)"
            args.append(upper)
        position = ""
        if after is not None:
            position = " AND (key > ? OR (key = ? AND {ord} > ?))"
            args += [after[0], after[0], after[1]]
        data = "size, etag, last_modified, storage_class, checksum_algorithm, checksum_type"
        sql = (
            f"SELECT key, {CURRENT_ORD} AS ord, COALESCE(version_id, 'null') AS version_id, 0 AS delete_marker,"
            f" 1 AS latest, {data} FROM objects WHERE {bounds}{position.format(ord=CURRENT_ORD)}"
            " UNION ALL"
            " SELECT key, -seq AS ord, version_id, delete_marker,"
            " (NOT EXISTS (SELECT 1 FROM objects o WHERE o.bucket = v.bucket AND o.key = v.key)"
            "  AND seq = (SELECT MAX(seq) FROM versions w WHERE w.bucket = v.bucket AND w.key = v.key)) AS latest,"
            f" {data} FROM versions v WHERE {bounds}{position.format(ord='-seq')}"
            " ORDER BY key, ord LIMIT ?"
        )
        return self.store.db.query(sql, tuple(args + args + [limit]))


class _Claimed:
    """Keys of one batch, to tell whether another key's files could collide with theirs:
    equal, or one a folder of the other (as commits._conflict, without comparing pairs)."""

    def __init__(self):
        self.keys: set[str] = set()
        self.folders: set[str] = set()  # "a/" and "a/b/" for "a/b/c"

    def add(self, key: str) -> None:
        self.keys.add(key)
        self.folders.update(_folders(key))

    def conflicts(self, key: str) -> bool:
        return (key in self.keys or key + "/" in self.folders
                or any(folder[:-1] in self.keys for folder in _folders(key)))


def _folders(key: str) -> list[str]:
    return [key[: i + 1] for i, char in enumerate(key) if char == "/"]


def _common_prefix(key: str, prefix: str, delimiter: str) -> str | None:
    if not delimiter:
        return None
    index = key.find(delimiter, len(prefix))
    return key[: index + len(delimiter)] if index >= 0 else None
