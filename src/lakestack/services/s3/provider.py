"""S3's operations: thin glue from typed params to buckets/objects/multipart/listing.

The lake's store: objects are plain files under `<home>/s3/<bucket>/<key>` (keys.py),
indexed in `<state>/s3.db`, written durably (store.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from contextlib import contextmanager
from urllib.parse import quote

from lakestack.aws.errors import AwsError
from lakestack.aws.gateway import condition_context
from lakestack.aws.request import BytesBody
from lakestack.services.base import Action, Provider
from lakestack.services.s3 import (
    acls,
    attributes,
    checksums,
    encryption,
    errors,
    lifecycle,
    listing,
    object_lock,
    object_ownership,
    public_access_block,
    required_checksums,
    spool,
    tagging,
    torrent,
)
from lakestack.services.s3 import post_object as browser_uploads
from lakestack.services.s3.bucket_encryption import BucketEncryption, check_config
from lakestack.services.s3.bucket_policy import BucketPolicies
from lakestack.services.s3.buckets import Buckets, canonical_user_id, owner
from lakestack.services.s3.cors import CorsConfigurations
from lakestack.services.s3.multipart import Multipart
from lakestack.services.s3.notifications import Notifications
from lakestack.services.s3.object_ownership import OwnershipControls
from lakestack.services.s3.objects import (
    Objects,
    VersioningChanged,
    now,
    parse_copy_source,
    valid_version_id,
)
from lakestack.services.s3.public_access_block import PublicAccessBlocks
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
        self.cors = CorsConfigurations(self.store.db)
        # IAM's authorizer is made after the providers: looked up when a request needs it.
        self.bucket_policies = BucketPolicies(self.store.db, self.buckets.get, lambda principal, context: (
            stack.authorizer.request_context(principal, context)))
        self.ownership = OwnershipControls(self.store)
        self.public_access_blocks = PublicAccessBlocks(self.store)
        self.bucket_policies.public_access_block = self._policy_blocks
        self.acls = acls.AclStore(self.store)
        self.acl_resolver = acls.Resolver(self._known_canonical_ids)
        self.lifecycle = lifecycle.Lifecycle(self.store, self.buckets, self.objects, self.multipart, settings)
        self.bucket_encryption = BucketEncryption(self.store, settings.s3_bucket_defaults == "2023")
        self.tagging = tagging.ObjectTagging(self.objects)
        self.bucket_policies.object_tags = self.tagging.tags  # s3:ExistingObjectTag
        self.lifecycle.tags_of = self.tagging.tags  # rules filtered by tags

    def stop(self) -> None:
        self.lifecycle.stop()
        self.store.close()

    def authorization(self, ctx, params):
        ctx.extra["s3_params"] = params  # for resource_decision (an object's ACL names its version)
        if ctx.principal is None and ctx.operation != "CreateBucket":
            # An anonymous caller learns that a bucket does not exist (404) before it is denied.
            bucket = params.get("Bucket")
            if bucket and self.buckets.get(bucket) is None:
                raise errors.no_such_bucket(bucket)
        self._check_expected_owners(params)
        checks = super().authorization(ctx, params)
        ctx.extra["params"] = params  # a bucket policy's conditions may test them (resource_decision)
        if ctx.operation in _ACL_WRITES and acls.requested(params):
            # "To use ACL-specific headers, you must have the s3:PutObjectAcl permission."
            # https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html
            checks.append(("s3:PutObjectAcl", checks[0][1]))
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
        ownership, acl, block = self._new_bucket_access(ctx, params)
        constraint = (params.get("CreateBucketConfiguration") or {}).get("LocationConstraint")
        created = []

        def access_rows(db):
            self._write_bucket_access(db, params["Bucket"], ownership, acl, block)
            created.append(True)

        bucket = self.buckets.create(ctx.account_id, ctx.region, params["Bucket"], constraint,
                                     object_lock=bool(params.get("ObjectLockEnabledForBucket")),
                                     in_transaction=access_rows)
        if created:
            self.bucket_encryption.reset(bucket.name)
        else:
            # Re-created in us-east-1 by its owner: 200, and "resets the bucket access control lists".
            # https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html
            self._check_block_public_acls(bucket.name, acl)
            self.acls.set_bucket(bucket.name, acl if self.ownership.acls_enabled(bucket.name) else None)
        return {"Location": f"/{bucket.name}", "BucketArn": bucket.arn}

    def delete_bucket(self, ctx, params):
        self.buckets.delete(ctx.account_id, params["Bucket"], lambda db: self._forget_bucket_access(db, params["Bucket"]))
        self.notifications.forget(params["Bucket"])
        self.cors.delete(params["Bucket"])
        self.bucket_policies.forget(params["Bucket"])
        self._bucket_access_forgotten(params["Bucket"])
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
        return (ctx.operation == "PutObject" and http is not None and not http.body.unread
                and (params.get("ContentLength") or 0) <= spool.SMALL_FILE
                and not self.notifications.has_targets(params["Bucket"]))

    def put_object(self, ctx, params):
        incoming = _incoming(ctx, params)
        with _drained_on_error(incoming):
            key = self._check_write_options(ctx, params)
            acl = self._acl_of_write(ctx, params)
            after_rows = self._lock_for_write(ctx, params, integrity=True)
            record = self.objects.put(ctx.account_id, params["Bucket"], params["Key"], params, incoming, after_rows,
                                      customer_key=key)
        if acl is not None:
            self.acls.set_object(record, acl)
        # A browser upload (post_object below) is the event S3 names ObjectCreated:Post.
        event = "Post" if ctx.operation == "PostObject" else "Put"
        self.notifications.object_created(ctx, record.bucket, record.key, record.size, record.etag, event,
                                          record.version_id)
        out = {"ETag": record.etag, **encryption.write_headers(key)}
        self._add_expiration(out, record)
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
        self._add_bucket_rules(params, output, status)
        return output

    def head_object(self, ctx, params):
        key = _read_key(ctx, params)
        output, status = self.objects.read(ctx.account_id, params["Bucket"], params["Key"], params, head=True,
                                           customer_key=key)
        if status != 200:
            ctx.response_status = status
        self._add_bucket_rules(params, output, status)
        return output

    def delete_object(self, ctx, params):
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        version_id = params.get("VersionId")
        if version_id is None and bucket.versioning is None:
            try:
                self.objects.delete(ctx.account_id, params["Bucket"], params["Key"], params.get("IfMatch"))
                self.notifications.object_removed(ctx, params["Bucket"], params["Key"])
                self.acls.forget_deleted(params["Bucket"], [params["Key"]])
                return {}
            except VersioningChanged:
                pass
        if version_id is not None:
            check_version_id(version_id)
        bypass = self._bypass_governance(ctx, params, _object_arn(bucket.name, params["Key"]))
        [result] = self.objects.versioning.delete(bucket.name, [DeleteItem(params["Key"], version_id,
                                                                          params.get("IfMatch"), bypass)])
        if isinstance(result, AwsError):
            raise result
        created = version_id is None and result.get("DeleteMarker")
        self.notifications.object_removed(ctx, bucket.name, params["Key"], result.get("VersionId"), bool(created))
        self.acls.forget_deleted(bucket.name, [params["Key"]])
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
        # Object Lock's bypass, for every version named (checked once, on the bucket's objects).
        bypass = self._bypass_governance(ctx, params, f"arn:aws:s3:::{bucket}/*")
        if found.versioning is not None or any(item.get("VersionId") is not None for item in items):
            return self._delete_versions(ctx, bucket, request, items, bypass)
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
            return self._delete_versions(ctx, bucket, request, items, bypass)
        deleted = []
        for key in to_delete:
            if key in refused:
                failed.append({"Key": key, "Code": refused[key].code, "Message": refused[key].message})
            else:
                deleted.append({"Key": key})
        for key in to_delete:
            if key not in refused:
                self.notifications.object_removed(ctx, bucket, key)
        self.acls.forget_deleted(bucket, to_delete)
        return {"Deleted": None if request.get("Quiet") else deleted or None, "Errors": failed or None}

    def _delete_versions(self, ctx, bucket: str, request: dict, items: list[dict], bypass: bool = False) -> dict:
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
                todo.append(DeleteItem(key, version_id, item.get("ETag"), bypass))
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
        self.acls.forget_deleted(bucket, [item.key for item in todo])
        return {"Deleted": None if request.get("Quiet") else deleted or None, "Errors": failed or None}

    def copy_object(self, ctx, params):
        key = self._check_write_options(ctx, params)
        acl = self._acl_of_write(ctx, params)  # the copy's own, never the source's
        after_rows = self._lock_for_write(ctx, params)
        record, source = self.objects.copy(ctx.account_id, params["Bucket"], params["Key"], params, after_rows,
                                           source_key=_customer_key(ctx, params, copy_source=True), customer_key=key)
        if acl is not None:
            self.acls.set_object(record, acl)
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
        self._add_expiration(out, record)
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
        acl = self._acl_of_write(ctx, params)
        hold = object_lock.requested(self.buckets.require(ctx.account_id, params["Bucket"]), params)
        self._check_lock_permissions(ctx, params, hold)
        upload = self.multipart.create(ctx.account_id, ctx.principal, params["Bucket"], params["Key"], params,
                                       None if hold is None else dataclasses.asdict(hold), customer_key=key,
                                       owner_account=self._writer_account(ctx, params))
        if acl is not None:
            self.acls.set_upload(upload.upload_id, acl)  # applied at CompleteMultipartUpload
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
        record = self.multipart.complete(ctx.account_id, params["Bucket"], params["Key"], params, self._upload_lock_rows,
                                         customer_key=_customer_key(ctx, params))
        self._apply_upload_acl(params.get("UploadId"), record)
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
        self._apply_upload_acl(params["UploadId"], None)
        return {}

    def list_parts(self, ctx, params):
        return self.multipart.list_parts(ctx.account_id, params["Bucket"], params["Key"], params)

    def list_multipart_uploads(self, ctx, params):
        return self.multipart.list_uploads(ctx.account_id, params["Bucket"], params)

    # -- browser uploads (POST Object) and CORS ---------------------------------------------
    # The gateway recognises POST Object and preflights (botocore's model has neither) and calls
    # read_post_form / post_object and cors_preflight; cors_response_headers is asked for every S3
    # answer to a request with an Origin header.

    ACTIONS = {
        **ACTIONS,
        "PostObject": Action("s3:PutObject", OBJECT),
        "PutBucketCors": Action("s3:PutBucketCORS", BUCKET),
        "GetBucketCors": Action("s3:GetBucketCORS", BUCKET),
        "DeleteBucketCors": Action("s3:PutBucketCORS", BUCKET),  # AWS has no DeleteBucketCORS action
    }

    def read_post_form(self, ctx, bucket: str) -> browser_uploads.PostForm:
        """The upload form's fields up to its file, authenticated: the caller is who signed it."""
        form = browser_uploads.read_form(ctx.http, bucket, ctx.stack.credentials.lookup, dt.datetime.now(dt.UTC))
        ctx.principal = form.principal
        ctx.region = form.region or ctx.region
        return form

    def post_object(self, ctx, form: browser_uploads.PostForm) -> tuple[int, dict[str, str], bytes]:
        """POST Object: the form's file stored exactly as PutObject stores a body."""
        if self.buckets.get(form.bucket) is None:
            raise errors.no_such_bucket(form.bucket)
        params = browser_uploads.put_params(form)
        params["Body"] = browser_uploads.SizedFile(form.file, form.length_range)
        output = self.put_object(ctx, params)
        form.drain()
        return browser_uploads.answer(form, output, _location(ctx, form.bucket, form.key))

    def put_bucket_cors(self, ctx, params):
        self.buckets.require(ctx.account_id, params["Bucket"])
        self.cors.put(params["Bucket"], params.get("CORSConfiguration") or {})
        return {}

    def get_bucket_cors(self, ctx, params):
        self.buckets.require(ctx.account_id, params["Bucket"])
        return {"CORSRules": self.cors.get(params["Bucket"])}

    def delete_bucket_cors(self, ctx, params):
        self.buckets.require(ctx.account_id, params["Bucket"])
        self.cors.delete(params["Bucket"])
        return {}

    def cors_preflight(self, bucket: str, key: str | None, headers: dict[str, str]) -> dict[str, str]:
        """An OPTIONS preflight's answer headers (it is not authenticated)."""
        if self.buckets.get(bucket) is None:
            raise errors.no_such_bucket(bucket)
        return self.cors.preflight(bucket, key, headers.get("origin"), headers.get("access-control-request-method"),
                                   headers.get("access-control-request-headers"))

    def cors_response_headers(self, bucket: str, http) -> dict[str, str]:
        """The Access-Control-* headers of an answer to a request with an Origin header."""
        if not self.cors.configured(bucket):
            return {}
        # A request that names the method it stands for (Access-Control-Request-Method) is
        # judged by that method, as s3-tests' test_cors_origin_response expects.
        method = http.headers.get("access-control-request-method") or http.method
        return self.cors.response_headers(bucket, http.headers["origin"], method)
    # -- bucket policies ---------------------------------------------------------------------

    ACTIONS.update({
        "PutBucketPolicy": Action("s3:PutBucketPolicy", BUCKET),
        "GetBucketPolicy": Action("s3:GetBucketPolicy", BUCKET),
        "DeleteBucketPolicy": Action("s3:DeleteBucketPolicy", BUCKET),
        "GetBucketPolicyStatus": Action("s3:GetBucketPolicyStatus", BUCKET),
    })
    has_resource_policies = True

    def resource_decision(self, ctx, action, resource, identity, context):
        """Identity policies, the bucket policy, then ACLs: an explicit Deny anywhere wins, and
        a caller its own policies do not allow may be let in by the bucket policy or an ACL
        (https://docs.aws.amazon.com/AmazonS3/latest/userguide/how-s3-evaluates-access-control.html)."""
        decision = self.bucket_policies.decide(ctx, action, resource, identity, context, ctx.extra.get("params") or {})
        if decision != "ImplicitDeny":
            return decision
        decision = self._acl_decision(ctx, action, resource, identity)
        name = resource[len("arn:aws:s3:::"):].partition("/")[0]
        if decision == "Allow" and (ctx.extra.get("params") or {}).get("Bucket") == name:
            bucket = self.buckets.get(name)
            if bucket is not None and (ctx.principal is None or ctx.principal.account_id != bucket.account_id):
                ctx.acting_account_id = bucket.account_id  # let in by an ACL: acts on the owner's bucket
        return decision

    def put_bucket_policy(self, ctx, params):
        """https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html
        ConfirmRemoveSelfBucketAccess is accepted; the owner's root keeps its access to the
        policy either way (resource_decision)."""
        bucket = self._policy_bucket(ctx, params, "PUT")
        self.bucket_policies.put(bucket, params.get("Policy") or "")
        ctx.response_status = 204  # S3 answers 204 No Content, which the model does not say
        return {}

    def get_bucket_policy(self, ctx, params):
        bucket = self._policy_bucket(ctx, params, "GET")
        return {"Policy": self.bucket_policies.get(bucket.name)}

    def delete_bucket_policy(self, ctx, params):
        bucket = self._policy_bucket(ctx, params, "DELETE")
        self.bucket_policies.delete(bucket.name)
        return {}

    def _policy_bucket(self, ctx, params, method: str):
        """Only the owner's account may touch a bucket's policy: another account is 405 even
        when the policy grants it the action (API_PutBucketPolicy.html)."""
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        if ctx.principal is None or ctx.principal.account_id != bucket.account_id:
            raise errors.method_not_allowed(method)
        return bucket

    def get_bucket_policy_status(self, ctx, params):
        """https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketPolicyStatus.html
        IsPublic says whether the bucket *policy* is public (bucket_policy.is_public); ACLs do
        not count, and a bucket without a policy is 404 NoSuchBucketPolicy, as on S3."""
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        return {"PolicyStatus": {"IsPublic": self.bucket_policies.is_public(bucket.name)}}


    # -- ACLs, Object Ownership, Block Public Access ------------------------------------------
    # acls.py, object_ownership.py, public_access_block.py hold the rules; these glue them to
    # requests.

    ACTIONS = {
        **ACTIONS,
        "GetBucketAcl": Action("s3:GetBucketAcl", BUCKET),
        "PutBucketAcl": Action("s3:PutBucketAcl", BUCKET),
        "GetObjectAcl": Action("s3:GetObjectAcl", OBJECT),
        "PutObjectAcl": Action("s3:PutObjectAcl", OBJECT),
        "GetBucketOwnershipControls": Action("s3:GetBucketOwnershipControls", BUCKET),
        "PutBucketOwnershipControls": Action("s3:PutBucketOwnershipControls", BUCKET),
        "DeleteBucketOwnershipControls": Action("s3:PutBucketOwnershipControls", BUCKET),
        "GetPublicAccessBlock": Action("s3:GetBucketPublicAccessBlock", BUCKET),
        "PutPublicAccessBlock": Action("s3:PutBucketPublicAccessBlock", BUCKET),
        "DeletePublicAccessBlock": Action("s3:PutBucketPublicAccessBlock", BUCKET),
    }
    # Buckets and objects have ACLs (and bucket policies): every check, the root's and
    # anonymous callers' too, comes to resource_decision.
    def _policy_blocks(self, bucket: str) -> tuple[bool, bool]:
        config = self.public_access_blocks.config(bucket)
        return config["BlockPublicPolicy"], config["RestrictPublicBuckets"]

    def get_bucket_acl(self, ctx, params):
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        acl = self.acls.bucket(bucket.name) if self.ownership.acls_enabled(bucket.name) else None
        return acls.describe(acl or acls.default_acl(canonical_user_id(bucket.account_id)), self._display_names())

    def put_bucket_acl(self, ctx, params):
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        if not self.ownership.acls_enabled(bucket.name):
            raise object_ownership.acl_not_supported()
        owner_id = canonical_user_id(bucket.account_id)
        acl = acls.from_put_acl(params, owner_id, owner_id, self.acl_resolver, for_bucket=True)
        self._check_block_public_acls(bucket.name, acl)
        self.acls.set_bucket(bucket.name, None if acl == acls.default_acl(owner_id) else acl)
        return {}

    def get_object_acl(self, ctx, params):
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        record, _ = self.objects.open(ctx.account_id, bucket.name, params["Key"], with_file=False,
                                      version_id=params.get("VersionId"))
        acl = self.acls.object(record) if self.ownership.acls_enabled(bucket.name) else None
        return acls.describe(acl or acls.default_acl(canonical_user_id(bucket.account_id)), self._display_names())

    def put_object_acl(self, ctx, params):
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        if not self.ownership.acls_enabled(bucket.name):
            raise object_ownership.acl_not_supported()
        record, _ = self.objects.open(ctx.account_id, bucket.name, params["Key"], with_file=False,
                                      version_id=params.get("VersionId"))
        bucket_owner = canonical_user_id(bucket.account_id)
        owner_id = (self.acls.object(record) or {}).get("Owner", bucket_owner)
        acl = acls.from_put_acl(params, owner_id, bucket_owner, self.acl_resolver, for_bucket=False)
        self._check_block_public_acls(bucket.name, acl)
        self.acls.set_object(record, None if acl == acls.default_acl(bucket_owner) else acl)
        return {}

    def get_bucket_ownership_controls(self, ctx, params):
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        setting = self.ownership.configured(bucket.name)
        if setting is None:
            raise object_ownership.not_found()
        return {"OwnershipControls": {"Rules": [{"ObjectOwnership": setting}]}}

    def put_bucket_ownership_controls(self, ctx, params):
        """https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketOwnershipControls.html"""
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        setting = object_ownership.parse_controls(params.get("OwnershipControls"))
        if setting == object_ownership.ENFORCED and not acls.only_owner_full_control(
                self.acls.bucket(bucket.name), canonical_user_id(bucket.account_id)):
            # The bucket's ACL must grant only its owner before ACLs can be disabled.
            raise object_ownership.invalid_bucket_acl()
        self.ownership.set(bucket.name, setting)
        return {}

    def delete_bucket_ownership_controls(self, ctx, params):
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        self.ownership.set(bucket.name, None)
        return {}

    def get_public_access_block(self, ctx, params):
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        flags = self.public_access_blocks.get(bucket.name)
        if flags is None:
            raise public_access_block.not_found(bucket.name)
        return {"PublicAccessBlockConfiguration": flags}

    def put_public_access_block(self, ctx, params):
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        flags = public_access_block.parse(params.get("PublicAccessBlockConfiguration"))
        self.public_access_blocks.set(bucket.name, flags)
        return {}

    def delete_public_access_block(self, ctx, params):
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        self.public_access_blocks.set(bucket.name, None)
        return {}

    def _acl_decision(self, ctx, action: str, resource: str, identity: str) -> str:
        """ACLs' part of resource_decision (acls.acl_decision): the identity-based decision
        with the bucket's and object's ACLs counted. For the root and callers their own
        account's policies allow, on a bucket of that account, it costs a dict lookup. A caller
        of another account gets "ImplicitDeny" unless an ACL grants it the action."""
        if identity == "Deny" or action == "s3:CreateBucket" or not resource.startswith("arn:aws:s3:::"):
            return identity  # (CreateBucket names a bucket, it does not act on one)
        name, _, key = resource[13:].partition("/")
        bucket = self.buckets.get(name)
        if bucket is None:
            return identity
        principal = ctx.principal
        other = None
        if principal is not None and principal.account_id != bucket.account_id:
            other = canonical_user_id(principal.account_id)
        elif identity == "Allow":
            return identity
        if not self.ownership.acls_enabled(name):
            return "ImplicitDeny"
        if action == "s3:PutObjectAcl" and ctx.operation in _ACL_WRITES:
            # A write's own ACL headers: whom the bucket lets write writes an object it owns.
            action = "s3:PutObject"
        object_acl = None
        if key and action in acls.OBJECT_PERMISSIONS:
            def object_acl():
                return self._effective_object_acl(ctx, bucket, key, resource)
        ignore_public = self.public_access_blocks.config(name)["IgnorePublicAcls"]
        return acls.acl_decision(action, identity, self.acls.bucket(name), object_acl, principal is None, other,
                                 ignore_public)

    def _effective_object_acl(self, ctx, bucket, key: str, resource: str) -> dict | None:
        """The ACL of the object (version) a check names, its default if it has none; None when
        there is no such object."""
        params = ctx.extra.get("s3_params") or {}
        version_id = params.get("VersionId")
        if params.get("Key") != key or params.get("Bucket") != bucket.name:  # a copy's source
            try:
                version_id = parse_copy_source(params.get("CopySource") or "")[2]
            except AwsError:
                version_id = None
        try:
            record, _ = self.objects.open(bucket.account_id, bucket.name, key, with_file=False,
                                          version_id=version_id)
        except AwsError:
            return None
        return self.acls.object(record) or acls.default_acl(canonical_user_id(bucket.account_id))

    def _new_bucket_access(self, ctx, params) -> tuple[str | None, dict | None, dict | None]:
        """CreateBucket: the new bucket's (ownership setting, ACL, Block Public Access), from the
        request and settings.s3_bucket_defaults; refused as S3 refuses them."""
        legacy = self.stack.settings.s3_bucket_defaults == "legacy"
        requested = params.get("ObjectOwnership")
        if requested is not None:
            object_ownership.check_setting(requested)
        ownership = requested or (None if legacy else object_ownership.ENFORCED)
        owner_id = canonical_user_id(ctx.account_id)
        acl = acls.from_request(params, owner_id, owner_id, self.acl_resolver, for_bucket=True)
        if ownership == object_ownership.ENFORCED and not acls.only_owner_full_control(acl, owner_id):
            raise object_ownership.invalid_bucket_acl()
        block = None if legacy else dict(public_access_block.ALL_ON)
        if block is not None and acls.is_public(acl):
            # https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html (ACL)
            raise AwsError("InvalidBucketAclWithBlockPublicAccessError",
                           "Bucket cannot have public ACLs set with BlockPublicAccess enabled", 400)
        if acl == acls.default_acl(owner_id) or ownership == object_ownership.ENFORCED:
            acl = None
        return ownership, acl, block

    def _write_bucket_access(self, db, name: str, ownership, acl, block) -> None:
        """A new bucket's rows, in its CreateBucket transaction (and what an earlier bucket of
        the name left, gone). The caches change here too: no request sees the bucket before
        Buckets.create has committed it, and a failed commit leaves entries for no bucket."""
        self.acls.forget_bucket(db, name)
        self.ownership.write(db, name, ownership)
        self.acls.write_bucket(db, name, acl)
        self.public_access_blocks.write(db, name, block)
        self.acls.forgotten(name)
        self.ownership.commit(name, ownership)
        self.acls.commit_bucket(name, acl)
        self.public_access_blocks.commit(name, block)

    def _forget_bucket_access(self, db, name: str) -> None:
        """In DeleteBucket's transaction: its ownership, ACLs and Block Public Access go too."""
        self.acls.forget_bucket(db, name)
        self.ownership.forget(db, name)
        self.public_access_blocks.write(db, name, None)

    def _bucket_access_forgotten(self, name: str) -> None:
        """After DeleteBucket: its cached configuration goes, unless a bucket of the same name
        was created since (CreateBucket caches under the same layout lock)."""
        with self.store.layout_lock(name):
            if self.buckets.get(name) is None:
                self.ownership.forgotten(name)
                self.acls.forgotten(name)
                self.public_access_blocks.commit(name, None)

    def _acl_of_write(self, ctx, params) -> dict | None:
        """The ACL a PutObject / CopyObject / CreateMultipartUpload states for its object, to
        store with it; None for the default. Refuses what the bucket's Object Ownership and
        Block Public Access refuse."""
        if not acls.requested(params):
            writer = self._writer_account(ctx, params)
            # The owner's account writes: the default ACL, no row. Another account owns what it
            # writes (its default ACL: FULL_CONTROL to itself).
            return None if writer is None else acls.default_acl(canonical_user_id(writer))
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        bucket_owner = canonical_user_id(bucket.account_id)
        # An anonymous writer's objects are the bucket owner's here.
        writer = canonical_user_id(ctx.principal.account_id) if ctx.principal is not None else bucket_owner
        ownership = self.ownership.effective(bucket.name)
        if ownership == object_ownership.ENFORCED:
            # Accepted: no ACL, or one that leaves only the bucket owner in full control.
            if params.get("ACL") == "bucket-owner-full-control":
                return None
            acl = acls.from_request(params, writer, bucket_owner, self.acl_resolver, for_bucket=False)
            if not acls.only_owner_full_control(acl, bucket_owner):
                raise object_ownership.acl_not_supported()
            return None
        owner_id = writer
        if ownership == object_ownership.PREFERRED and params.get("ACL") == "bucket-owner-full-control":
            owner_id = bucket_owner
        acl = acls.from_request(params, owner_id, bucket_owner, self.acl_resolver, for_bucket=False)
        self._check_block_public_acls(bucket.name, acl)
        return None if acl == acls.default_acl(bucket_owner) else acl

    def _writer_account(self, ctx, params) -> str | None:
        """The account of a caller of another account that a bucket policy or an ACL let write,
        when it owns what it writes (ObjectWriter, or BucketOwnerPreferred without the
        bucket-owner-full-control ACL); None when the bucket owner owns it.
        https://docs.aws.amazon.com/AmazonS3/latest/userguide/about-object-ownership.html"""
        principal = ctx.principal
        if principal is None or ctx.acting_account_id in (None, principal.account_id):
            return None
        ownership = self.ownership.effective(params["Bucket"])
        if ownership == object_ownership.ENFORCED or (
                ownership == object_ownership.PREFERRED and params.get("ACL") == "bucket-owner-full-control"):
            return None
        return principal.account_id

    def _apply_upload_acl(self, upload_id: str | None, record) -> None:
        """The ACL CreateMultipartUpload stated goes to the object its completion made (record),
        or with the aborted upload (None)."""
        acl = self.acls.upload(upload_id or "")
        if acl is None:
            return
        if record is not None:
            self.acls.set_object(record, acl)
        self.acls.forget_upload(upload_id)

    def _check_block_public_acls(self, bucket: str, acl: dict | None) -> None:
        if acls.is_public(acl) and self.public_access_blocks.config(bucket)["BlockPublicAcls"]:
            raise errors.access_denied()

    def _accounts(self) -> set[str]:
        """The accounts S3 knows of: IAM's (every account there is) and every bucket owner."""
        return self.stack.provider("iam").store.account_ids() | self.buckets.accounts()

    def _known_canonical_ids(self) -> set[str]:
        return {canonical_user_id(account) for account in self._accounts()}

    def _display_names(self) -> dict[str, str]:
        return {canonical_user_id(account): account for account in self._accounts()}


    # -- Object Lock and lifecycle -----------------------------------------------------------

    ACTIONS = {
        **ACTIONS,
        "PutObjectLockConfiguration": Action("s3:PutBucketObjectLockConfiguration", BUCKET),
        "GetObjectLockConfiguration": Action("s3:GetBucketObjectLockConfiguration", BUCKET),
        "PutObjectRetention": Action("s3:PutObjectRetention", OBJECT),
        "GetObjectRetention": Action("s3:GetObjectRetention", OBJECT),
        "PutObjectLegalHold": Action("s3:PutObjectLegalHold", OBJECT),
        "GetObjectLegalHold": Action("s3:GetObjectLegalHold", OBJECT),
        "PutBucketLifecycleConfiguration": Action("s3:PutLifecycleConfiguration", BUCKET),
        "GetBucketLifecycleConfiguration": Action("s3:GetLifecycleConfiguration", BUCKET),
        "DeleteBucketLifecycle": Action("s3:PutLifecycleConfiguration", BUCKET),  # no action of its own
    }

    def start(self) -> None:
        self.lifecycle.start()

    def put_object_lock_configuration(self, ctx, params):
        required_checksums.check(ctx)
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        config = object_lock.check_configuration(params.get("ObjectLockConfiguration") or {})
        self.buckets.set_object_lock(bucket.name, config)
        return {}

    def get_object_lock_configuration(self, ctx, params):
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        return {"ObjectLockConfiguration": object_lock.describe_configuration(bucket)}

    def put_object_retention(self, ctx, params):
        required_checksums.check(ctx)
        bucket, key, version_id = self._locked_version(ctx, params)
        bypass = self._bypass_governance(ctx, params, _object_arn(bucket, key))
        self.objects.object_lock.put_retention(bucket, key, version_id, params.get("Retention"), bypass)
        return {}

    def get_object_retention(self, ctx, params):
        bucket, key, version_id = self._locked_version(ctx, params)
        hold = self.objects.object_lock.get(bucket, key, version_id)
        if hold is None or hold.mode is None:
            raise errors.no_such_object_lock_configuration()
        return {"Retention": {"Mode": hold.mode, "RetainUntilDate": hold.headers()["ObjectLockRetainUntilDate"]}}

    def put_object_legal_hold(self, ctx, params):
        required_checksums.check(ctx)
        bucket, key, version_id = self._locked_version(ctx, params)
        self.objects.object_lock.put_legal_hold(bucket, key, version_id, params.get("LegalHold"))
        return {}

    def get_object_legal_hold(self, ctx, params):
        bucket, key, version_id = self._locked_version(ctx, params)
        hold = self.objects.object_lock.get(bucket, key, version_id)
        if hold is None:
            raise errors.no_such_object_lock_configuration()
        return {"LegalHold": {"Status": "ON" if hold.legal_hold else "OFF"}}

    def put_bucket_lifecycle_configuration(self, ctx, params):
        required_checksums.check(ctx)
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        config = lifecycle.check_configuration(params.get("LifecycleConfiguration"),
                                               params.get("TransitionDefaultMinimumObjectSize"))
        self.buckets.set_lifecycle(bucket.name, config)
        self.lifecycle.changed()
        return {"TransitionDefaultMinimumObjectSize": config["TransitionDefaultMinimumObjectSize"]}

    def get_bucket_lifecycle_configuration(self, ctx, params):
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        return lifecycle.describe_configuration(bucket)

    def delete_bucket_lifecycle(self, ctx, params):
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        self.buckets.set_lifecycle(bucket.name, None)
        return {}

    def _locked_version(self, ctx, params) -> tuple[str, str, str | None]:
        """(bucket, key, version id) of a retention / legal hold call: the version must exist, in a
        bucket with Object Lock."""
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        object_lock.ObjectLock.require_enabled(bucket)
        record, _ = self.objects.open(ctx.account_id, bucket.name, params["Key"], with_file=False,
                                      version_id=params.get("VersionId"))
        return bucket.name, params["Key"], record.version_id

    def _bypass_governance(self, ctx, params, resource: str) -> bool:
        """x-amz-bypass-governance-retention, honoured for a caller allowed s3:BypassGovernanceRetention.
        https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html#object-lock-managing-bypass"""
        return bool(params.get("BypassGovernanceRetention")) and self._allowed(ctx, "s3:BypassGovernanceRetention",
                                                                               resource)

    def _allowed(self, ctx, action: str, resource: str) -> bool:
        """One more IAM check inside an operation, for what only some requests ask for."""
        principal = ctx.principal
        if principal is None:
            return ctx.http is None  # another service's call was authorized as its caller
        context = condition_context(ctx)
        if principal.is_root and not principal.session_token:
            identity = "Allow"
        else:
            identity = self.stack.authorizer.decide(principal, action, resource, context)
        return self.resource_decision(ctx, action, resource, identity, context) == "Allow"

    def _lock_for_write(self, ctx, params, integrity: bool = False):
        """The Object Lock rows a new version is written with (Objects.commit's `after_rows`)."""
        bucket = self.buckets.require(ctx.account_id, params["Bucket"])
        hold = object_lock.requested(bucket, params)
        if bucket.object_lock is None:
            return None
        self._check_lock_permissions(ctx, params, hold)
        if integrity:
            object_lock.check_integrity_header(hold, params, ctx.http.headers if ctx.http is not None else {})
        return object_lock.for_write(bucket, hold, now())

    def _check_lock_permissions(self, ctx, params, hold) -> None:
        """Lock headers on a write need their own actions besides s3:PutObject.
        https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html (x-amz-object-lock-mode)"""
        if hold is None:
            return
        resource = _object_arn(params["Bucket"], params["Key"])
        if hold.mode is not None and not self._allowed(ctx, "s3:PutObjectRetention", resource):
            raise errors.access_denied()
        if params.get("ObjectLockLegalHoldStatus") is not None and not self._allowed(ctx, "s3:PutObjectLegalHold",
                                                                                      resource):
            raise errors.access_denied()

    def _upload_lock_rows(self, upload):
        bucket = self.buckets.get(upload.bucket)
        if bucket is None or bucket.object_lock is None:
            return None
        hold = object_lock.Hold(**upload.lock) if upload.lock else None
        if hold is not None and hold.retain_until is not None and not hold.retained():
            hold.mode = hold.retain_until = None  # it ran out while the upload was open
        return object_lock.for_write(bucket, hold, now())

    def _add_expiration(self, out: dict, record) -> None:
        """x-amz-expiration on a write's answer, when a lifecycle rule will expire the object."""
        bucket = self.buckets.get(record.bucket)
        if bucket is not None and bucket.lifecycle is not None:
            header = lifecycle.expiration_header(bucket.lifecycle, record.key, record.size, record.last_modified,
                                                 self.lifecycle.day_seconds)
            if header:
                out["Expiration"] = header

    def _add_bucket_rules(self, params, output: dict, status: int) -> None:
        """GetObject / HeadObject: the version's Object Lock headers, the lifecycle expiration."""
        if status not in (200, 206):
            return
        bucket = self.buckets.get(params["Bucket"])
        if bucket is None or (bucket.object_lock is None and bucket.lifecycle is None):
            return
        if bucket.object_lock is not None:
            output.update(self.objects.object_lock.headers(bucket.name, params["Key"], output.get("VersionId")))
        if bucket.lifecycle is not None and params.get("VersionId") is None:
            header = lifecycle.expiration_header(bucket.lifecycle, params["Key"], output["ContentLength"]
                                                 if "ContentRange" not in output else
                                                 int(output["ContentRange"].rpartition("/")[2]),
                                                 output["LastModified"].timestamp(), self.lifecycle.day_seconds)
            if header:
                output["Expiration"] = header


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
        """What a write may ask for that lakestack refuses (SSE-KMS, SSE-C where the bucket blocks
        it); the SSE-C key it encrypts with."""
        key = encryption.check_write(params, _secure(ctx))
        _customer_key(ctx, params, copy_source=True)  # a copy source's key is checked before anything is read
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


    # -- fix: GetObjectTorrent ----------------------------------------------------------------

    ACTIONS = ACTIONS | {"GetObjectTorrent": Action("s3:GetObjectTorrent", OBJECT)}

    def get_object_torrent(self, ctx, params):
        record, file = self.objects.open(ctx.account_id, params["Bucket"], params["Key"])
        with file:
            torrent.check_torrentable(record.size, record.sse is not None)
            url = _location(ctx, params["Bucket"], params["Key"])
            if _secure(ctx) and url.startswith("http://"):
                url = "https://" + url[len("http://"):]
            return {"Body": torrent.metainfo(file, record.size, params["Key"], url)}

    # -- expected bucket owner ---------------------------------------------------------------

    def _check_expected_owners(self, params) -> None:
        """x-amz-expected-bucket-owner (and x-amz-source-expected-bucket-owner on copies):
        403 AccessDenied when the bucket belongs to another account. Answered before the
        caller's own permissions: either way a stranger learns only "Access Denied".
        https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html"""
        expected = params.get("ExpectedBucketOwner")
        if expected is not None:
            bucket = self.buckets.get(params.get("Bucket") or "")
            if bucket is not None and bucket.account_id != expected:
                raise errors.access_denied()
        expected = params.get("ExpectedSourceBucketOwner")
        if expected is not None and params.get("CopySource"):
            try:
                source = self.buckets.get(parse_copy_source(params["CopySource"])[0])
            except Exception:  # malformed: the operation itself answers InvalidArgument
                return
            if source is not None and source.account_id != expected:
                raise errors.access_denied()


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


# Writes whose ACL headers need s3:PutObjectAcl as well.
_ACL_WRITES = frozenset({"PutObject", "CopyObject", "CreateMultipartUpload"})
# An ACL operation naming a version (?versionId=) is its own IAM action.
_VERSION_ACTIONS.update({"GetObjectAcl": "s3:GetObjectVersionAcl", "PutObjectAcl": "s3:PutObjectVersionAcl"})
