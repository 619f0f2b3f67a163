"""S3 ACL rules without a server: canned ACLs, grant headers, AccessControlPolicy bodies and
the decision an ACL adds to the identity-based one."""

import pytest

from lakestack.aws.errors import AwsError
from lakestack.services.s3 import acls

OWNER = "a" * 64
OTHER = "b" * 64
RESOLVER = acls.Resolver(lambda: {OWNER, OTHER})


def error_code(call, *args, **kwargs) -> str:
    with pytest.raises(AwsError) as caught:
        call(*args, **kwargs)
    return caught.value.code


def test_canned_acls():
    assert acls.canned("private", OWNER, OTHER, False) == acls.default_acl(OWNER)
    public = acls.canned("public-read-write", OWNER, OTHER, False)["Grants"]
    assert [(g["Grantee"].get("URI"), g["Permission"]) for g in public[1:]] == [
        (acls.ALL_USERS, "READ"), (acls.ALL_USERS, "WRITE")]
    assert acls.canned("bucket-owner-full-control", OWNER, OTHER, False)["Grants"][1] == {
        "Grantee": {"Type": "CanonicalUser", "ID": OTHER}, "Permission": "FULL_CONTROL"}
    # Ignored on a bucket.
    assert acls.canned("bucket-owner-read", OWNER, OTHER, True) == acls.default_acl(OWNER)
    assert error_code(acls.canned, "public-ready", OWNER, OWNER, True) == "InvalidArgument"


def test_grant_headers():
    grants = acls.from_headers({"GrantRead": f'id="{OTHER}", uri="{acls.ALL_USERS}"',
                                "GrantWriteACP": f"id={OWNER}"}, RESOLVER)
    assert [(g["Grantee"].get("ID") or g["Grantee"]["URI"], g["Permission"]) for g in grants] == [
        (OTHER, "READ"), (acls.ALL_USERS, "READ"), (OWNER, "WRITE_ACP")]
    assert error_code(acls.from_headers, {"GrantRead": "id=nobody"}, RESOLVER) == "InvalidArgument"
    assert error_code(acls.from_headers, {"GrantRead": "name=x"}, RESOLVER) == "InvalidArgument"
    assert error_code(acls.from_headers, {"GrantRead": "uri=http://example.com/group"}, RESOLVER) == "InvalidArgument"
    assert error_code(acls.from_headers, {"GrantRead": "emailAddress=a@example.com"},
                      RESOLVER) == "UnresolvableGrantByEmailAddress"


def test_policy_bodies():
    body = {"Owner": {"ID": OWNER}, "Grants": [{"Grantee": {"Type": "Group", "URI": acls.ALL_USERS},
                                                "Permission": "READ"}]}
    assert acls.is_public(acls.from_policy(body, OWNER, RESOLVER))
    assert error_code(acls.from_policy, body, OTHER, RESOLVER) == "AccessDenied"  # not the owner
    assert error_code(acls.from_policy, {"Grants": []}, OWNER, RESOLVER) == "MalformedACLError"
    bad = {"Owner": {"ID": OWNER}, "Grants": [{"Grantee": {"Type": "Group"}, "Permission": "READ"}]}
    assert error_code(acls.from_policy, bad, OWNER, RESOLVER) == "MalformedACLError"
    assert error_code(acls.from_put_acl, {"ACL": "private", "AccessControlPolicy": body}, OWNER, OWNER,
                      RESOLVER, True) == "UnexpectedContent"


def test_only_owner_full_control():
    assert acls.only_owner_full_control(None, OWNER)
    assert acls.only_owner_full_control(acls.default_acl(OWNER), OWNER)
    assert not acls.only_owner_full_control(acls.default_acl(OTHER), OWNER)
    assert not acls.only_owner_full_control(acls.canned("public-read", OWNER, OWNER, True), OWNER)


def test_decisions():
    public_bucket = acls.canned("public-read-write", OWNER, OWNER, True)
    public_object = acls.canned("public-read", OWNER, OWNER, False)
    private = acls.default_acl(OWNER)

    def decide(action, identity="ImplicitDeny", bucket=public_bucket, obj=lambda: private, anonymous=True,
               other=None, ignore=False):
        return acls.acl_decision(action, identity, bucket, obj, anonymous, other, ignore)

    assert decide("s3:ListBucket") == "Allow"
    assert decide("s3:PutObject") == "Allow"
    assert decide("s3:GetBucketAcl") == "ImplicitDeny"
    assert decide("s3:GetObject") == "ImplicitDeny"
    assert decide("s3:GetObject", obj=lambda: public_object) == "Allow"
    assert decide("s3:GetObject", obj=lambda: None) == "Allow"  # missing, but the bucket may be listed
    assert decide("s3:GetObject", obj=lambda: None, bucket=None) == "ImplicitDeny"
    assert decide("s3:ListBucket", ignore=True) == "ImplicitDeny"
    assert decide("s3:ListBucket", identity="Deny") == "Deny"  # an explicit deny stands
    assert decide("s3:ListBucket", identity="Allow", bucket=None) == "Allow"
    authenticated = acls.canned("authenticated-read", OWNER, OWNER, True)
    assert decide("s3:ListBucket", bucket=authenticated) == "ImplicitDeny"
    assert decide("s3:ListBucket", bucket=authenticated, anonymous=False) == "Allow"
    # Another account needs its own allow and a grant.
    granted = {"Owner": OWNER, "Grants": [acls.grant(acls.user(OTHER), "READ")]}
    assert decide("s3:ListBucket", identity="Allow", bucket=granted, anonymous=False, other=OTHER) == "Allow"
    assert decide("s3:ListBucket", identity="Allow", bucket=private, anonymous=False, other=OTHER) == "ImplicitDeny"
    assert decide("s3:ListBucket", bucket=granted, anonymous=False, other=OTHER) == "ImplicitDeny"
