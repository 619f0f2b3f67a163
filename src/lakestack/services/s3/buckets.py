"""Buckets: one global namespace across accounts and regions, as on AWS.

Bucket rows are few and read on every request, so they are cached in memory; the cache is
changed only inside the writer transaction that changes the table.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import time
from dataclasses import dataclass, field
from functools import cache

from lakestack.aws.specs import service_model
from lakestack.services.s3 import errors
from lakestack.services.s3.store import S3Store

# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_ADDRESS = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
MAX_TAGS = 50


def valid_bucket_name(name: str) -> bool:
    return bool(
        _NAME.fullmatch(name)
        and ".." not in name
        and ".-" not in name
        and "-." not in name
        and not _IP_ADDRESS.fullmatch(name)
        and not name.startswith(_RESERVED_PREFIXES)
        and not name.endswith(_RESERVED_SUFFIXES)
    )


@cache
def _known_constraints() -> frozenset[str]:
    shape = service_model("s3").shape_for("BucketLocationConstraint")
    return frozenset(shape.enum or ())


def canonical_user_id(account_id: str) -> str:
    """S3 names owners by a 64-hex canonical user ID; derive a stable one per account."""
    return hashlib.sha256(f"lakestack-canonical-{account_id}".encode()).hexdigest()


def owner(account_id: str) -> dict:
    return {"ID": canonical_user_id(account_id), "DisplayName": account_id}


@dataclass
class Bucket:
    name: str
    account_id: str
    region: str
    created: float
    tags: list[dict] | None = field(default=None)
    versioning: str | None = None  # None (never enabled), "Enabled" or "Suspended"
    object_lock: dict | None = None  # None: no Object Lock; else its configuration (object_lock.py)
    lifecycle: dict | None = None  # the lifecycle configuration (lifecycle.py)

    @property
    def creation_date(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.created, dt.UTC)

    @property
    def arn(self) -> str:
        return f"arn:aws:s3:::{self.name}"


class Buckets:
    def __init__(self, store: S3Store):
        self.store = store
        self._cache: dict[str, Bucket] = {}
        for row in store.db.query("SELECT name, account_id, region, created, tags, versioning, object_lock,"
                                  " lifecycle FROM buckets"):
            self._cache[row["name"]] = Bucket(row["name"], row["account_id"], row["region"], row["created"],
                                              json.loads(row["tags"]) if row["tags"] else None, row["versioning"],
                                              _json(row["object_lock"]), _json(row["lifecycle"]))

    def get(self, name: str) -> Bucket | None:
        return self._cache.get(name)

    @staticmethod
    def exists_in(db, name: str) -> bool:
        """Inside a write transaction: the table, not the cache, is the truth."""
        return db.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone() is not None

    def require(self, account_id: str, name: str) -> Bucket:
        """The caller's bucket, or NoSuchBucket / AccessDenied (another account's bucket, unless
        its bucket policy or an ACL let the caller in: then S3Provider.resource_decision has
        set ctx.acting_account_id to the owner's, which callers pass here)."""
        bucket = self._cache.get(name)
        if bucket is None:
            raise errors.no_such_bucket(name)
        if bucket.account_id != account_id:
            raise errors.access_denied()
        return bucket

    # -- CreateBucket / DeleteBucket ----------------------------------------------------

    def create(self, account_id: str, request_region: str, name: str, constraint: str | None,
               object_lock: bool = False, in_transaction=None) -> Bucket:
        """https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html
        `object_lock`: x-amz-bucket-object-lock-enabled, which turns versioning on too.
        `in_transaction(db)`: more rows a new bucket starts with, committed with it (not run
        when the bucket already exists)."""
        if not valid_bucket_name(name):
            raise errors.invalid_bucket_name(name)
        region = self._region_for(request_region, constraint)
        # The layout lock (striped by bucket name) serializes two creations of one name.
        with self.store.layout_lock(name):
            existing = self._cache.get(name)
            if existing is not None:
                if existing.account_id != account_id:
                    raise errors.bucket_already_exists(name)
                # Only us-east-1 answers 200 for a bucket you already own there (legacy behaviour).
                # https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html
                if request_region == "us-east-1" and existing.region == "us-east-1":
                    return existing
                raise errors.bucket_already_owned_by_you(name)
            bucket = Bucket(name, account_id, region, round(time.time(), 3))
            if object_lock:
                bucket.versioning, bucket.object_lock = "Enabled", {}
            self.store.bucket_dir(name).mkdir(parents=True, exist_ok=True)
            with self.store.transaction() as db:
                db.execute("INSERT INTO buckets (name, account_id, region, created, versioning, object_lock)"
                           " VALUES (?, ?, ?, ?, ?, ?)",
                           (name, account_id, region, bucket.created, bucket.versioning,
                            None if bucket.object_lock is None else json.dumps(bucket.object_lock)))
                if in_transaction is not None:
                    in_transaction(db)
            self._cache[name] = bucket
        return bucket

    @staticmethod
    def _region_for(request_region: str, constraint: str | None) -> str:
        if not constraint:
            if request_region != "us-east-1":
                raise errors.illegal_location_constraint(None)
            return "us-east-1"
        if constraint == "us-east-1":
            # us-east-1 is expressed by omitting the constraint; naming it is an error.
            raise errors.invalid_location_constraint(constraint)
        if constraint == request_region:
            return constraint
        if request_region == "us-east-1":
            # The us-east-1 (global) endpoint creates buckets in any region.
            if constraint == "EU":
                return "eu-west-1"
            if constraint not in _known_constraints():
                raise errors.invalid_location_constraint(constraint)
            return constraint
        raise errors.illegal_location_constraint(constraint)

    def delete(self, account_id: str, name: str, in_transaction=None) -> None:
        """`in_transaction(db)`: more rows to remove with the bucket's."""
        bucket = self.require(account_id, name)
        with self.store.layout_lock(name):
            with self.store.transaction() as db:
                if (db.execute("SELECT 1 FROM objects WHERE bucket = ? LIMIT 1", (name,)).fetchone()
                        or db.execute("SELECT 1 FROM versions WHERE bucket = ? LIMIT 1", (name,)).fetchone()):
                    raise errors.bucket_not_empty(name)
                uploads = [r[0] for r in db.execute("SELECT upload_id FROM uploads WHERE bucket = ?", (name,))]
                db.execute("DELETE FROM uploads WHERE bucket = ?", (name,))
                db.execute("DELETE FROM completed_uploads WHERE bucket = ?", (name,))
                db.execute("DELETE FROM buckets WHERE name = ?", (name,))
                if in_transaction is not None:
                    in_transaction(db)
            self._cache.pop(bucket.name, None)
            # Nothing in the index refers to these any more (a crash here leaves orphans that
            # recovery or a later CreateBucket tolerate). Inside the lock, so a bucket of the
            # same name created right after keeps its new directory.
            shutil.rmtree(self.store.bucket_dir(name), ignore_errors=True)
            shutil.rmtree(self.store.home / "s3-objects" / name, ignore_errors=True)
        for upload_id in uploads:
            shutil.rmtree(self.store.upload_dir(upload_id), ignore_errors=True)

    # -- ListBuckets ---------------------------------------------------------------------

    def list(self, account_id: str, prefix: str | None = None, region: str | None = None,
             max_buckets: int | None = None, token: str | None = None) -> tuple[list[Bucket], str | None]:
        mine = sorted((b for b in self._cache.values() if b.account_id == account_id), key=lambda b: b.name)
        if prefix:
            mine = [b for b in mine if b.name.startswith(prefix)]
        if region:
            mine = [b for b in mine if b.region == region]
        if token:
            mine = [b for b in mine if b.name > token]
        if max_buckets is not None and len(mine) > max_buckets:
            return mine[:max_buckets], mine[max_buckets - 1].name
        return mine, None

    # -- tagging ---------------------------------------------------------------------------

    def put_tags(self, account_id: str, name: str, tags: list[dict]) -> None:
        """https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketTagging.html"""
        self.require(account_id, name)
        seen = set()
        for tag in tags:
            key, value = tag.get("Key"), tag.get("Value", "")
            if key is None:
                raise errors.malformed_xml()
            if key in seen:
                raise errors.invalid_tag("Cannot provide multiple Tags with the same key")
            seen.add(key)
            if key.lower().startswith("aws:"):
                raise errors.invalid_tag("System tags cannot be added/updated by requester")
            if not 1 <= len(key) <= 128:
                raise errors.invalid_tag("The TagKey you have provided is invalid")
            if len(value) > 256:
                raise errors.invalid_tag("The TagValue you have provided is invalid")
        if len(tags) > MAX_TAGS:
            raise errors.invalid_tag("Bucket tag count cannot be greater than 50")
        self._set_tags(name, [{"Key": t["Key"], "Value": t.get("Value", "")} for t in tags])

    def get_tags(self, account_id: str, name: str) -> list[dict]:
        bucket = self.require(account_id, name)
        if not bucket.tags:
            raise errors.no_such_tag_set(name)
        return bucket.tags

    def delete_tags(self, account_id: str, name: str) -> None:
        self.require(account_id, name)
        self._set_tags(name, None)

    # -- versioning ----------------------------------------------------------------------

    def set_versioning(self, account_id: str, name: str, status: str) -> None:
        """PutBucketVersioning's Status. Under the bucket's layout lock, which every object write
        holds while it commits, so a write sees the status before or after, never half of it."""
        self.require(account_id, name)
        with self.store.layout_lock(name):
            bucket = self._cache.get(name)
            if bucket is None:
                raise errors.no_such_bucket(name)
            if bucket.object_lock is not None and status != "Enabled":
                # https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-configure.html
                raise errors.invalid_bucket_state("An Object Lock configuration is present on this bucket, "
                                                  "so the versioning state cannot be changed.")
            with self.store.transaction() as db:
                db.execute("UPDATE buckets SET versioning = ? WHERE name = ?", (status, name))
            bucket.versioning = status

    def _set_tags(self, name: str, tags: list[dict] | None) -> None:
        with self.store.transaction() as db:
            bucket = self._cache.get(name)
            if bucket is None:
                raise errors.no_such_bucket(name)
            db.execute("UPDATE buckets SET tags = ? WHERE name = ?", (json.dumps(tags) if tags else None, name))
            bucket.tags = tags or None

    def accounts(self) -> set[str]:
        """Every account that owns a bucket."""
        return {bucket.account_id for bucket in list(self._cache.values())}

    # -- Object Lock and lifecycle configurations -------------------------------------------

    def set_object_lock(self, name: str, config: dict) -> None:
        """Object Lock on (or its default retention changed), under the layout lock that
        set_versioning holds, so versioning is "Enabled" when this commits and stays so."""
        with self.store.layout_lock(name):
            bucket = self._cache.get(name)
            if bucket is None:
                raise errors.no_such_bucket(name)
            if bucket.object_lock is None and bucket.versioning != "Enabled":
                # Allowed on an existing bucket with versioning since 2023:
                # https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-configure.html
                raise errors.invalid_bucket_state("Versioning must be 'Enabled' on the bucket to apply a "
                                                  "Object Lock configuration")
            with self.store.transaction() as db:
                db.execute("UPDATE buckets SET object_lock = ? WHERE name = ?", (json.dumps(config), name))
            bucket.object_lock = config

    def with_lifecycle(self) -> list[Bucket]:
        return [bucket for bucket in list(self._cache.values()) if bucket.lifecycle is not None]

    def set_lifecycle(self, name: str, config: dict | None) -> None:
        with self.store.transaction() as db:
            bucket = self._cache.get(name)
            if bucket is None:
                raise errors.no_such_bucket(name)
            db.execute("UPDATE buckets SET lifecycle = ? WHERE name = ?",
                       (None if config is None else json.dumps(config), name))
            bucket.lifecycle = config


def _json(text: str | None):
    return None if text is None else json.loads(text)
