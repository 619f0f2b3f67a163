"""Object tagging: Put/Get/DeleteObjectTagging, `x-amz-tagging` on writes, `x-amz-tagging-count`.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-tagging.html

Tags are part of an object version, like its metadata: a `tags` column of its row (`objects`
for the current version, `versions` for older ones), so they move with the version when it is
replaced, go when it is deleted, and GetObject counts them without another query.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl

from lakestack.aws.errors import AwsError
from lakestack.services.s3 import errors

MAX_TAGS = 10
MAX_KEY = 128
MAX_VALUE = 256
# Letters, digits and spaces in any script, and + - = . _ : / @
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/tagging-managing.html
_ALLOWED = re.compile(r"[\w\s+\-=._:/@]*")


def _check(tags: list[dict], too_many: AwsError) -> list[dict]:
    """The tags, valid, in key order (S3 answers them so, whatever order they were sent in)."""
    if len(tags) > MAX_TAGS:
        raise too_many
    seen = set()
    for tag in tags:
        key, value = tag["Key"], tag["Value"]
        if key in seen:
            raise errors.invalid_tag("Cannot provide multiple Tags with the same key")
        seen.add(key)
        if len(key) > MAX_KEY:
            raise errors.invalid_tag(f"The TagKey you have provided is too long, max {MAX_KEY}")
        if len(value) > MAX_VALUE:
            raise errors.invalid_tag(f"The TagValue you have provided is too long, max {MAX_VALUE}")
        if key.lower().startswith("aws:"):
            raise errors.invalid_tag("Your TagKey cannot be prefixed with aws:")
        if not key or not _ALLOWED.fullmatch(key):
            raise errors.invalid_tag("The TagKey you have provided is invalid")
        if not _ALLOWED.fullmatch(value):
            raise errors.invalid_tag("The TagValue you have provided is invalid")
    return sorted(tags, key=lambda tag: tag["Key"])


def check_tag_set(tagging: dict | None) -> list[dict]:
    """PutObjectTagging's body."""
    tag_set = (tagging or {}).get("TagSet")
    if tag_set is None:
        raise errors.malformed_xml()
    tags = []
    for tag in tag_set:
        if tag.get("Key") is None or tag.get("Value") is None:
            raise errors.malformed_xml()
        tags.append({"Key": tag["Key"], "Value": tag["Value"]})
    return _check(tags, errors.invalid_tag(f"Object tags cannot be greater than {MAX_TAGS}"))


def from_header(value: str | None) -> list[dict] | None:
    """`x-amz-tagging` (PutObject, CopyObject with REPLACE, CreateMultipartUpload): URL query
    encoded `k1=v1&k2=v2`; a key without `=` has an empty value."""
    if value is None or value == "":
        return None
    malformed = errors.invalid_argument(
        "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without "
        "tag name duplicates.", "x-amz-tagging", value)
    try:
        pairs = parse_qsl(value, keep_blank_values=True, errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise malformed from None
    if any(not k for k, _ in pairs) or len({k for k, _ in pairs}) != len(pairs):
        raise malformed
    tags = _check([{"Key": k, "Value": v} for k, v in pairs],
                  AwsError("BadRequest", f"Object tags cannot be greater than {MAX_TAGS}", 400))
    return tags or None


class ObjectTagging:
    """The tags of an object version, read and changed in place under the key's lock."""

    def __init__(self, objects_):
        self.objects = objects_
        self.store = objects_.store

    def _locate(self, one, bucket: str, key: str, version_id: str | None) -> tuple[str, tuple, dict]:
        """(table, its row's WHERE arguments, the row) of the version named, or the current one.
        `one(sql, args)`: a row or None."""
        from lakestack.services.s3.versioning import check_version_id, no_such_version

        row = one("SELECT tags, version_id FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
        if version_id is None:
            if row is None:
                raise self.objects.versioning.no_current_object(bucket, key)
            return "objects", (bucket, key), row
        check_version_id(version_id)
        if row is not None and (row["version_id"] or "null") == version_id:
            return "objects", (bucket, key), row
        row = one("SELECT tags, version_id, delete_marker, seq FROM versions WHERE bucket = ? AND key = ?"
                  " AND version_id = ?", (bucket, key, version_id))
        if row is None:
            raise no_such_version(key, version_id)
        if row["delete_marker"]:
            raise AwsError("MethodNotAllowed", "The specified method is not allowed against this resource.", 405,
                           headers={"x-amz-delete-marker": "true", "x-amz-version-id": version_id},
                           Method="GET", ResourceType="DeleteMarker")
        return "versions", (bucket, key, row["seq"]), row

    @staticmethod
    def _where(table: str) -> str:
        return "bucket = ? AND key = ?" if table == "objects" else "bucket = ? AND key = ? AND seq = ?"

    def get(self, account_id: str, bucket: str, key: str, version_id: str | None) -> dict:
        self.objects.buckets.require(account_id, bucket)
        with self.store.key_lock(bucket, key):
            _, _, row = self._locate(self.store.db.query_one, bucket, key, version_id)
        out = {"TagSet": json.loads(row["tags"]) if row["tags"] else []}
        if row["version_id"] is not None:
            out["VersionId"] = row["version_id"]
        return out

    def tags(self, bucket: str, key: str, version_id: str | None) -> dict[str, str] | None:
        """{key: value} of the version named (or the current one); None when there is no such
        version. For bucket policies' s3:ExistingObjectTag and lifecycle rules' tag filters."""
        try:
            _, _, row = self._locate(self.store.db.query_one, bucket, key, version_id)
        except AwsError:
            return None
        return {tag["Key"]: tag["Value"] for tag in json.loads(row["tags"])} if row["tags"] else {}

    def put(self, account_id: str, bucket: str, key: str, version_id: str | None, tags: list[dict] | None) -> dict:
        """Replace the version's tags (None removes them)."""
        self.objects.buckets.require(account_id, bucket)
        with self.store.key_lock(bucket, key), self.store.transaction() as db:
            table, where, row = self._locate(lambda sql, args: db.execute(sql, args).fetchone(), bucket, key,
                                             version_id)
            db.execute(f"UPDATE {table} SET tags = ? WHERE {self._where(table)}",
                       (json.dumps(tags) if tags else None, *where))
        return {"VersionId": row["version_id"]} if row["version_id"] is not None else {}
