"""S3 Object Lock: a bucket's Object Lock configuration (default retention), each version's
retention (GOVERNANCE / COMPLIANCE until a date) and legal hold, and their enforcement.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html

The bucket's configuration lives with the bucket (`buckets.object_lock`, cached in memory), so
a write to a bucket without Object Lock costs one attribute test. A version's retention and
legal hold are a row of `object_holds`, keyed by (bucket, key, version id), written in the
transaction that creates the version (Objects.commit's `after_rows`) or by
PutObjectRetention / PutObjectLegalHold, and removed with the version.

Enforcement is on version deletes (DeleteObject / DeleteObjects with a version id, lifecycle
expiration of noncurrent versions): a version under legal hold, or retained until a date not
yet passed, stays (403 AccessDenied); GOVERNANCE gives way to `x-amz-bypass-governance-retention`
from a caller allowed s3:BypassGovernanceRetention. Deletes without a version id only add a
delete marker, which Object Lock never prevents. A bucket with Object Lock keeps versioning
"Enabled" (buckets.set_versioning refuses to suspend it), so every write is a new version and
nothing locked is ever overwritten.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from lakestack.aws.protocols.values import to_datetime
from lakestack.services.s3 import checksums, errors
from lakestack.services.s3.buckets import Bucket, Buckets

MODES = ("GOVERNANCE", "COMPLIANCE")
LEGAL_HOLD = ("ON", "OFF")
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html (default retention limits)
MAX_DAYS = 36500
MAX_YEARS = 100
_WRITE_PARAMS = ("ObjectLockMode", "ObjectLockRetainUntilDate", "ObjectLockLegalHoldStatus")


@dataclass
class Hold:
    """A version's retention and legal hold."""

    mode: str | None = None
    retain_until: float | None = None  # epoch seconds
    legal_hold: bool = False

    def retained(self, now: float | None = None) -> bool:
        return self.retain_until is not None and self.retain_until > (time.time() if now is None else now)

    def protects(self, bypass_governance: bool) -> bool:
        """Whether this keeps the version from being deleted."""
        if self.legal_hold:
            return True
        if not self.retained():
            return False
        return self.mode == "COMPLIANCE" or not bypass_governance

    def headers(self) -> dict:
        """GetObject / HeadObject's x-amz-object-lock-* members."""
        out = {}
        if self.mode and self.retain_until is not None:
            out["ObjectLockMode"] = self.mode
            out["ObjectLockRetainUntilDate"] = dt.datetime.fromtimestamp(self.retain_until, dt.UTC)
        out["ObjectLockLegalHoldStatus"] = "ON" if self.legal_hold else "OFF"
        return out

    def row_writer(self) -> Callable:
        """Objects.commit's `after_rows`: store this hold with the version being written."""
        def write(db, record) -> None:
            db.execute("INSERT OR REPLACE INTO object_holds (bucket, key, version_id, mode, retain_until, legal_hold)"
                       " VALUES (?, ?, ?, ?, ?, ?)",
                       (record.bucket, record.key, record.version_id or "null", self.mode, self.retain_until,
                        int(self.legal_hold)))
        return write


def check_configuration(config: dict) -> dict:
    """PutObjectLockConfiguration's body → what is stored ({} or {"Rule": ...}).
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectLockConfiguration.html"""
    if config.get("ObjectLockEnabled") != "Enabled":
        raise errors.malformed_xml()
    rule = config.get("Rule")
    if rule is None:
        return {}
    retention = rule.get("DefaultRetention")
    if not retention:
        raise errors.malformed_xml()
    mode, days, years = retention.get("Mode"), retention.get("Days"), retention.get("Years")
    if mode not in MODES or (days is None) == (years is None):
        raise errors.malformed_xml()  # Days and Years together, or neither
    period = days if days is not None else years
    if period <= 0:
        raise errors.invalid_retention_period("Default retention period must be a positive integer value")
    if period > (MAX_DAYS if days is not None else MAX_YEARS):
        raise errors.invalid_retention_period("Default retention period is too large.")
    unit = "Days" if days is not None else "Years"
    return {"Rule": {"DefaultRetention": {"Mode": mode, unit: period}}}


def describe_configuration(bucket: Bucket) -> dict:
    if bucket.object_lock is None:
        raise errors.object_lock_configuration_not_found(bucket.name)
    return {"ObjectLockEnabled": "Enabled", **bucket.object_lock}


def default_until(config: dict, now: float) -> tuple[str, float] | None:
    """The bucket's default retention for a version created at `now`: (mode, until)."""
    retention = (config.get("Rule") or {}).get("DefaultRetention")
    if not retention:
        return None
    start = dt.datetime.fromtimestamp(now, dt.UTC)
    if "Days" in retention:
        until = start + dt.timedelta(days=retention["Days"])
    else:
        years = retention["Years"]
        try:
            until = start.replace(year=start.year + years)
        except ValueError:  # 29 February
            until = start.replace(year=start.year + years, day=28)
    return retention["Mode"], until.timestamp()


def requested(bucket: Bucket, params: dict) -> Hold | None:
    """The x-amz-object-lock-* headers of PutObject / CopyObject / CreateMultipartUpload, checked;
    None when there are none. https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html"""
    if not any(params.get(name) is not None for name in _WRITE_PARAMS):
        return None
    if bucket.object_lock is None:
        raise errors.invalid_request("Bucket is missing Object Lock Configuration")
    mode, until, legal = (params.get(name) for name in _WRITE_PARAMS)
    hold = Hold()
    if (mode is None) != (until is None):
        raise errors.invalid_argument("x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be "
                                      "supplied")
    if mode is not None:
        if mode not in MODES:
            raise errors.invalid_argument("Unknown wormMode directive.", "x-amz-object-lock-mode", mode)
        hold.mode, hold.retain_until = mode, _future(until, "x-amz-object-lock-retain-until-date")
    if legal is not None:
        if legal not in LEGAL_HOLD:
            raise errors.invalid_argument("Legal Hold must be either of 'ON' or 'OFF'", "x-amz-object-lock-legal-hold",
                                          legal)
        hold.legal_hold = legal == "ON"
    return hold


def check_integrity_header(hold: Hold | None, params: dict, headers) -> None:
    """A PutObject with a retention period must carry Content-MD5 or an x-amz-checksum-*
    (or its trailer): https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html"""
    if hold is None or hold.mode is None:
        return
    if params.get("ContentMD5") or any(params.get(m) for m in checksums.ALL_MEMBERS):
        return
    if headers.get("x-amz-trailer", "").lower().startswith("x-amz-checksum-"):
        return
    raise errors.invalid_request("Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests "
                                 "with Object Lock parameters")


def for_write(bucket: Bucket, hold: Hold | None, now: float) -> Callable | None:
    """What a new version of `bucket` is stored with: the request's retention, else the bucket's
    default; the request's legal hold. An `after_rows` callable, or None when there is nothing."""
    if bucket.object_lock is None:
        return None
    hold = Hold(hold.mode, hold.retain_until, hold.legal_hold) if hold is not None else Hold()
    if hold.mode is None:
        default = default_until(bucket.object_lock, now)
        if default is not None:
            hold.mode, hold.retain_until = default
    if hold.mode is None and not hold.legal_hold:
        return None
    return hold.row_writer()


def _future(value, name: str) -> float:
    when = to_datetime(value).timestamp()
    if when <= time.time():
        raise errors.invalid_argument("The retain until date must be in the future!", name, value)
    return when


class ObjectLock:
    """Per-version holds: reading, changing, and the delete check (inside the delete's transaction)."""

    def __init__(self, store, buckets: Buckets):
        self.store = store
        self.buckets = buckets

    @staticmethod
    def require_enabled(bucket: Bucket) -> None:
        if bucket.object_lock is None:
            raise errors.invalid_request("Bucket is missing Object Lock Configuration")

    def get(self, bucket: str, key: str, version_id: str | None, db=None) -> Hold | None:
        sql = "SELECT mode, retain_until, legal_hold FROM object_holds WHERE bucket = ? AND key = ? AND version_id = ?"
        args = (bucket, key, version_id or "null")
        row = db.execute(sql, args).fetchone() if db is not None else self.store.db.query_one(sql, args)
        return Hold(row["mode"], row["retain_until"], bool(row["legal_hold"])) if row is not None else None

    def headers(self, bucket: str, key: str, version_id: str | None) -> dict:
        hold = self.get(bucket, key, version_id)
        return hold.headers() if hold is not None else {}

    def check_delete(self, db, bucket: str, key: str, version_id: str, bypass_governance: bool) -> None:
        """Inside a version delete's transaction, under the key's lock: AccessDenied if locked."""
        hold = self.get(bucket, key, version_id, db)
        if hold is not None and hold.protects(bypass_governance):
            raise errors.object_locked()

    @staticmethod
    def forget(db, bucket: str, key: str, version_id: str) -> None:
        """The version is gone: so is its hold."""
        db.execute("DELETE FROM object_holds WHERE bucket = ? AND key = ? AND version_id = ?",
                   (bucket, key, version_id or "null"))

    # -- PutObjectRetention / PutObjectLegalHold ----------------------------------------------

    def put_retention(self, bucket: str, key: str, version_id: str | None, retention: dict | None,
                      bypass_governance: bool) -> None:
        """https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectRetention.html"""
        if retention is None:
            raise errors.malformed_xml()
        mode, until = retention.get("Mode"), retention.get("RetainUntilDate")
        if (mode is None) != (until is None) or (mode is not None and mode not in MODES):
            raise errors.malformed_xml()
        new_until = _future(until, "RetainUntilDate") if until is not None else None
        with self.store.key_lock(bucket, key), self.store.transaction() as db:
            old = self.get(bucket, key, version_id, db) or Hold()
            if old.retained():
                # A COMPLIANCE retention can only be extended; a GOVERNANCE one shortened, removed
                # or turned into COMPLIANCE only with the bypass.
                # https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html#object-lock-retention-modes
                weakened = mode != old.mode or new_until is None or new_until < old.retain_until
                if weakened and (old.mode == "COMPLIANCE" or not bypass_governance):
                    raise errors.object_locked()
            self._store(db, bucket, key, version_id, Hold(mode, new_until, old.legal_hold))

    def put_legal_hold(self, bucket: str, key: str, version_id: str | None, legal_hold: dict | None) -> None:
        """https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectLegalHold.html"""
        status = (legal_hold or {}).get("Status")
        if status not in LEGAL_HOLD:
            raise errors.malformed_xml()
        with self.store.key_lock(bucket, key), self.store.transaction() as db:
            old = self.get(bucket, key, version_id, db) or Hold()
            self._store(db, bucket, key, version_id, Hold(old.mode, old.retain_until, status == "ON"))

    def _store(self, db, bucket: str, key: str, version_id: str | None, hold: Hold) -> None:
        # The version may have gone since the caller found it (a delete holds the same key lock).
        if not self._exists(db, bucket, key, version_id):
            raise errors.no_such_key(key)
        # Kept when everything is off too: GetObjectLegalHold then answers OFF, not 404.
        hold.row_writer()(db, _Version(bucket, key, version_id))

    @staticmethod
    def _exists(db, bucket: str, key: str, version_id: str | None) -> bool:
        current = db.execute("SELECT version_id FROM objects WHERE bucket = ? AND key = ?", (bucket, key)).fetchone()
        if current is not None and (current["version_id"] or "null") == (version_id or "null"):
            return True
        return db.execute("SELECT 1 FROM versions WHERE bucket = ? AND key = ? AND version_id = ? AND delete_marker = 0",
                          (bucket, key, version_id or "null")).fetchone() is not None


@dataclass
class _Version:
    bucket: str
    key: str
    version_id: str | None
