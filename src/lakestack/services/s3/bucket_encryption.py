"""Default bucket encryption: Put/Get/DeleteBucketEncryption.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-encryption.html

Since January 2023 every S3 bucket has a default encryption configuration, SSE-S3, and
GetBucketEncryption answers it for a bucket that was never configured (before, it answered
404 ServerSideEncryptionConfigurationNotFoundError, which s3-tests still expects); lakestack
answers as S3 does now. DeleteBucketEncryption goes back to that default.

Since April 2026 new buckets also block SSE-C writes (`BlockedEncryptionTypes: SSE-C`; such
a write answers 403 AccessDenied) until PutBucketEncryption unblocks it:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/blocking-unblocking-s3-c-encryption-gpb.html
Buckets created with `s3_bucket_defaults = "legacy"` start as older buckets did, unblocked.

SSE-KMS defaults (`aws:kms`, `aws:kms:dsse`) answer 501 until lakestack has KMS. Configurations
are few and read on every SSE-C write, so they are cached in memory (changed only with the table).
"""

from __future__ import annotations

import json
import threading

from lakestack.services.s3 import errors

SSE_C = "SSE-C"
_KMS = ("aws:kms", "aws:kms:dsse")


def default_config(block_sse_c: bool) -> dict:
    rule: dict = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}
    if block_sse_c:
        rule["BlockedEncryptionTypes"] = {"EncryptionType": [SSE_C]}
    return {"Rules": [rule]}


def check_config(config: dict | None) -> dict:
    """PutBucketEncryption's ServerSideEncryptionConfiguration, as it is stored."""
    rules = (config or {}).get("Rules") or []
    if not rules:
        raise errors.malformed_xml()
    stored = []
    for rule in rules:
        default = rule.get("ApplyServerSideEncryptionByDefault")
        if not default or default.get("SSEAlgorithm") is None:
            raise errors.malformed_xml()
        algorithm = default["SSEAlgorithm"]
        if algorithm in _KMS:
            raise errors.not_implemented_feature("default encryption with KMS keys (SSE-KMS)", "SSEAlgorithm")
        if algorithm != "AES256":
            raise errors.malformed_xml()
        if default.get("KMSMasterKeyID") is not None:
            raise errors.invalid_argument("a KMSMasterKeyID is not applicable if the default sse algorithm is not "
                                          "aws:kms or aws:kms:dsse", "ApplyServerSideEncryptionByDefault")
        entry: dict = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": algorithm},
                       "BucketKeyEnabled": bool(rule.get("BucketKeyEnabled"))}
        blocked = rule.get("BlockedEncryptionTypes")
        if blocked is not None:
            types = blocked.get("EncryptionType") or []
            if any(t not in ("NONE", SSE_C) for t in types):
                raise errors.malformed_xml()
            entry["BlockedEncryptionTypes"] = {"EncryptionType": list(types)}
        stored.append(entry)
    return {"Rules": stored}


def _blocks_sse_c(config: dict) -> bool:
    return any(SSE_C in ((rule.get("BlockedEncryptionTypes") or {}).get("EncryptionType") or [])
               for rule in config["Rules"])


class BucketEncryption:
    def __init__(self, store, new_buckets_block_sse_c: bool):
        self.store = store
        self.new_buckets_block_sse_c = new_buckets_block_sse_c
        self._lock = threading.Lock()
        self._configs: dict[str, dict] = {
            row["bucket"]: json.loads(row["config"])
            for row in store.db.query("SELECT bucket, config FROM bucket_encryption")}
        self._blocking = {bucket for bucket, config in self._configs.items() if _blocks_sse_c(config)}

    def get(self, bucket: str) -> dict:
        return self._configs.get(bucket) or default_config(False)

    def blocks_sse_c(self, bucket: str) -> bool:
        return bucket in self._blocking

    def put(self, bucket: str, config: dict) -> None:
        self._set(bucket, config)

    def reset(self, bucket: str) -> None:
        """DeleteBucketEncryption, and a new bucket: what a bucket created now starts with."""
        self._set(bucket, default_config(True) if self.new_buckets_block_sse_c else None)

    def forget(self, bucket: str) -> None:
        self._set(bucket, None)

    def _set(self, bucket: str, config: dict | None) -> None:
        with self._lock, self.store.transaction() as db:
            if config is None:
                db.execute("DELETE FROM bucket_encryption WHERE bucket = ?", (bucket,))
            else:
                db.execute("INSERT OR REPLACE INTO bucket_encryption (bucket, config) VALUES (?, ?)",
                           (bucket, json.dumps(config)))
            if config is None:
                self._configs.pop(bucket, None)
                self._blocking.discard(bucket)
            else:
                self._configs[bucket] = config
                (self._blocking.add if _blocks_sse_c(config) else self._blocking.discard)(bucket)
