"""S3's operations: thin glue from typed params to buckets/objects/multipart/listing.

The lake's store: objects are plain files under `<home>/s3/<bucket>/<key>` (keys.py),
indexed in `<state>/s3.db`, written durably (store.py).
"""

from __future__ import annotations

import dataclasses
import os

from lakestack.aws.errors import AwsError
from lakestack.services.base import Action, Provider
from lakestack.services.s3 import (
    acls,
    calls,
    checksums,
    encryption,
    errors,
    lifecycle,
    listing,
    object_lock,
    spool,
    tagging,
)
from lakestack.services.s3.bucket_encryption import BucketEncryption
from lakestack.services.s3.bucket_policy import BucketPolicies
from lakestack.services.s3.buckets import Buckets, owner
from lakestack.services.s3.calls import BUCKET, OBJECT
from lakestack.services.s3.cors import CorsConfigurations
from lakestack.services.s3.multipart import Multipart
from lakestack.services.s3.notifications import Notifications
from lakestack.services.s3.object_ownership import OwnershipControls
from lakestack.services.s3.objects import Objects, VersioningChanged, parse_copy_source, valid_version_id
from lakestack.services.s3.provider_access import AccessOperations
from lakestack.services.s3.provider_browser import BrowserOperations
from lakestack.services.s3.provider_object_extras import ObjectExtrasOperations
from lakestack.services.s3.provider_retention import RetentionOperations
from lakestack.services.s3.public_access_block import PublicAccessBlocks
from lakestack.services.s3.store import S3Store
from lakestack.services.s3.versioning import DeleteItem, check_version_id, is_null

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
                    "GetObjectAttributes": "s3:GetObjectVersionAttributes",
                    "GetObjectAcl": "s3:GetObjectVersionAcl", "PutObjectAcl": "s3:PutObjectVersionAcl"}
# Writes whose x-amz-tagging header also needs s3:PutObjectTagging.
_TAGGED_WRITES = frozenset({"PutObject", "CopyObject", "CreateMultipartUpload"})


class S3Provider(BrowserOperations, AccessOperations, RetentionOperations, ObjectExtrasOperations, Provider):
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
    ACTIONS = {**ACTIONS, **BrowserOperations.ACTIONS, **AccessOperations.ACTIONS, **RetentionOperations.ACTIONS,
               **ObjectExtrasOperations.ACTIONS}

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
        # resource_decision reads them: a bucket policy's conditions, the version an object ACL names.
        ctx.extra["params"] = params
        if ctx.principal is None and ctx.operation != "CreateBucket":
            # An anonymous caller learns that a bucket does not exist (404) before it is denied.
            bucket = params.get("Bucket")
            if bucket and self.buckets.get(bucket) is None:
                raise errors.no_such_bucket(bucket)
        self._check_expected_owners(params)
        checks = super().authorization(ctx, params)
        if ctx.operation in calls.ACL_WRITES and acls.requested(params):
            # "To use ACL-specific headers, you must have the s3:PutObjectAcl permission."
            # https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html
            checks.append(("s3:PutObjectAcl", checks[0][1]))
        if ctx.operation in ("CopyObject", "UploadPartCopy") and params.get("CopySource"):
            try:
                src_bucket, src_key, src_version = parse_copy_source(params["CopySource"])
            except Exception:  # malformed: the operation itself answers InvalidArgument
                return checks
            checks.append(("s3:GetObjectVersion" if src_version else "s3:GetObject", calls.object_arn(src_bucket, src_key)))
        elif ctx.operation == "DeleteObjects":
            # Every key needs s3:DeleteObject, or s3:DeleteObjectVersion for a version (AWS reports a
            # denied key in Errors; here it denies the call).
            bucket = params.get("Bucket", "")
            keys = (params.get("Delete") or {}).get("Objects") or []
            checks = list(dict.fromkeys(
                ("s3:DeleteObjectVersion" if o.get("VersionId") else "s3:DeleteObject", calls.object_arn(bucket, o.get("Key", "")))
                for o in keys)) or [("s3:DeleteObject", f"arn:aws:s3:::{bucket}/*")]
        elif params.get("VersionId") and ctx.operation in _VERSION_ACTIONS:
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/VersioningWorkingWithObjects.html
            checks = [(_VERSION_ACTIONS[ctx.operation], resource) for _, resource in checks]
        if params.get("Tagging") and ctx.operation in _TAGGED_WRITES:
            # Tags sent with a write need s3:PutObjectTagging as well.
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/tagging-managing.html
            checks.append(("s3:PutObjectTagging", calls.object_arn(params.get("Bucket", ""), params.get("Key", ""))))
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
        incoming = calls.incoming(ctx, params)
        with calls.drained_on_error(incoming):
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
        key = calls.read_key(ctx, params)
        output, status = self.objects.read(ctx.account_id, params["Bucket"], params["Key"], params, head=False,
                                           customer_key=key)
        if status != 200:
            ctx.response_status = status
        self._add_bucket_rules(params, output, status)
        return output

    def head_object(self, ctx, params):
        key = calls.read_key(ctx, params)
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
        bypass = self._bypass_governance(ctx, params, calls.object_arn(bucket.name, params["Key"]))
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
                                           source_key=calls.customer_key(ctx, params, copy_source=True), customer_key=key)
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
        incoming = calls.incoming(ctx, params)
        with calls.drained_on_error(incoming):
            key = calls.customer_key(ctx, params)
            return self.multipart.upload_part(ctx.account_id, params["Bucket"], params["Key"], params, incoming,
                                              key)

    def upload_part_copy(self, ctx, params):
        key = calls.customer_key(ctx, params)
        return self.multipart.upload_part_copy(ctx.account_id, params["Bucket"], params["Key"], params,
                                               calls.customer_key(ctx, params, copy_source=True), key)

    def complete_multipart_upload(self, ctx, params):
        record = self.multipart.complete(ctx.account_id, params["Bucket"], params["Key"], params, self._upload_lock_rows,
                                         customer_key=calls.customer_key(ctx, params))
        self._apply_upload_acl(params.get("UploadId"), record)
        self.notifications.object_created(ctx, record.bucket, record.key, record.size, record.etag,
                                          "CompleteMultipartUpload", record.version_id)
        out = {"Location": calls.location(ctx, record.bucket, record.key), "Bucket": record.bucket, "Key": record.key,
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
