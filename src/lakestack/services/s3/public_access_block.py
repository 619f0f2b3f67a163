"""S3 Block Public Access, bucket level: four switches a bucket owner sets to keep ACLs and
bucket policies from making the bucket or its objects public.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html

- BlockPublicAcls: a PutBucketAcl, PutObjectAcl or write (PutObject, CopyObject,
  CreateMultipartUpload) stating a public ACL — a grant to AllUsers or AuthenticatedUsers —
  is refused with 403 AccessDenied (acls.is_public).
- IgnorePublicAcls: such grants are not counted when deciding access (acls.acl_decision).
- BlockPublicPolicy, RestrictPublicBuckets: the same for bucket policies (bucket_policy.py
  reads them through `config`).

New buckets get all four on unless `settings.s3_bucket_defaults` is "legacy" (AWS since
April 2023). Stored in `public_access_blocks` (a row per bucket that has a configuration),
cached in memory. Account-level Block Public Access (S3 Control) is not built.
"""

from __future__ import annotations

from lakestack.aws.errors import AwsError
from lakestack.services.s3 import errors

FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
ALL_ON = dict.fromkeys(FLAGS, True)
_NONE = dict.fromkeys(FLAGS, False)


def not_found(bucket: str) -> AwsError:
    return AwsError("NoSuchPublicAccessBlockConfiguration", "The public access block configuration was not found",
                    404, BucketName=bucket)


def parse(configuration: dict | None) -> dict:
    """PutPublicAccessBlock's body: an absent flag is false."""
    if configuration is None:
        raise errors.malformed_xml()
    return {flag: bool(configuration.get(flag)) for flag in FLAGS}


class PublicAccessBlocks:
    def __init__(self, store):
        self.store = store
        self._cache: dict[str, dict] = {}
        for row in store.db.query("SELECT bucket, block_public_acls, ignore_public_acls, block_public_policy,"
                                  " restrict_public_buckets FROM public_access_blocks"):
            self._cache[row["bucket"]] = dict(zip(FLAGS, (bool(v) for v in tuple(row)[1:]), strict=True))

    def config(self, bucket: str) -> dict:
        """The bucket's four flags, {"BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
        "RestrictPublicBuckets": bool}, all False when it has no configuration. A dict lookup,
        cheap enough for every request. (Bucket-level only: there is no account-level setting.)"""
        return self._cache.get(bucket, _NONE)

    def get(self, bucket: str) -> dict | None:
        """GetPublicAccessBlock's configuration, or None when the bucket has none."""
        return self._cache.get(bucket)

    def write(self, db, bucket: str, flags: dict | None) -> None:
        if flags is None:
            db.execute("DELETE FROM public_access_blocks WHERE bucket = ?", (bucket,))
        else:
            db.execute("INSERT OR REPLACE INTO public_access_blocks (bucket, block_public_acls, ignore_public_acls,"
                       " block_public_policy, restrict_public_buckets) VALUES (?, ?, ?, ?, ?)",
                       (bucket, *(int(flags[f]) for f in FLAGS)))

    def commit(self, bucket: str, flags: dict | None) -> None:
        if flags is None:
            self._cache.pop(bucket, None)
        else:
            self._cache[bucket] = dict(flags)

    def set(self, bucket: str, flags: dict | None) -> None:
        with self.store.transaction() as db:
            self.write(db, bucket, flags)
        self.commit(bucket, flags)  # once durable
