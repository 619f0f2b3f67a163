"""S3's operations: thin glue from typed params to buckets/objects/multipart/listing.

The lake's store: objects are plain files under `<home>/s3/<bucket>/<key>` (keys.py),
indexed in `<state>/s3.db`, written durably (store.py).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from urllib.parse import quote

from lakestack.aws.errors import AwsError
from lakestack.aws.request import BytesBody
from lakestack.services.base import Action, Provider
from lakestack.services.s3 import acls, attributes, checksums, encryption, errors, listing, spool, tagging
from lakestack.services.s3.bucket_encryption import BucketEncryption, check_config
from lakestack.services.s3.buckets import Buckets, check_bucket_options, owner
from lakestack.services.s3.multipart import Multipart
from lakestack.services.s3.notifications import Notifications
from lakestack.services.s3.objects import (
    Objects,
    VersioningChanged,
    check_object_lock,
    parse_copy_source,
    valid_version_id,
)
from lakestack.services.s3.spool import Incoming
from lakestack.services.s3.store import S3Store
from lakestack.services.s3.versioning import DeleteItem, check_version_id, is_null

BUCKET = "arn:aws:s3:::{Bucket}"
OBJECT = "arn:aws:s3:::{Bucket}/{Key}"
# Larger unread bodies are the gateway's to discard (by closing the connection).
DRAIN_LIMIT = 8 << 20
# Small reads and writes run on the event loop thread (Provider.runs_inline) while the
# disk's small fsyncs stay under this: on this VM that took small PUT+GET from ~1,150 to
# ~1,500 ops/s at a third less CPU (docs/performance.md). A slower disk would hold every
# other connection up for as long, so then they go back to worker threads.
INLINE_SYNC_SECONDS = 0.001
_INLINE_READS = frozenset({"GetObject", "HeadObject", "HeadBucket"})
# The IAM action of an operation that names a version (?versionId=).
_VERSION_ACTIONS = {"GetObject": "s3:GetObjectVersion", "HeadObject": "s3:GetObjectVersion",
                    "DeleteObject": "s3:DeleteObjectVersion",
                    "GetObjectTagging": "s3:GetObjectVersionTagging", "PutObjectTagging": "s3:PutObjectVersionTagging",
                    "DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
                    "GetObjectAttributes": "s3:GetObjectVersionAttributes"}
# Writes whose x-amz-tagging header also needs s3:PutObjectTagging.
_TAGGED_WRITES = frozenset({"PutObject", "CopyObject", "CreateMultipartUpload"})


def _object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


class S3Provider(Provider):
    service = "s3"
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html
    ACTIONS = {
        "ListBuckets": Action("s3:ListAllMyBuckets"),
        "CreateBucket": Action("s3:CreateBucket", BUCKET),
        "DeleteBucket": Action("s3:DeleteBucket", BUCKET),
        "HeadBucket": Action("s3:ListBucket", BUCKET),
        "GetBucketLocation": Action("s3:GetBucketLocation", BUCKET),
        "PutBucketTagging": Action("s3:PutBucketTagging", BUCKET),
        "DeleteBucketTagging": Action("s3:PutBucketTagging", BUCKET),  # AWS has no DeleteBucketTagging action
        "GetBucketTagging": Action("s3:GetBucketTagging", BUCKET),
        "PutBucketNotificationConfiguration": Action("s3:PutBucketNotification", BUCKET),
        "GetBucketNotificationConfiguration": Action("s3:GetBucketNotification", BUCKET),
        "ListObjects": Action("s3:ListBucket", BUCKET),
        "ListObjectsV2": Action("s3:ListBucket", BUCKET),
        "ListMultipartUploads": Action("s3:ListBucketMultipartUploads", BUCKET),
        "ListObjectVersions": Action("s3:ListBucketVersions", BUCKET),
        "PutBucketVersioning": Action("s3:PutBucketVersioning", BUCKET),
        "GetBucketVersioning": Action("s3:GetBucketVersioning", BUCKET),
        "GetObject": Action("s3:GetObject", OBJECT),
        "HeadObject": Action("s3:GetObject", OBJECT),
        "PutObject": Action("s3:PutObject", OBJECT),
        "CopyObject": Action("s3:PutObject", OBJECT),
        "DeleteObject": Action("s3:DeleteObject", OBJECT),
        "CreateMultipartUpload": Action("s3:PutObject", OBJECT),
        "UploadPart": Action("s3:PutObject", OBJECT),
        "UploadPartCopy": Action("s3:PutObject", OBJECT),
        "CompleteMultipartUpload": Action("s3:PutObject", OBJECT),
        "AbortMultipartUpload": Action("s3:AbortMultipartUpload", OBJECT),
        "ListParts": Action("s3:ListMultipartUploadParts", OBJECT),
    }

    def __init__(self, stack):
        super().__init__(stack)
        settings = stack.settings
        self.store = S3Store(settings.home, settings.state_dir)
        self.buckets = Buckets(self.store)
        self.objects = Objects(self.store, self.buckets)
        self.multipart = Multipart(self.store, self.buckets, self.objects)
        self.notifications = Notifications(self.store.db, stack, self.buckets.get)
        self.bucket_encryption = BucketEncryption(self.store, settings.s3_bucket_defaults == "2023")
        self.tagging = tagging.ObjectTagging(self.objects)

    def stop(self) -> None:
        self.store.close()

    def authorization(self, ctx, params):
        if ctx.principal is None and ctx.operation != "CreateBucket":
            # An anonymous caller learns that a bucket does not exist (404) before it is denied.
            bucket = params.get("Bucket")
            if bucket and self.buckets.get(bucket) is None:
                raise errors.no_such_bucket(bucket)
        checks = super().authorization(ctx, params)
        if ctx.operation in ("CopyObject", "UploadPartCopy") and params.get("CopySource"):
            try:
                src_bucket, src_key, src_version = parse_copy_source(params["CopySource"])
            except Exception:  # malformed: the operation itself answers InvalidArgument
                return checks
            checks.append(("s3:GetObjectVersion" if src_version else "s3:GetObject", _object_arn(src_bucket, src_key)))
        elif ctx.operation == "DeleteObjects":
            # Every key needs s3:DeleteObject, or s3:DeleteObjectVersion for a version (AWS reports a
            # denied key in Errors; here it denies the call).
            bucket = params.get("Bucket", "")
            keys = (params.get("Delete") or {}).get("Objects") or []
            checks = list(dict.fromkeys(
                ("s3:DeleteObjectVersion" if o.get("VersionId") else "s3:DeleteObject", _object_arn(bucket, o.get("Key", "")))
                for o in keys)) or [("s3:DeleteObject", f"arn:aws:s3:::{bucket}/*")]
        elif params.get("VersionId") and ctx.operation in _VERSION_ACTIONS:
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/VersioningWorkingWithObjects.html
            checks = [(_VERSION_ACTIONS[ctx.operation], resource) for _, resource in checks]
        if params.get("Tagging") and ctx.operation in _TAGGED_WRITES:
            # Tags sent with a write need s3:PutObjectTagging as well.
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/tagging-managing.html
            checks.append(("s3:PutObjectTagging", _object_arn(params.get("Bucket", ""), params.get("Key", ""))))
        return checks

    # -- buckets ---------------------------------------------------------------------------

    def list_buckets(self, ctx, params):
        found, token = self.buckets.list(ctx.account_id, params.get("Prefix"), params.get("BucketRegion"),
                                         params.get("MaxBuckets"), params.get("ContinuationToken"))
        return {
            "Buckets": [{"Name": b.name, "CreationDate": b.creation_date, "BucketRegion": b.region,
                         "BucketArn": b.arn} for b in found],
            "Owner": owner(ctx.account_id),
            "ContinuationToken": token,
            "Prefix": params.get("Prefix"),
        }

    def create_bucket(self, ctx, params):
        check_bucket_options(params)
        acls.check_bucket_acl(params)
        constraint = (params.get("CreateBucketConfiguration") or {}).get("LocationConstraint")
        existed = self.buckets.get(params["Bucket"]) is not None  # us-east-1 answers 200 for one you own
        bucket = self.buckets.create(ctx.account_id, ctx.region, params["Bucket"], constraint)
        if not existed:
            self.bucket_encryption.reset(bucket.name)
        return {"Location": f"/{bucket.name}", "BucketArn": bucket.arn}

    def delete_bucket(self, ctx, params):
        self.buckets.delete(ctx.account_id, params["Bucket"])
        self.notifications.forget(params["Bucket"])
        self.bucket_encryption.forget(params["Bucket"])
        return {}

    def head_bucket(self, ctx, params):
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        return {"BucketRegion": bucket.region, "BucketArn": bucket.arn}

    def get_bucket_location(self, ctx, params):
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        # us-east-1 answers an empty LocationConstraint.
        return {"LocationConstraint": None if bucket.region == "us-east-1" else bucket.region}

    def put_bucket_tagging(self, ctx, params):
        tags = (params.get("Tagging") or {}).get("TagSet")
        if tags is None:
            raise errors.malformed_xml()
        self.buckets.put_tags(ctx.account_id, params["Bucket"], tags)
        return {}

    def get_bucket_tagging(self, ctx, params):
        return {"TagSet": self.buckets.get_tags(ctx.account_id, params["Bucket"])}

    def delete_bucket_tagging(self, ctx, params):
        self.buckets.delete_tags(ctx.account_id, params["Bucket"])
        return {}

    def put_bucket_versioning(self, ctx, params):
        """https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketVersioning.html"""
        self.buckets.require(ctx.account_id, params["Bucket"])
        config = params.get("VersioningConfiguration") or {}
        status, mfa_delete = config.get("Status"), config.get("MFADelete")
        if status not in ("Enabled", "Suspended") or mfa_delete not in (None, "Enabled", "Disabled"):
            raise errors.malformed_xml()
        if mfa_delete == "Enabled":
            raise errors.not_implemented_feature("MFA delete", "MfaDelete")
        self.buckets.set_versioning(ctx.account_id, params["Bucket"], status)
        return {}

    def get_bucket_versioning(self, ctx, params):
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        return {"Status": bucket.versioning} if bucket.versioning else {}

    def list_object_versions(self, ctx, params):
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        return self.objects.versioning.list(bucket.name, params, owner(bucket.account_id))

    def put_bucket_notification_configuration(self, ctx, params):
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        self.notifications.put(bucket, params.get("NotificationConfiguration") or {},
                               bool(params.get("SkipDestinationValidation")))
        return {}

    def get_bucket_notification_configuration(self, ctx, params):
        self.buckets.require(ctx.account_id, params["Bucket"])
        return self.notifications.get(params["Bucket"])

    # -- objects ---------------------------------------------------------------------------

    def runs_inline(self, ctx, params) -> bool:
        if spool.small_file_sync.seconds > INLINE_SYNC_SECONDS:
            return False
        if ctx.operation in _INLINE_READS:
            return True
        # A small PutObject whose body the gateway has already read (reading on the loop
        # would wait for the loop itself), to a bucket that notifies no one (that enqueues
        # durably in Lambda).
        http = ctx.http
        return (ctx.operation == "PutObject" and http is not None and isinstance(http.body, BytesBody)
                and (params.get("ContentLength") or 0) <= spool.SMALL_FILE
                and not self.notifications.has_targets(params["Bucket"]))

    def put_object(self, ctx, params):
        incoming = _incoming(ctx, params)
        with _drained_on_error(incoming):
            key = self._check_write_options(ctx, params)
            record = self.objects.put(ctx.account_id, params["Bucket"], params["Key"], params, incoming, key)
        self.notifications.object_created(ctx, record.bucket, record.key, record.size, record.etag, "Put",
                                          record.version_id)
        out = {"ETag": record.etag, **encryption.write_headers(key)}
        if not is_null(record.version_id):  # S3 answers no version id for a null version
            out["VersionId"] = record.version_id
        if record.checksum_value:
            out[checksums.member(record.checksum_algorithm)] = record.checksum_value
            out["ChecksumType"] = record.checksum_type
        return out

    def get_object(self, ctx, params):
        key = _read_key(ctx, params)
        output, status = self.objects.read(ctx.account_id, params["Bucket"], params["Key"], params, head=False,
                                           customer_key=key)
        if status != 200:
            ctx.response_status = status
        return output

    def head_object(self, ctx, params):
        key = _read_key(ctx, params)
        output, status = self.objects.read(ctx.account_id, params["Bucket"], params["Key"], params, head=True,
                                           customer_key=key)
        if status != 200:
            ctx.response_status = status
        return output

    def delete_object(self, ctx, params):
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        version_id = params.get("VersionId")
        if version_id is None and bucket.versioning is None:
            try:
                self.objects.delete(ctx.account_id, params["Bucket"], params["Key"], params.get("IfMatch"))
                self.notifications.object_removed(ctx, params["Bucket"], params["Key"])
                return {}
            except VersioningChanged:
                pass
        if version_id is not None:
            check_version_id(version_id)
        [result] = self.objects.versioning.delete(bucket.name, [DeleteItem(params["Key"], version_id,
                                                                          params.get("IfMatch"))])
        if isinstance(result, AwsError):
            raise result
        created = version_id is None and result.get("DeleteMarker")
        self.notifications.object_removed(ctx, bucket.name, params["Key"], result.get("VersionId"), bool(created))
        return result

    def delete_objects(self, ctx, params):
        bucket = params["Bucket"]
        found = self.buckets.require(ctx.account_id, bucket)
        request = params.get("Delete") or {}
        items = request.get("Objects") or []
        if not items or len(items) > 1000:
            raise errors.malformed_xml()
        if any(item.get("Key") is None for item in items):
            raise errors.malformed_xml()
        if found.versioning is not None or any(item.get("VersionId") is not None for item in items):
            return self._delete_versions(ctx, bucket, request, items)
        failed, to_delete, if_match = [], [], {}
        for item in items:
            key = item["Key"]
            if len(key.encode("utf-8", "surrogatepass")) > 1024:
                failed.append({"Key": key, "Code": "KeyTooLongError", "Message": "Your key is too long"})
                continue
            to_delete.append(key)
            if item.get("ETag") is not None:  # a conditional delete of this key
                if_match[key] = item["ETag"]
        try:
            refused = self.objects.delete_keys(bucket, to_delete, if_match)
        except VersioningChanged:
            return self._delete_versions(ctx, bucket, request, items)
        deleted = []
        for key in to_delete:
            if key in refused:
                failed.append({"Key": key, "Code": refused[key].code, "Message": refused[key].message})
            else:
                deleted.append({"Key": key})
        for key in to_delete:
            if key not in refused:
                self.notifications.object_removed(ctx, bucket, key)
        return {"Deleted": None if request.get("Quiet") else deleted or None, "Errors": failed or None}

    def _delete_versions(self, ctx, bucket: str, request: dict, items: list[dict]) -> dict:
        """DeleteObjects in a bucket with versioning, or naming versions."""
        failed, todo = [], []
        for item in items:
            key, version_id = item["Key"], item.get("VersionId")
            if len(key.encode("utf-8", "surrogatepass")) > 1024:
                failed.append({"Key": key, "Code": "KeyTooLongError", "Message": "Your key is too long"})
            elif version_id is not None and not valid_version_id(version_id):
                failed.append({"Key": key, "VersionId": version_id, "Code": "NoSuchVersion",
                               "Message": "The specified version does not exist."})
            else:
                todo.append(DeleteItem(key, version_id, item.get("ETag")))
        deleted = []
        for item, result in zip(todo, self.objects.versioning.delete(bucket, todo), strict=True):
            if isinstance(result, AwsError):
                error = {"Key": item.key, "Code": result.code, "Message": result.message}
                if item.version_id is not None:
                    error["VersionId"] = item.version_id
                failed.append(error)
                continue
            entry = {"Key": item.key}
            if item.version_id is not None:
                entry["VersionId"] = item.version_id
            if result.get("DeleteMarker"):
                # A marker made by this delete, or the marker it deleted.
                entry["DeleteMarker"] = True
                entry["DeleteMarkerVersionId"] = result["VersionId"]
            deleted.append(entry)
            created = item.version_id is None and result.get("DeleteMarker")
            self.notifications.object_removed(ctx, bucket, item.key, result.get("VersionId"), bool(created))
        return {"Deleted": None if request.get("Quiet") else deleted or None, "Errors": failed or None}

    def copy_object(self, ctx, params):
        key = self._check_write_options(ctx, params)
        record, source = self.objects.copy(ctx.account_id, params["Bucket"], params["Key"], params,
                                           _customer_key(ctx, params, copy_source=True), key)
        self.notifications.object_created(ctx, record.bucket, record.key, record.size, record.etag, "Copy",
                                          record.version_id)
        result = {"ETag": record.etag, "LastModified": record.modified}
        if record.checksum_value:
            result[checksums.member(record.checksum_algorithm)] = record.checksum_value
            result["ChecksumType"] = record.checksum_type
        out = {"CopyObjectResult": result, **encryption.write_headers(key)}
        if not is_null(source.version_id):
            out["CopySourceVersionId"] = source.version_id
        if not is_null(record.version_id):
            out["VersionId"] = record.version_id
        return out

    def list_objects(self, ctx, params):
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        fetch = listing.sql_fetch(self.store.db.query, bucket.name, listing.CONTENT_COLUMNS)
        return listing.list_v1(fetch, bucket.name, params, owner(bucket.account_id))

    def list_objects_v2(self, ctx, params):
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        fetch = listing.sql_fetch(self.store.db.query, bucket.name, listing.CONTENT_COLUMNS)
        return listing.list_v2(fetch, bucket.name, params, owner(bucket.account_id))

    # -- for other services ------------------------------------------------------------------

    def local_paths(self, account_id: str, bucket: str, prefix: str = "") -> dict[str, str]:
        """{key: the plain file holding its bytes} for the objects under `prefix`, for readers of
        the lake in place (the Glue crawler's footer reads). Callers must authorize
        s3:GetObject on each object they read, for the principal they act as."""
        self.buckets.require(account_id, bucket)
        upper = listing.successor(prefix) if prefix else None
        rows = listing.sql_fetch(self.store.db.query, bucket, "key, path, sse")(
            prefix.encode("utf-8", "surrogatepass"), True, upper, -1)
        home = str(self.store.abspath(""))
        # SSE-C objects are not plain files: only the API (with their key) reads them.
        return {row["key"]: os.path.join(home, row["path"]) for row in rows if row["sse"] is None}

    # -- multipart ---------------------------------------------------------------------------

    def create_multipart_upload(self, ctx, params):
        key = self._check_write_options(ctx, params)
        upload = self.multipart.create(ctx.account_id, ctx.principal, params["Bucket"], params["Key"], params, key)
        out = {"Bucket": upload.bucket, "Key": upload.key, "UploadId": upload.upload_id,
               **encryption.write_headers(key)}
        if upload.checksum_algorithm:
            out["ChecksumAlgorithm"] = upload.checksum_algorithm
            out["ChecksumType"] = upload.checksum_type
        return out

    def upload_part(self, ctx, params):
        incoming = _incoming(ctx, params)
        with _drained_on_error(incoming):
            key = _customer_key(ctx, params)
            return self.multipart.upload_part(ctx.account_id, params["Bucket"], params["Key"], params, incoming,
                                              key)

    def upload_part_copy(self, ctx, params):
        key = _customer_key(ctx, params)
        return self.multipart.upload_part_copy(ctx.account_id, params["Bucket"], params["Key"], params,
                                               _customer_key(ctx, params, copy_source=True), key)

    def complete_multipart_upload(self, ctx, params):
        record = self.multipart.complete(ctx.account_id, params["Bucket"], params["Key"], params,
                                         _customer_key(ctx, params))
        self.notifications.object_created(ctx, record.bucket, record.key, record.size, record.etag,
                                          "CompleteMultipartUpload", record.version_id)
        out = {"Location": _location(ctx, record.bucket, record.key), "Bucket": record.bucket, "Key": record.key,
               "ETag": record.etag}
        if record.sse is None:  # an SSE-C object's answer names no encryption (the output has no member for it)
            out["ServerSideEncryption"] = "AES256"
        if not is_null(record.version_id):
            out["VersionId"] = record.version_id
        if record.checksum_value:
            out[checksums.member(record.checksum_algorithm)] = record.checksum_value
            out["ChecksumType"] = record.checksum_type
        return out

    def abort_multipart_upload(self, ctx, params):
        self.multipart.abort(ctx.account_id, params["Bucket"], params["Key"], params["UploadId"])
        return {}

    def list_parts(self, ctx, params):
        return self.multipart.list_parts(ctx.account_id, params["Bucket"], params["Key"], params)

    def list_multipart_uploads(self, ctx, params):
        return self.multipart.list_uploads(ctx.account_id, params["Bucket"], params)

    # -- encryption (SSE-C, default bucket encryption), object tagging, GetObjectAttributes ----

    ACTIONS = ACTIONS | {
        "PutBucketEncryption": Action("s3:PutEncryptionConfiguration", BUCKET),
        "GetBucketEncryption": Action("s3:GetEncryptionConfiguration", BUCKET),
        "DeleteBucketEncryption": Action("s3:PutEncryptionConfiguration", BUCKET),  # no action of its own
        "PutObjectTagging": Action("s3:PutObjectTagging", OBJECT),
        "GetObjectTagging": Action("s3:GetObjectTagging", OBJECT),
        "DeleteObjectTagging": Action("s3:DeleteObjectTagging", OBJECT),
        "GetObjectAttributes": Action("s3:GetObjectAttributes", OBJECT),
    }

    def _check_write_options(self, ctx, params) -> encryption.CustomerKey | None:
        """What a write may ask for that lakestack refuses (ACLs, Object Lock, SSE-KMS, SSE-C where the
        bucket blocks it); the SSE-C key it encrypts with."""
        key = encryption.check_write(params, _secure(ctx))
        _customer_key(ctx, params, copy_source=True)  # a copy source's key is checked before anything is read
        acls.check_object_acl(params)
        check_object_lock(params)
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
        key = _customer_key(ctx, params)
        record, _ = self.objects.open(ctx.account_id, params["Bucket"], params["Key"], with_file=False,
                                      version_id=params.get("VersionId"))
        if record.sse is not None:
            encryption.unseal(record.sse, key)
        else:
            encryption.check_plain(key)
        return attributes.describe(record, params)


def _secure(ctx) -> bool:
    # A call from another service (no HTTP request) never crossed a network.
    return ctx.http is None or ctx.http.secure


def _customer_key(ctx, params, copy_source: bool = False) -> encryption.CustomerKey | None:
    """The request's SSE-C key (or its copy source's), checked."""
    return encryption.customer_key(params, _secure(ctx), copy_source)


def _read_key(ctx, params) -> encryption.CustomerKey | None:
    """GetObject/HeadObject: the SSE-C key; x-amz-server-side-encryption is for writes only (400)."""
    if ctx.http is not None and ctx.http.headers.get("x-amz-server-side-encryption") is not None:
        raise errors.invalid_argument("x-amz-server-side-encryption header is not supported for this operation.",
                                      "x-amz-server-side-encryption", ctx.http.headers["x-amz-server-side-encryption"])
    return _customer_key(ctx, params)


def _incoming(ctx, params) -> Incoming:
    """The body and what the headers promise about it."""
    body = params.get("Body")
    if isinstance(body, str):
        body = body.encode()
    if isinstance(body, bytes | bytearray):  # a cross-service call passes bytes
        body = BytesBody(bytes(body))
    headers = ctx.http.headers if ctx.http is not None else {}
    decoded = headers.get("x-amz-decoded-content-length")
    if decoded is not None and decoded.isdigit():
        expected = int(decoded)
    elif "aws-chunked" in headers.get("content-encoding", ""):
        expected = None  # Content-Length counts the chunk framing
    else:
        expected = params.get("ContentLength")
    trailer_names = [t.strip() for t in headers.get("x-amz-trailer", "").split(",") if t.strip()]
    return Incoming(body, expected, trailer_names, ctx.extra.get("trailers") or {})


@contextmanager
def _drained_on_error(incoming: Incoming):
    """An error found before the body was read (bad Content-MD5, missing bucket) must still
    consume a small body, or its bytes would be parsed as the connection's next request."""
    try:
        yield
    except AwsError:
        reader = incoming.reader
        if reader is not None and (incoming.expected_size or 0) <= DRAIN_LIMIT:
            try:
                drained = 0
                while drained <= DRAIN_LIMIT and (chunk := reader.read(1 << 16)):
                    drained += len(chunk)
            except Exception:  # the client went away; nothing left to protect
                pass
        raise


def _location(ctx, bucket: str, key: str) -> str:
    host = ctx.http.headers.get("host", "") if ctx.http is not None else ""
    base = f"http://{host}" if host else ctx.stack.settings.endpoint_url
    return f"{base}/{bucket}/{quote(key)}"
