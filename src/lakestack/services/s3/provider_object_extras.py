"""S3 operations around an object's bytes: default bucket encryption, object tagging,
GetObjectAttributes, GetObjectTorrent — glue to bucket_encryption.py, encryption.py,
tagging.py, attributes.py and torrent.py. A part of S3Provider."""

from __future__ import annotations

from lakestack.services.base import Action
from lakestack.services.s3 import attributes, calls, encryption, tagging, torrent
from lakestack.services.s3.bucket_encryption import check_config
from lakestack.services.s3.calls import BUCKET, OBJECT


class ObjectExtrasOperations:
    # -- encryption (SSE-C, default bucket encryption), object tagging, GetObjectAttributes ----

    ACTIONS = {
        "PutBucketEncryption": Action("s3:PutEncryptionConfiguration", BUCKET),
        "GetBucketEncryption": Action("s3:GetEncryptionConfiguration", BUCKET),
        "DeleteBucketEncryption": Action("s3:PutEncryptionConfiguration", BUCKET),  # no action of its own
        "PutObjectTagging": Action("s3:PutObjectTagging", OBJECT),
        "GetObjectTagging": Action("s3:GetObjectTagging", OBJECT),
        "DeleteObjectTagging": Action("s3:DeleteObjectTagging", OBJECT),
        "GetObjectAttributes": Action("s3:GetObjectAttributes", OBJECT),
    }

    def _check_write_options(self, ctx, params) -> encryption.CustomerKey | None:
        """What a write may ask for that lakestack refuses (SSE-KMS, SSE-C where the bucket blocks
        it); the SSE-C key it encrypts with."""
        key = encryption.check_write(params, calls.secure(ctx))
        calls.customer_key(ctx, params, copy_source=True)  # a copy source's key is checked before anything is read
        if key is not None and self.bucket_encryption.blocks_sse_c(params["Bucket"]):
            raise encryption.blocked_error()
        return key

    def put_bucket_encryption(self, ctx, params):
        self.buckets.require(ctx.account_id, params["Bucket"])
        self.bucket_encryption.put(params["Bucket"], check_config(params.get("ServerSideEncryptionConfiguration")))
        return {}

    def get_bucket_encryption(self, ctx, params):
        self.buckets.require(ctx.account_id, params["Bucket"])
        return {"ServerSideEncryptionConfiguration": self.bucket_encryption.get(params["Bucket"])}

    def delete_bucket_encryption(self, ctx, params):
        self.buckets.require(ctx.account_id, params["Bucket"])
        self.bucket_encryption.reset(params["Bucket"])
        return {}

    def put_object_tagging(self, ctx, params):
        tags = tagging.check_tag_set(params.get("Tagging"))
        return self.tagging.put(ctx.account_id, params["Bucket"], params["Key"], params.get("VersionId"), tags)

    def get_object_tagging(self, ctx, params):
        return self.tagging.get(ctx.account_id, params["Bucket"], params["Key"], params.get("VersionId"))

    def delete_object_tagging(self, ctx, params):
        return self.tagging.put(ctx.account_id, params["Bucket"], params["Key"], params.get("VersionId"), None)

    def get_object_attributes(self, ctx, params):
        key = calls.customer_key(ctx, params)
        record, _ = self.objects.open(ctx.account_id, params["Bucket"], params["Key"], with_file=False,
                                      version_id=params.get("VersionId"))
        if record.sse is not None:
            encryption.unseal(record.sse, key)
        else:
            encryption.check_plain(key)
        return attributes.describe(record, params)


    # -- fix: GetObjectTorrent ----------------------------------------------------------------

    ACTIONS = ACTIONS | {"GetObjectTorrent": Action("s3:GetObjectTorrent", OBJECT)}

    def get_object_torrent(self, ctx, params):
        record, file = self.objects.open(ctx.account_id, params["Bucket"], params["Key"])
        with file:
            torrent.check_torrentable(record.size, record.sse is not None)
            url = calls.location(ctx, params["Bucket"], params["Key"])
            if calls.secure(ctx) and url.startswith("http://"):
                url = "https://" + url[len("http://"):]
            return {"Body": torrent.metainfo(file, record.size, params["Key"], url)}
