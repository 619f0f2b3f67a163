"""S3 Lifecycle: a bucket's lifecycle configuration, checked as S3 checks it, and the rules run.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lifecycle-mgmt.html

The configuration lives with the bucket (`buckets.lifecycle`, cached in memory). A background
thread makes a pass over the buckets that have one every `interval` seconds and does what the
enabled rules say is due:

- Expiration (Days / Date) of current versions: removed in a bucket without versioning; a
  delete marker added in one with versioning (suspended: the `null` one), as DeleteObject does.
  With Days, delete markers that are a key's only version and old enough go too.
- ExpiredObjectDeleteMarker: a delete marker that is a key's only version is removed.
- NoncurrentVersionExpiration: versions noncurrent for NoncurrentDays (counted from when their
  successor was written), beyond the NewerNoncurrentVersions newest, are removed — unless
  Object Lock keeps them.
- Transitions / NoncurrentVersionTransitions: the version's storage class changes (HEAD,
  GetObject, ListObjects(V2) and ListObjectVersions show it); the bytes stay where they are.
- AbortIncompleteMultipartUpload: uploads older than DaysAfterInitiation are aborted.

Time: S3 counts a day from the object's creation and rounds up to the next midnight UTC
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/intro-lifecycle-rules.html#intro-lifecycle-rules-number-of-days).
`settings.s3_lifecycle_day_seconds` scales the day down for tests; "midnight" is then the next
multiple of a day since the epoch.

Every change goes through the same paths as the API (Objects.delete_keys, Versioning.delete,
Multipart.abort), so it is as durable, and it is conditional on the version the pass looked at
(its ETag), so a write that lands meanwhile is never expired by mistake.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import secrets
import time
from email.utils import format_datetime
from urllib.parse import quote

from lakestack.aws.errors import AwsError
from lakestack.aws.protocols.values import to_datetime
from lakestack.runtime.periodic import Periodic
from lakestack.services.s3 import errors, keys
from lakestack.services.s3.buckets import Bucket
from lakestack.services.s3.listing import successor
from lakestack.services.s3.objects import VersioningChanged
from lakestack.services.s3.versioning import DeleteItem

log = logging.getLogger("lakestack.s3")

MAX_RULES = 1000
MAX_ID = 255
ACTIONS = ("Expiration", "Transitions", "NoncurrentVersionExpiration", "NoncurrentVersionTransitions",
           "AbortIncompleteMultipartUpload")
# Where each class sits in S3's transition waterfall: an object only ever moves right.
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-transition-general-considerations.html
WATERFALL = ("STANDARD", "STANDARD_IA", "INTELLIGENT_TIERING", "ONEZONE_IA", "GLACIER_IR", "GLACIER",
             "DEEP_ARCHIVE")
_THIRTY_DAY_MINIMUM = ("STANDARD_IA", "ONEZONE_IA")
MIN_SIZES = ("all_storage_classes_128K", "varies_by_storage_class")
SMALL_OBJECT = 128 * 1024
_ARCHIVES = ("GLACIER", "DEEP_ARCHIVE")  # which take small objects under varies_by_storage_class
_FILTER_MEMBERS = ("Prefix", "Tag", "ObjectSizeGreaterThan", "ObjectSizeLessThan", "And")


# -- the configuration -----------------------------------------------------------------------

def check_configuration(config: dict | None, min_size: str | None) -> dict:
    """PutBucketLifecycleConfiguration's body → what is stored (dates as ISO text).
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketLifecycleConfiguration.html"""
    rules = (config or {}).get("Rules")
    if not rules:
        raise errors.malformed_xml()
    if len(rules) > MAX_RULES:
        raise errors.invalid_request(f"Lifecycle configuration cannot have more than {MAX_RULES} rules")
    if min_size is None:
        min_size = "all_storage_classes_128K"  # S3's default since September 2024
    if min_size not in MIN_SIZES:
        raise errors.invalid_argument("Invalid value for x-amz-transition-default-minimum-object-size",
                                      "x-amz-transition-default-minimum-object-size", min_size)
    seen: set[str] = set()
    stored = []
    for rule in rules:
        rule = _check_rule(dict(rule))
        if rule["ID"] in seen:
            raise errors.invalid_argument("Rule ID must be unique. Found same ID for more than one rule", "ID",
                                          rule["ID"])
        seen.add(rule["ID"])
        stored.append(rule)
    return {"Rules": stored, "TransitionDefaultMinimumObjectSize": min_size}


def _check_rule(rule: dict) -> dict:
    if rule.get("ID") is None:
        rule["ID"] = secrets.token_urlsafe(36)[:48]  # S3 names a rule sent without one
    if len(rule["ID"]) > MAX_ID:
        raise errors.invalid_argument(f"ID length should not exceed allowed limit of {MAX_ID}", "ID", rule["ID"])
    if rule.get("Status") not in ("Enabled", "Disabled"):
        raise errors.malformed_xml()
    has_prefix, has_filter = rule.get("Prefix") is not None, rule.get("Filter") is not None
    if has_prefix == has_filter:  # the (deprecated) rule Prefix or a Filter, one of them
        raise errors.malformed_xml()
    tagged = False
    if has_filter:
        members = [m for m in _FILTER_MEMBERS if rule["Filter"].get(m) is not None]
        if len(members) > 1:
            raise errors.malformed_xml()
        combined = rule["Filter"].get("And")
        tagged = rule["Filter"].get("Tag") is not None or bool(combined and combined.get("Tags"))
    if not any(rule.get(action) is not None for action in ACTIONS):
        raise errors.invalid_request("At least one action needs to be specified in a rule")
    expiration = rule.get("Expiration")
    if expiration is not None:
        given = [m for m in ("Days", "Date", "ExpiredObjectDeleteMarker") if expiration.get(m) is not None]
        if len(given) != 1:
            raise errors.malformed_xml()
        if "Days" in given and expiration["Days"] <= 0:
            raise errors.invalid_argument("'Days' for Expiration action must be a positive integer")
        if "Date" in given:
            expiration["Date"] = _midnight(expiration["Date"])
        if "ExpiredObjectDeleteMarker" in given and tagged:
            raise errors.invalid_request("ExpiredObjectDeleteMarker cannot be specified with tags.")
    for transition in rule.get("Transitions") or ():
        given = [m for m in ("Days", "Date") if transition.get(m) is not None]
        if len(given) != 1 or transition.get("StorageClass") not in WATERFALL[1:]:
            raise errors.malformed_xml()
        if "Days" in given:
            _check_transition_days(transition["Days"], transition["StorageClass"], "Days")
        else:
            transition["Date"] = _midnight(transition["Date"])
    noncurrent = rule.get("NoncurrentVersionExpiration")
    if noncurrent is not None:
        days = noncurrent.get("NoncurrentDays")
        if days is None or days <= 0:
            raise errors.invalid_argument("'NoncurrentDays' for NoncurrentVersionExpiration action must be a "
                                          "positive integer")
        newer = noncurrent.get("NewerNoncurrentVersions")
        if newer is not None and not 1 <= newer <= 100:
            raise errors.invalid_argument("'NewerNoncurrentVersions' for NoncurrentVersionExpiration action must be "
                                          "a positive integer up to 100")
    for transition in rule.get("NoncurrentVersionTransitions") or ():
        if transition.get("NoncurrentDays") is None or transition.get("StorageClass") not in WATERFALL[1:]:
            raise errors.malformed_xml()
        _check_transition_days(transition["NoncurrentDays"], transition["StorageClass"], "NoncurrentDays")
    abort = rule.get("AbortIncompleteMultipartUpload")
    if abort is not None:
        days = abort.get("DaysAfterInitiation")
        if days is None or days <= 0:
            raise errors.invalid_argument("'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be "
                                          "a positive integer")
        if tagged:
            raise errors.invalid_request("AbortIncompleteMultipartUpload cannot be specified with Tags.")
    return {name: value for name, value in rule.items() if value is not None}


def _check_transition_days(days: int, storage_class: str, name: str) -> None:
    if days < 0:
        raise errors.invalid_argument(f"'{name}' in Transition action must be nonnegative")
    if storage_class in _THIRTY_DAY_MINIMUM and days < 30:
        raise errors.invalid_argument(f"'{name}' in Transition action must be greater than or equal to 30 for "
                                      f"storageClass '{storage_class}'")


def _midnight(value) -> str:
    when = to_datetime(value).astimezone(dt.UTC)
    if (when.hour, when.minute, when.second, when.microsecond) != (0, 0, 0, 0):
        raise errors.invalid_argument("'Date' must be at midnight GMT")
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def describe_configuration(bucket: Bucket) -> dict:
    if bucket.lifecycle is None:
        raise errors.no_such_lifecycle_configuration(bucket.name)
    rules = []
    for rule in bucket.lifecycle["Rules"]:
        rule = {**rule}
        if "Expiration" in rule and "Date" in rule["Expiration"]:
            rule["Expiration"] = {**rule["Expiration"], "Date": to_datetime(rule["Expiration"]["Date"])}
        if "Transitions" in rule:
            rule["Transitions"] = [{**t, "Date": to_datetime(t["Date"])} if "Date" in t else t
                                   for t in rule["Transitions"]]
        rules.append(rule)
    return {"Rules": rules, "TransitionDefaultMinimumObjectSize": bucket.lifecycle["TransitionDefaultMinimumObjectSize"]}


# -- which rules apply -------------------------------------------------------------------------

def rule_prefix(rule: dict) -> str:
    if "Prefix" in rule:
        return rule["Prefix"]
    flt = rule["Filter"]
    return flt.get("Prefix") or (flt.get("And") or {}).get("Prefix") or ""


def matches(rule: dict, key: str, size: int, tags: dict[str, str] | None = None) -> bool:
    """Whether the rule's filter selects this object (`tags`: its object tags)."""
    if not key.startswith(rule_prefix(rule)):
        return False
    flt = rule.get("Filter") or {}
    combined = flt.get("And") or {}
    wanted = [flt["Tag"]] if flt.get("Tag") else list(combined.get("Tags") or ())
    tags = tags or {}
    if any(tags.get(tag.get("Key")) != tag.get("Value", "") for tag in wanted):
        return False
    greater = flt.get("ObjectSizeGreaterThan", combined.get("ObjectSizeGreaterThan"))
    less = flt.get("ObjectSizeLessThan", combined.get("ObjectSizeLessThan"))
    return (greater is None or size > greater) and (less is None or size < less)


def due(start: float, days: int, day_seconds: float) -> float:
    """When `days` after `start` come due: rounded up to the next midnight UTC (the next
    multiple of a scaled day)."""
    return math.ceil((start + days * day_seconds) / day_seconds) * day_seconds


def _date(value: str) -> float:
    return to_datetime(value).timestamp()


def tag_filtered(rule: dict) -> bool:
    flt = rule.get("Filter") or {}
    return bool(flt.get("Tag") or (flt.get("And") or {}).get("Tags"))


def expiration_header(config: dict, key: str, size: int, last_modified: float, day_seconds: float,
                      tags: dict[str, str] | None = None) -> str | None:
    """x-amz-expiration: when (and by which rule) an enabled rule will expire this object.
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html#API_HeadObject_ResponseSyntax"""
    best: tuple[float, str] | None = None
    for rule in config["Rules"]:
        expiration = rule.get("Expiration") or {}
        if rule["Status"] != "Enabled" or not ("Days" in expiration or "Date" in expiration):
            continue
        if not matches(rule, key, size, tags):
            continue
        when = (due(last_modified, expiration["Days"], day_seconds) if "Days" in expiration
                else _date(expiration["Date"]))
        if best is None or when < best[0]:
            best = (when, rule["ID"])
    if best is None:
        return None
    date = format_datetime(dt.datetime.fromtimestamp(best[0], dt.UTC), usegmt=True)
    return f'expiry-date="{date}", rule-id="{quote(best[1], safe="")}"'


# -- the rules run -----------------------------------------------------------------------------

class Lifecycle:
    def __init__(self, store, buckets, objects_, multipart, settings):
        self.store, self.buckets, self.objects, self.multipart = store, buckets, objects_, multipart
        self.day_seconds = float(settings.s3_lifecycle_day_seconds)
        self.interval = (settings.s3_lifecycle_interval_seconds
                         or min(3600.0, max(0.05, self.day_seconds / 20)))
        # (bucket, key, version id) → the version's object tags, for rules with tag filters (set by
        # the provider to object tagging's reader; None: no object has tags).
        self.tags_of = None
        self._periodic = Periodic("lakestack-s3-lifecycle", self.run_once, self.interval)
        self.start, self.stop = self._periodic.start, self._periodic.stop
        self.changed = self._periodic.wake  # a configuration changed: a pass soon, not at the next interval

    def run_once(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        for bucket in self.buckets.with_lifecycle():
            config = bucket.lifecycle
            for rule in config["Rules"] if config is not None else ():
                if self._periodic.stopping:
                    return
                if rule["Status"] != "Enabled":
                    continue
                try:
                    self._apply(bucket, config, rule, now)
                except AwsError as error:  # e.g. the bucket was deleted meanwhile
                    log.debug("lifecycle rule %s of s3://%s: %s", rule["ID"], bucket.name, error.code)

    def _apply(self, bucket: Bucket, config: dict, rule: dict, now: float) -> None:
        expiration = rule.get("Expiration") or {}
        if "Days" in expiration or "Date" in expiration or rule.get("Transitions"):
            self._current(bucket, config, rule, now)
        if bucket.versioning is not None and (
                "Days" in expiration or expiration.get("ExpiredObjectDeleteMarker")
                or rule.get("NoncurrentVersionExpiration") or rule.get("NoncurrentVersionTransitions")):
            self._noncurrent(bucket, config, rule, now)
        if rule.get("AbortIncompleteMultipartUpload"):
            self._uploads(bucket, rule, now)

    def _rows(self, table: str, columns: str, bucket: str, prefix: str, extra: str = ""):
        sql = f"SELECT {columns} FROM {table} WHERE bucket = ? AND key >= CAST(? AS TEXT)"
        args: list = [bucket, keys.key_bytes(prefix)]
        if prefix:
            sql += " AND key < CAST(? AS TEXT)"
            args.append(successor(prefix))
        return self.store.db.query(sql + extra, tuple(args))

    def _tags(self, bucket: Bucket, rule: dict, key: str, version_id: str | None) -> dict[str, str] | None:
        if self.tags_of is None or not tag_filtered(rule):
            return None
        return self.tags_of(bucket.name, key, version_id or "null")

    # -- current versions ------------------------------------------------------------------

    def _current(self, bucket: Bucket, config: dict, rule: dict, now: float) -> None:
        expiration = rule.get("Expiration") or {}
        expired: list[tuple[str, str]] = []
        for row in self._rows("objects", "key, size, etag, last_modified, storage_class, version_id", bucket.name,
                              rule_prefix(rule)):
            if not matches(rule, row["key"], row["size"], self._tags(bucket, rule, row["key"], row["version_id"])):
                continue
            if "Days" in expiration:
                when = due(row["last_modified"], expiration["Days"], self.day_seconds)
            elif "Date" in expiration:
                when = _date(expiration["Date"])
            else:
                when = math.inf
            if when <= now:
                expired.append((row["key"], row["etag"]))
                continue
            target = self._transition_target(rule.get("Transitions") or (), row["last_modified"], now, "Days",
                                             row["storage_class"], row["size"], config)
            if target is not None:
                self._set_class("objects", bucket.name, row["key"], target, row["etag"], row["last_modified"])
        if expired:
            self._expire_current(bucket, expired)

    def _expire_current(self, bucket: Bucket, expired: list[tuple[str, str]]) -> None:
        found = self.buckets.get(bucket.name)
        if found is None:
            return
        if found.versioning is None:
            try:
                # Conditional on the ETag seen: an object written since is not this one.
                self.objects.delete_keys(bucket.name, [k for k, _ in expired], dict(expired))
                return
            except VersioningChanged:
                pass
        self.objects.versioning.delete(bucket.name, [DeleteItem(k, None, etag) for k, etag in expired])

    def _transition_target(self, transitions, start: float, now: float, unit: str, current: str | None,
                           size: int, config: dict) -> str | None:
        """The storage class the transitions due by now move a version to, if it is a move right."""
        rank = WATERFALL.index(current) if current in WATERFALL else 0
        target = None
        for transition in transitions:
            when = due(start, transition[unit], self.day_seconds) if unit in transition else _date(transition["Date"])
            storage_class = transition["StorageClass"]
            if when > now or WATERFALL.index(storage_class) <= rank:
                continue
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-transition-general-considerations.html
            if size < SMALL_OBJECT and (config["TransitionDefaultMinimumObjectSize"] == MIN_SIZES[0]
                                        or storage_class not in _ARCHIVES):
                continue
            if target is None or WATERFALL.index(storage_class) > WATERFALL.index(target):
                target = storage_class
        return target

    def _set_class(self, table: str, bucket: str, key: str, storage_class: str, etag: str, last_modified: float,
                   version_id: str | None = None) -> None:
        where = "bucket = ? AND key = ? AND etag = ? AND last_modified = ?"
        args = [storage_class, bucket, key, etag, last_modified]
        if version_id is not None:
            where += " AND version_id = ?"
            args.append(version_id)
        with self.store.key_lock(bucket, key), self.store.transaction() as db:
            db.execute(f"UPDATE {table} SET storage_class = ? WHERE {where}", tuple(args))

    # -- noncurrent versions and delete markers ------------------------------------------------

    def _noncurrent(self, bucket: Bucket, config: dict, rule: dict, now: float) -> None:
        prefix = rule_prefix(rule)
        current = {row["key"]: row["last_modified"]
                   for row in self._rows("objects", "key, last_modified", bucket.name, prefix)}
        by_key: dict[str, list] = {}
        for row in self._rows("versions", "key, seq, version_id, delete_marker, size, etag, last_modified,"
                              " storage_class", bucket.name, prefix, " ORDER BY key, seq DESC"):
            by_key.setdefault(row["key"], []).append(row)
        expiration = rule.get("Expiration") or {}
        noncurrent = rule.get("NoncurrentVersionExpiration") or {}
        deletes: list[DeleteItem] = []
        for key, rows in by_key.items():
            # The only version left is a delete marker: an "expired object delete marker".
            if key not in current and len(rows) == 1 and rows[0]["delete_marker"] and matches(rule, key, 0):
                marker = rows[0]
                if expiration.get("ExpiredObjectDeleteMarker") or (
                        "Days" in expiration
                        and due(marker["last_modified"], expiration["Days"], self.day_seconds) <= now):
                    deletes.append(DeleteItem(key, marker["version_id"]))
                continue
            newer_time = current.get(key)  # when the newest noncurrent version stopped being current
            if newer_time is None and rows and rows[0]["delete_marker"]:
                newer_time, rows = rows[0]["last_modified"], rows[1:]
            kept = 0
            for row in rows:
                since, newer_time = newer_time, row["last_modified"]
                if row["delete_marker"] or since is None or not matches(
                        rule, key, row["size"], self._tags(bucket, rule, key, row["version_id"])):
                    continue
                kept += 1
                if noncurrent and kept > noncurrent.get("NewerNoncurrentVersions", 0) and \
                        due(since, noncurrent["NoncurrentDays"], self.day_seconds) <= now:
                    deletes.append(DeleteItem(key, row["version_id"], row["etag"]))
                    continue
                target = self._transition_target(rule.get("NoncurrentVersionTransitions") or (), since, now,
                                                 "NoncurrentDays", row["storage_class"], row["size"], config)
                if target is not None:
                    self._set_class("versions", bucket.name, key, target, row["etag"], row["last_modified"],
                                    row["version_id"])
        if deletes:
            # A locked version (Object Lock) comes back as an AccessDenied result and stays.
            for item, result in zip(deletes, self.objects.versioning.delete(bucket.name, deletes), strict=True):
                if isinstance(result, AwsError) and result.code != "AccessDenied":
                    log.debug("lifecycle left s3://%s/%s (%s): %s", bucket.name, item.key, item.version_id,
                              result.code)

    # -- multipart uploads ---------------------------------------------------------------------

    def _uploads(self, bucket: Bucket, rule: dict, now: float) -> None:
        days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
        for row in self._rows("uploads", "upload_id, key, initiated", bucket.name, rule_prefix(rule)):
            if matches(rule, row["key"], 0) and due(row["initiated"], days, self.day_seconds) <= now:
                try:
                    self.multipart.abort(bucket.account_id, bucket.name, row["key"], row["upload_id"])
                except AwsError:  # completed or aborted meanwhile
                    pass
