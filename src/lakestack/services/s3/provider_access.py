"""S3 operations that decide who gets in: bucket policies, ACLs, Object Ownership, Block
Public Access, the expected-bucket-owner condition, and resource_decision, which composes them
as S3 evaluates access — glue to bucket_policy.py, acls.py, object_ownership.py and
public_access_block.py. A part of S3Provider."""

from __future__ import annotations

from lakestack.aws.errors import AwsError
from lakestack.services.base import Action
from lakestack.services.s3 import acls, calls, errors, object_ownership, public_access_block
from lakestack.services.s3.buckets import canonical_user_id
from lakestack.services.s3.calls import BUCKET, OBJECT
from lakestack.services.s3.objects import parse_copy_source


class AccessOperations:
    # -- bucket policies ---------------------------------------------------------------------

    ACTIONS = {
        "PutBucketPolicy": Action("s3:PutBucketPolicy", BUCKET),
        "GetBucketPolicy": Action("s3:GetBucketPolicy", BUCKET),
        "DeleteBucketPolicy": Action("s3:DeleteBucketPolicy", BUCKET),
        "GetBucketPolicyStatus": Action("s3:GetBucketPolicyStatus", BUCKET),
    }
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
        if action == "s3:PutObjectAcl" and ctx.operation in calls.ACL_WRITES:
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
        params = ctx.extra.get("params") or {}
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
