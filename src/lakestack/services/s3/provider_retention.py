"""S3 operations that keep or expire versions: Object Lock and lifecycle configuration — glue
to object_lock.py and lifecycle.py. A part of S3Provider."""

from __future__ import annotations

from lakestack.aws.gateway import condition_context
from lakestack.services.base import Action
from lakestack.services.s3 import calls, errors, lifecycle, object_lock, required_checksums
from lakestack.services.s3.calls import BUCKET, OBJECT
from lakestack.services.s3.objects import now


class RetentionOperations:
    # -- Object Lock and lifecycle -----------------------------------------------------------

    ACTIONS = {
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
        bypass = self._bypass_governance(ctx, params, calls.object_arn(bucket, key))
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
        resource = calls.object_arn(params["Bucket"], params["Key"])
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
