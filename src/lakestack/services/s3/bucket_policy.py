"""Bucket policies: Put/Get/DeleteBucketPolicy, GetBucketPolicyStatus, and what a policy
decides about each request to its bucket.

A policy is checked as S3 checks it (the IAM policy grammar of iam/policy.py, plus S3's own
rules and messages: its resources must be this bucket or in it, its actions S3's, its s3:
condition keys S3's), stored verbatim in `s3.db` (table `bucket_policies`) and compiled
once into memory, so a request to a bucket without a policy costs one dict lookup.

How a policy combines with the caller's identity policies (`BucketPolicies.decide`):
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-policy-language-overview.html
- an explicit Deny in the bucket policy wins over everything, the account root's access too —
  except that the bucket owner's root may always Get/Put/DeleteBucketPolicy, so an owner
  cannot lock themselves out (API_PutBucketPolicy.html);
- a caller of the bucket owner's account needs an Allow from its identity policies *or*
  from the bucket policy;
- a caller of another account needs both;
- an anonymous caller needs the bucket policy to allow "Principal": "*" (or {"AWS": "*"}).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl

from lakestack.aws.errors import AwsError
from lakestack.runtime.state import StateStore
from lakestack.services.iam.conditions import split_operator
from lakestack.services.iam.matching import wildcard_match
from lakestack.services.iam.policy import (
    ALLOW,
    ANONYMOUS,
    DENY,
    IMPLICIT_DENY,
    RESOURCE,
    Caller,
    MalformedPolicy,
    Policy,
    PrincipalSpec,
    Request,
    Statement,
    evaluate,
    is_aws_principal,
    parse_policy,
)
from lakestack.services.s3 import errors, policy_grammar
from lakestack.services.s3.buckets import canonical_user_id
from lakestack.services.s3.objects import parse_copy_source

log = logging.getLogger("lakestack.s3")

SCHEMA = """
CREATE TABLE IF NOT EXISTS bucket_policies (
    bucket TEXT PRIMARY KEY,
    policy TEXT NOT NULL
)
"""
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/BucketRestrictions.html (20 KB)
MAX_POLICY_BYTES = 20 * 1024
S3_ARN_PREFIX = "arn:aws:s3:::"
# What the bucket owner's root may always do, whatever the policy says.
POLICY_ACTIONS = frozenset({"s3:getbucketpolicy", "s3:putbucketpolicy", "s3:deletebucketpolicy"})
_NOT_JSON = "Policies must be valid JSON and the first byte must be '{'"


def malformed_policy(message: str) -> AwsError:
    return AwsError("MalformedPolicy", message, 400)


def no_such_bucket_policy(bucket: str) -> AwsError:
    return AwsError("NoSuchBucketPolicy", "The bucket policy does not exist", 404, BucketName=bucket)


# -- checking a document ------------------------------------------------------------------

# IAM's messages for what S3 words differently.
_S3_MESSAGES = (
    ("Invalid principal", "Invalid principal in policy"),
    ("Policy statement must contain actions", "Missing required field Action"),
    ("Policy statement must contain resources", "Missing required field Resource"),
    ("Resource ", "Policy has invalid resource"),
    ("Partition ", "Policy has invalid resource"),
    ("Resource vendor", "Policy has invalid resource"),
    ("Vendor ", "Policy has invalid action"),
    ("Actions/Condition", "Policy has invalid action"),
)


@dataclass(frozen=True)
class BucketPolicy:
    """A stored policy: its text as PUT, compiled for evaluation."""

    text: str
    policy: Policy
    public: bool
    # Condition keys that need a lookup of their own (the object's tags), read only when used.
    reads_object_tags: bool = False


def parse_bucket_policy(text: str | bytes, bucket: str) -> BucketPolicy:
    """Check a PutBucketPolicy document as S3 does; MalformedPolicy (400) if S3 would refuse it."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not text.lstrip().startswith("{"):
        raise malformed_policy(_NOT_JSON)
    try:
        document = json.loads(text)
    except ValueError:
        raise malformed_policy(_NOT_JSON) from None
    # The limit counts the document without its insignificant whitespace.
    if len(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()) > MAX_POLICY_BYTES:
        raise malformed_policy("Policy exceeds the maximum allowed document size.")
    statements = document.get("Statement")
    statements = [statements] if isinstance(statements, dict) else statements
    if isinstance(statements, list):
        for statement in statements:
            if isinstance(statement, dict):
                for element in ("Principal", "NotPrincipal"):
                    if element in statement:
                        _check_principal(statement[element])
    try:
        policy = parse_policy(document, RESOURCE)
    except MalformedPolicy as error:
        message = error.message
        raise malformed_policy(next((s3 for iam, s3 in _S3_MESSAGES if message.startswith(iam)), message)) from None
    reads_tags = False
    for statement in statements:
        resources = _listed(statement, "Resource") or _listed(statement, "NotResource")
        for resource in resources:
            _check_resource(resource, bucket)
        actions = _listed(statement, "Action") or _listed(statement, "NotAction")
        for action in actions:
            if not policy_grammar.known_action(action):
                raise malformed_policy("Policy has invalid action")
        if "Action" in statement and "Resource" in statement and not any(
                policy_grammar.applies(a, r) for a in actions for r in resources):
            raise malformed_policy("Action does not apply to any resource(s) in statement")
        for tests in (statement.get("Condition") or {}).values():
            for key in tests:
                low = key.lower()
                if low.startswith("s3:") and not policy_grammar.known_condition_key(low):
                    raise malformed_policy("Policy has an invalid condition key")
                reads_tags = reads_tags or low.startswith("s3:existingobjecttag/")
    return BucketPolicy(text, policy, is_public(document), reads_tags)


def _listed(statement: dict, element: str) -> list[str]:
    value = statement.get(element, [])
    return [value] if isinstance(value, str) else list(value)


def _check_principal(value: Any) -> None:
    invalid = malformed_policy("Invalid principal in policy")
    if value == "*":
        return
    if not isinstance(value, dict) or not value:
        raise invalid
    for kind, entries in value.items():
        entries = [entries] if isinstance(entries, str) else entries
        if kind not in ("AWS", "Service", "Federated", "CanonicalUser") or not isinstance(entries, list) or not entries:
            raise invalid
        for entry in entries:
            if not isinstance(entry, str) or not entry or any(c.isspace() for c in entry):
                raise invalid
            if kind == "AWS" and not is_aws_principal(entry):
                raise invalid
            if kind == "CanonicalUser" and (len(entry) != 64 or any(c not in "0123456789abcdefABCDEF" for c in entry)):
                raise invalid


def _check_resource(resource: str, bucket: str) -> None:
    """A bucket policy's resources are its bucket or objects in it (patterns that can match it)."""
    if resource == "*":
        return
    parts = resource.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "s3" or parts[3] or parts[4]:
        raise malformed_policy("Policy has invalid resource")
    bucket_part = parts[5].split("/", 1)[0]
    if "${" in bucket_part:
        return  # a policy variable: what it names is known per request
    if not bucket_part or not wildcard_match(bucket_part, bucket):
        raise malformed_policy("Policy has invalid resource")


# -- public or not ------------------------------------------------------------------------

# Condition keys that tie a grant to someone in particular when tested against fixed values.
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html#access-control-block-public-access-policy-status
_LIMITING_KEYS = frozenset(k.lower() for k in (
    "aws:SourceArn", "aws:SourceVpc", "aws:SourceVpce", "aws:SourceOwner", "aws:SourceAccount",
    "aws:SourceOrgID", "aws:PrincipalAccount", "aws:PrincipalArn", "aws:PrincipalOrgID", "aws:userid",
    "s3:x-amz-server-side-encryption-aws-kms-key-id", "s3:DataAccessPointArn", "s3:DataAccessPointAccount",
))
_FIXED_OPERATORS = frozenset({"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike"})


def is_public(document: dict | str) -> bool:
    """Whether S3 counts a bucket policy as public: some Allow grants to everyone ("*", or
    NotPrincipal) without a condition pinning it to fixed values of a key that names who or
    where the caller is (a source ARN, VPC, account, organization, KMS key, user id, or
    aws:SourceIp CIDRs no wider than /8 for IPv4 and /32 for IPv6).

    The Block Public Access settings use this: BlockPublicPolicy refuses such a PutBucketPolicy,
    RestrictPublicBuckets limits such a bucket to its own account and AWS services."""
    if isinstance(document, str):
        document = json.loads(document)
    statements = document.get("Statement") or []
    for statement in [statements] if isinstance(statements, dict) else statements:
        if statement.get("Effect") != ALLOW:
            continue
        if "NotPrincipal" not in statement and not _everyone(statement.get("Principal")):
            continue
        if not _pinned(statement.get("Condition") or {}):
            return True
    return False


def _everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        entries = principal.get("AWS", [])
        return "*" in ([entries] if isinstance(entries, str) else entries)
    return False


def _pinned(conditions: dict) -> bool:
    for operator, tests in conditions.items():
        qualifier, base, if_exists = split_operator(operator)
        if qualifier or if_exists:
            continue  # a missing key passes these: they pin nothing
        for key, values in tests.items():
            values = values if isinstance(values, list) else [values]
            low = key.lower()
            if not values:
                continue
            if base in _FIXED_OPERATORS and low in _LIMITING_KEYS:
                if all(isinstance(v, str) and "*" not in v and "?" not in v and "${" not in v for v in values):
                    return True
            if base == "IpAddress" and low == "aws:sourceip" and all(_narrow(v) for v in values):
                return True
    return False


def _narrow(cidr: Any) -> bool:
    try:
        network = ipaddress.ip_network(str(cidr), strict=False)
    except ValueError:
        return False
    return network.prefixlen >= (8 if network.version == 4 else 32)


# -- what a request brings to the conditions ---------------------------------------------

_HEADER_KEYS = (
    ("s3:x-amz-acl", "ACL"),
    ("s3:x-amz-grant-full-control", "GrantFullControl"),
    ("s3:x-amz-grant-read", "GrantRead"),
    ("s3:x-amz-grant-read-acp", "GrantReadACP"),
    ("s3:x-amz-grant-write", "GrantWrite"),
    ("s3:x-amz-grant-write-acp", "GrantWriteACP"),
    ("s3:x-amz-server-side-encryption", "ServerSideEncryption"),
    ("s3:x-amz-server-side-encryption-aws-kms-key-id", "SSEKMSKeyId"),
    ("s3:x-amz-server-side-encryption-customer-algorithm", "SSECustomerAlgorithm"),
    ("s3:x-amz-metadata-directive", "MetadataDirective"),
    ("s3:x-amz-storage-class", "StorageClass"),
    ("s3:x-amz-website-redirect-location", "WebsiteRedirectLocation"),
    ("s3:x-amz-object-ownership", "ObjectOwnership"),
    ("s3:object-lock-mode", "ObjectLockMode"),
    ("s3:object-lock-legal-hold", "ObjectLockLegalHoldStatus"),
    ("s3:object-lock-retain-until-date", "ObjectLockRetainUntilDate"),
    ("s3:if-match", "IfMatch"),
    ("s3:if-none-match", "IfNoneMatch"),
    ("s3:versionid", "VersionId"),
)
_LIST_OPERATIONS = frozenset({"ListObjects", "ListObjectsV2", "ListObjectVersions"})


def request_keys(ctx, params: dict, owner_account: str) -> dict[str, Any]:
    """S3's condition keys for this request (lower-cased), from its parameters and headers.
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html#amazons3-policy-keys"""
    keys: dict[str, Any] = {"s3:resourceaccount": owner_account}
    for key, member in _HEADER_KEYS:
        value = params.get(member)
        if value is not None:
            keys[key] = value
    if ctx.operation in _LIST_OPERATIONS:
        # No prefix is the empty prefix (AWS's "list the bucket's root" examples test "").
        keys["s3:prefix"] = params.get("Prefix") or ""
        if params.get("Delimiter") is not None:
            keys["s3:delimiter"] = params["Delimiter"]
        if params.get("MaxKeys") is not None:
            keys["s3:max-keys"] = params["MaxKeys"]
    copy_source = params.get("CopySource")
    if copy_source and ctx.operation in ("CopyObject", "UploadPartCopy"):
        try:
            source_bucket, source_key, _version = parse_copy_source(copy_source)
            keys["s3:x-amz-copy-source"] = f"{source_bucket}/{source_key}"
        except Exception:  # malformed: the operation answers InvalidArgument
            pass
    tags = _request_tags(params.get("Tagging"))
    if tags is not None:
        keys["s3:requestobjecttagkeys"] = list(tags)
        for tag_key, tag_value in tags.items():
            keys[f"s3:requestobjecttag/{tag_key.lower()}"] = tag_value
    http = ctx.http
    if http is not None:
        headers = http.headers
        referer = headers.get("referer")
        if referer is not None:
            keys["aws:referer"] = referer
        sha256 = headers.get("x-amz-content-sha256")
        if sha256 is not None:
            keys["s3:x-amz-content-sha256"] = sha256
        authorization = headers.get("authorization", "")
        query = http.query_dict
        if authorization:
            keys["s3:authtype"] = "REST-HEADER"
            keys["s3:signatureversion"] = "AWS4-HMAC-SHA256" if authorization.startswith("AWS4-") else "AWS"
        elif "X-Amz-Signature" in query or "Signature" in query:
            keys["s3:authtype"] = "REST-QUERY-STRING"
            keys["s3:signatureversion"] = "AWS4-HMAC-SHA256" if "X-Amz-Signature" in query else "AWS"
    return keys


def _request_tags(tagging: Any) -> dict[str, str] | None:
    """x-amz-tagging ("k=v&k2=v2") of a write, or PutObjectTagging's TagSet."""
    if isinstance(tagging, str):
        return dict(parse_qsl(tagging, keep_blank_values=True))
    if isinstance(tagging, dict) and isinstance(tagging.get("TagSet"), list):
        return {t.get("Key", ""): t.get("Value", "") for t in tagging["TagSet"] if isinstance(t, dict)}
    return None


def _caller(principal) -> Caller:
    if principal is None:
        return ANONYMOUS
    arns = (principal.arn,)
    if principal.kind == "assumed-role" and principal.source_arn:
        arns += (principal.source_arn,)  # a session is also its role
    return Caller(account=principal.account_id, arns=arns, canonical_id=canonical_user_id(principal.account_id))


def bucket_of(resource: str) -> str | None:
    """The bucket an S3 ARN names (arn:aws:s3:::bucket or arn:aws:s3:::bucket/key)."""
    if not resource.startswith(S3_ARN_PREFIX):
        return None
    return resource[len(S3_ARN_PREFIX):].split("/", 1)[0] or None


# A stored policy that no longer compiles (it cannot happen unless the rules changed under
# it) denies everyone but the owner's root, who may still read, replace or delete it.
_DENY_ALL = Policy((Statement(effect=DENY, principal=PrincipalSpec(everyone=True)),))


# -- the store and the decisions ------------------------------------------------------------

class BucketPolicies:
    def __init__(self, db: StateStore, bucket_lookup: Callable,
                 principal_context: Callable[[Any, dict], dict] | None = None,
                 object_tags: Callable[[str, str, str | None], dict | None] | None = None,
                 public_access_block: Callable[[str], tuple[bool, bool]] | None = None):
        """bucket_lookup(name) → the Bucket or None; principal_context(principal, context) →
        the request's condition keys with the caller's own (aws:username, principal tags,
        lower-cased), from IAM; object_tags(bucket, key, version_id) →
        the object's tags ({key: value}) or None, for s3:ExistingObjectTag/<key>;
        public_access_block(bucket) → (BlockPublicPolicy, RestrictPublicBuckets) in effect."""
        self.db = db
        self._bucket = bucket_lookup
        self._principal_context = principal_context
        self.object_tags = object_tags or (lambda bucket, key, version_id: None)
        self.public_access_block = public_access_block or (lambda bucket: (False, False))
        self._lock = threading.Lock()
        with db.transaction() as conn:
            conn.execute(SCHEMA)
            # A bucket deleted just before a crash may have left its policy behind; a new bucket
            # of that name must not inherit it.
            conn.execute("DELETE FROM bucket_policies WHERE bucket NOT IN (SELECT name FROM buckets)")
        self._policies: dict[str, BucketPolicy] = {}
        for row in db.query("SELECT bucket, policy FROM bucket_policies"):
            self._policies[row["bucket"]] = self._load(row["bucket"], row["policy"])

    @staticmethod
    def _load(bucket: str, text: str) -> BucketPolicy:
        try:
            return parse_bucket_policy(text, bucket)
        except AwsError:
            log.error("the stored policy of bucket %s no longer compiles; it denies all but the owner's root", bucket)
            return BucketPolicy(text, _DENY_ALL, False)

    # -- Put / Get / Delete / Status -------------------------------------------------------

    def put(self, bucket, text: str) -> None:
        """PutBucketPolicy on `bucket` (a buckets.Bucket).
        https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html"""
        compiled = parse_bucket_policy(text, bucket.name)
        block_public_policy, _restrict = self.public_access_block(bucket.name)
        if block_public_policy and compiled.public:
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html
            raise errors.access_denied()
        with self._lock:
            with self.db.transaction() as conn:
                # Only while this very bucket exists: one deleted meanwhile (and maybe made again
                # by someone else) must not end up with the policy.
                stored = conn.execute(
                    "INSERT OR REPLACE INTO bucket_policies (bucket, policy) SELECT name, ? FROM buckets "
                    "WHERE name = ? AND account_id = ? AND created = ?",
                    (compiled.text, bucket.name, bucket.account_id, bucket.created)).rowcount
            if not stored:
                raise errors.no_such_bucket(bucket.name)
            self._policies[bucket.name] = compiled

    def get(self, bucket: str) -> str:
        compiled = self._policies.get(bucket)
        if compiled is None:
            raise no_such_bucket_policy(bucket)
        return compiled.text

    def delete(self, bucket: str) -> None:
        """Deleting a policy that is not there succeeds (204), as on S3."""
        self.forget(bucket)

    def forget(self, bucket: str) -> None:
        """The policy is deleted, or its bucket is."""
        with self._lock:
            if bucket not in self._policies:
                return
            with self.db.transaction() as conn:
                conn.execute("DELETE FROM bucket_policies WHERE bucket = ?", (bucket,))
            self._policies.pop(bucket, None)

    def is_public(self, bucket: str) -> bool:
        """GetBucketPolicyStatus's IsPublic; NoSuchBucketPolicy without a policy."""
        compiled = self._policies.get(bucket)
        if compiled is None:
            raise no_such_bucket_policy(bucket)
        return compiled.public

    def has_public_policy(self, bucket: str) -> bool:
        """For Block Public Access's RestrictPublicBuckets (False without a policy)."""
        compiled = self._policies.get(bucket)
        return compiled is not None and compiled.public

    def has_policy(self, bucket: str) -> bool:
        return bucket in self._policies

    # -- decisions ---------------------------------------------------------------------------

    def decide(self, ctx, action: str, resource: str, identity: str, context: dict, params: dict) -> str:
        """The decision for one (action, resource) check given the identity-based one."""
        if identity == DENY:
            return DENY
        name = bucket_of(resource)
        compiled = self._policies.get(name) if name else None
        if compiled is None:
            if identity == ALLOW and ctx.principal is not None and action != "s3:CreateBucket":
                bucket = self._bucket(name)
                if bucket is not None and bucket.account_id != ctx.principal.account_id:
                    # Another account's own policies are not enough: the bucket's owner must grant
                    # too, here by an ACL (reference_policies_evaluation-logic-cross-account.html).
                    # (CreateBucket names a bucket, it does not act on one: it answers
                    # BucketAlreadyExists.)
                    return IMPLICIT_DENY
            return identity
        bucket = self._bucket(name)
        if bucket is None:
            return identity
        principal = ctx.principal
        owner = bucket.account_id
        request = self._request(ctx, compiled, action, resource, context, params, owner)
        granted = evaluate((compiled.policy,), request)
        same_account = principal is not None and principal.account_id == owner
        if granted == DENY:
            if same_account and principal.is_root and not principal.session_token and request.action in POLICY_ACTIONS:
                return ALLOW  # the owner's root may always fix the policy (API_PutBucketPolicy.html)
            return DENY
        if granted == ALLOW and not same_account and compiled.public and self.public_access_block(name)[1]:
            granted = IMPLICIT_DENY  # RestrictPublicBuckets: a public policy grants only to its own account
        if same_account:
            if identity == ALLOW:
                return ALLOW
            # Naming the account (its ID, root ARN or canonical ID) delegates to the account: its
            # users and roles still need an identity policy; only a grant to the caller itself
            # (its ARN, or "*") stands alone (reference_policies_elements_principal.html).
            if granted == ALLOW and not principal.is_root:
                request.caller = replace(request.caller, match_account=False)
                granted = evaluate((compiled.policy,), request)
            return ALLOW if granted == ALLOW else IMPLICIT_DENY
        if granted == ALLOW and (principal is None or identity == ALLOW):
            if params.get("Bucket") == name:
                # The call acts on the owner's bucket (Buckets.require checks the account).
                ctx.acting_account_id = owner
            return ALLOW
        return IMPLICIT_DENY

    def _request(self, ctx, compiled: BucketPolicy, action: str, resource: str, context: dict, params: dict,
                 owner: str) -> Request:
        caller = _caller(ctx.principal)
        if not compiled.policy.uses_context:
            return Request(action, resource, None, caller)
        if ctx.principal is not None and self._principal_context is not None:
            keys = self._principal_context(ctx.principal, context)
        else:
            keys = {k.lower(): v for k, v in context.items()}
        keys.update(request_keys(ctx, params, owner))
        if compiled.reads_object_tags:
            name, _, key = resource[len(S3_ARN_PREFIX):].partition("/")
            if key:
                own_object = params.get("Bucket") == name and params.get("Key") == key
                tags = self.object_tags(name, key, params.get("VersionId") if own_object else None) or {}
                for tag_key, tag_value in tags.items():
                    keys[f"s3:existingobjecttag/{tag_key.lower()}"] = tag_value
        return Request(action, resource, keys, caller, lowered=True)
