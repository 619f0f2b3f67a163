"""S3 Object Ownership: who owns the objects written to a bucket, and whether ACLs count.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/about-object-ownership.html

- `BucketOwnerEnforced`: ACLs are disabled; the bucket owner owns every object. Writes may
  state no ACL or one that leaves the bucket owner in full control; setting any other ACL is
  `AccessControlListNotSupported`, and reads of ACLs answer the owner's full control.
- `BucketOwnerPreferred`: the bucket owner owns objects written with the
  `bucket-owner-full-control` canned ACL, the writer owns the rest; ACLs count.
- `ObjectWriter`: the writer's account owns what it writes; ACLs count.

A bucket with no ownership controls (created before April 2023, or after
DeleteBucketOwnershipControls) behaves as `ObjectWriter`, and GetBucketOwnershipControls
answers `OwnershipControlsNotFoundError`. New buckets get `BucketOwnerEnforced` unless
`settings.s3_bucket_defaults` is "legacy"
(https://aws.amazon.com/about-aws/whats-new/2022/12/amazon-s3-automatically-enable-block-public-access-disable-access-control-lists-buckets-april-2023/).

Stored in `bucket_ownership` (one row per bucket, `ownership` NULL for no controls) and
cached in memory. A bucket with no row at all was made before lakestack had Object
Ownership, when every bucket was `BucketOwnerEnforced`, and stays so.
"""

from __future__ import annotations

from lakestack.aws.errors import AwsError
from lakestack.services.s3 import errors

ENFORCED = "BucketOwnerEnforced"
PREFERRED = "BucketOwnerPreferred"
WRITER = "ObjectWriter"
SETTINGS = (ENFORCED, PREFERRED, WRITER)


def not_found() -> AwsError:
    return AwsError("OwnershipControlsNotFoundError", "The bucket ownership controls were not found", 404)


def acl_not_supported() -> AwsError:
    return AwsError("AccessControlListNotSupported", "The bucket does not allow ACLs", 400)


def invalid_bucket_acl() -> AwsError:
    return AwsError("InvalidBucketAclWithObjectOwnership",
                    "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting", 400)


def check_setting(value) -> str:
    if value not in SETTINGS:
        raise errors.invalid_argument("Invalid x-amz-object-ownership header", "x-amz-object-ownership", value)
    return value


def parse_controls(controls: dict | None) -> str:
    """PutBucketOwnershipControls' body: exactly one rule naming a setting."""
    rules = (controls or {}).get("Rules")
    if not rules or len(rules) != 1 or rules[0].get("ObjectOwnership") not in SETTINGS:
        raise errors.malformed_xml()
    return rules[0]["ObjectOwnership"]



class OwnershipControls:
    def __init__(self, store):
        self.store = store
        self._cache: dict[str, str | None] = {
            row["bucket"]: row["ownership"] for row in store.db.query("SELECT bucket, ownership FROM bucket_ownership")}

    def configured(self, bucket: str) -> str | None:
        """The bucket's setting as GetBucketOwnershipControls answers it (None: no controls)."""
        return self._cache.get(bucket, ENFORCED)

    def effective(self, bucket: str) -> str:
        """How the bucket behaves: no controls is `ObjectWriter`."""
        return self._cache.get(bucket, ENFORCED) or WRITER

    def acls_enabled(self, bucket: str) -> bool:
        return self.effective(bucket) != ENFORCED

    def write(self, db, bucket: str, ownership: str | None) -> None:
        db.execute("INSERT OR REPLACE INTO bucket_ownership (bucket, ownership) VALUES (?, ?)", (bucket, ownership))

    def commit(self, bucket: str, ownership: str | None) -> None:
        self._cache[bucket] = ownership

    def set(self, bucket: str, ownership: str | None) -> None:
        with self.store.transaction() as db:
            self.write(db, bucket, ownership)
        self.commit(bucket, ownership)  # once durable

    def forget(self, db, bucket: str) -> None:
        db.execute("DELETE FROM bucket_ownership WHERE bucket = ?", (bucket,))

    def forgotten(self, bucket: str) -> None:
        self._cache.pop(bucket, None)
