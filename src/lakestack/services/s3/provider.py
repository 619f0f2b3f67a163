"""S3's operations: thin glue from typed params to buckets/objects/multipart/listing.

The lake's store: objects are plain files under `<home>/s3/<bucket>/<key>` (keys.py),
indexed in `<state>/s3.db`, written durably (store.py).
"""

from __future__ import annotations

import dataclasses
import os
from contextlib import contextmanager
from urllib.parse import quote

from lakestack.aws.errors import AwsError
from lakestack.aws.gateway import condition_context
from lakestack.aws.request import BytesBody
from lakestack.services.base import Action, Provider
from lakestack.services.s3 import (
    acls,
    checksums,
    encryption,
    errors,
    lifecycle,
    listing,
    object_lock,
    required_checksums,
    spool,
)
from lakestack.services.s3.buckets import Buckets, owner
from lakestack.services.s3.multipart import Multipart
from lakestack.services.s3.notifications import Notifications
from lakestack.services.s3.objects import (
    Objects,
    VersioningChanged,
    now,
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
                    "DeleteObject": "s3:DeleteObjectVersion"}


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
        self.lifecycle = lifecycle.Lifecycle(self.store, self.buckets, self.objects, self.multipart, settings)

    def stop(self) -> None:
        self.lifecycle.stop()
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
        acls.check_bucket_acl(params)
        constraint = (params.get("CreateBucketConfiguration") or {}).get("LocationConstraint")
        bucket = self.buckets.create(ctx.account_id, ctx.region, params["Bucket"], constraint,
                                     object_lock=bool(params.get("ObjectLockEnabledForBucket")))
        return {"Location": f"/{bucket.name}", "BucketArn": bucket.arn}

    def delete_bucket(self, ctx, params):
        self.buckets.delete(ctx.account_id, params["Bucket"])
        self.notifications.forget(params["Bucket"])
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
            _check_write_options(ctx, params)
            after_rows = self._lock_for_write(ctx, params, integrity=True)
            record = self.objects.put(ctx.account_id, params["Bucket"], params["Key"], params, incoming, after_rows)
        self.notifications.object_created(ctx, record.bucket, record.key, record.size, record.etag, "Put",
                                          record.version_id)
        out = {"ETag": record.etag, "ServerSideEncryption": "AES256"}
        self._add_expiration(out, record)
        if not is_null(record.version_id):  # S3 answers no version id for a null version
            out["VersionId"] = record.version_id
        if record.checksum_value:
            out[checksums.member(record.checksum_algorithm)] = record.checksum_value
            out["ChecksumType"] = record.checksum_type
        return out

    def get_object(self, ctx, params):
        _check_sse_c(ctx, params)
        output, status = self.objects.read(ctx.account_id, params["Bucket"], params["Key"], params, head=False)
        if status != 200:
            ctx.response_status = status
        self._add_bucket_rules(params, output, status)
        return output

    def head_object(self, ctx, params):
        _check_sse_c(ctx, params)
        output, status = self.objects.read(ctx.account_id, params["Bucket"], params["Key"], params, head=True)
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
        return {"Deleted": None if request.get("Quiet") else deleted or None, "Errors": failed or None}

    def copy_object(self, ctx, params):
        _check_write_options(ctx, params)
        after_rows = self._lock_for_write(ctx, params)
        record, source = self.objects.copy(ctx.account_id, params["Bucket"], params["Key"], params, after_rows)
        self.notifications.object_created(ctx, record.bucket, record.key, record.size, record.etag, "Copy",
                                          record.version_id)
        result = {"ETag": record.etag, "LastModified": record.modified}
        if record.checksum_value:
            result[checksums.member(record.checksum_algorithm)] = record.checksum_value
            result["ChecksumType"] = record.checksum_type
        out = {"CopyObjectResult": result, "ServerSideEncryption": "AES256"}
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
        rows = listing.sql_fetch(self.store.db.query, bucket, "key, path")(
            prefix.encode("utf-8", "surrogatepass"), True, upper, -1)
        home = str(self.store.abspath(""))
        return {row["key"]: os.path.join(home, row["path"]) for row in rows}

    # -- multipart ---------------------------------------------------------------------------

    def create_multipart_upload(self, ctx, params):
        _check_write_options(ctx, params)
        hold = object_lock.requested(self.buckets.require(ctx.account_id, params["Bucket"]), params)
        self._check_lock_permissions(ctx, params, hold)
        upload = self.multipart.create(ctx.account_id, ctx.principal, params["Bucket"], params["Key"], params,
                                       None if hold is None else dataclasses.asdict(hold))
        out = {"Bucket": upload.bucket, "Key": upload.key, "UploadId": upload.upload_id,
               "ServerSideEncryption": "AES256"}
        if upload.checksum_algorithm:
            out["ChecksumAlgorithm"] = upload.checksum_algorithm
            out["ChecksumType"] = upload.checksum_type
        return out

    def upload_part(self, ctx, params):
        incoming = _incoming(ctx, params)
        with _drained_on_error(incoming):
            _check_sse_c(ctx, params)
            return self.multipart.upload_part(ctx.account_id, params["Bucket"], params["Key"], params, incoming)

    def upload_part_copy(self, ctx, params):
        _check_sse_c(ctx, params)
        return self.multipart.upload_part_copy(ctx.account_id, params["Bucket"], params["Key"], params)

    def complete_multipart_upload(self, ctx, params):
        _check_sse_c(ctx, params)
        record = self.multipart.complete(ctx.account_id, params["Bucket"], params["Key"], params, self._upload_lock_rows)
        self.notifications.object_created(ctx, record.bucket, record.key, record.size, record.etag,
                                          "CompleteMultipartUpload", record.version_id)
        out = {"Location": _location(ctx, record.bucket, record.key), "Bucket": record.bucket, "Key": record.key,
               "ETag": record.etag, "ServerSideEncryption": "AES256"}
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


def _check_sse_c(ctx, params) -> None:
    # A call from another service (no HTTP request) never crossed a network.
    encryption.check_sse_c(params, ctx.http is None or ctx.http.secure)


def _check_write_options(ctx, params) -> None:
    """What a write may ask for that lakestack refuses: SSE-C, ACLs."""
    _check_sse_c(ctx, params)
    acls.check_object_acl(params)


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
