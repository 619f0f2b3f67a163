"""Bucket policies against a real server: Put/Get/DeleteBucketPolicy with S3's validation,
GetBucketPolicyStatus, and what a policy decides — anonymous callers let in by "Principal": "*",
IAM users let in by name, an explicit Deny over everyone (the root too, except for the policy
itself), S3's condition keys — through boto3 and `aws s3api`; a policy survives a kill -9."""

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from botocore import UNSIGNED
from botocore.config import Config
from helpers import aws_cli_env, error_of

import lakestack
from lakestack.aws.errors import AwsError

AWS = Path(sys.executable).parent / "aws"
_names = itertools.count()


# Public policies ("Principal": "*") are what most cases need: buckets as before April 2023,
# without Block Public Access (which would refuse them, as on AWS today).
LEGACY = {"s3_bucket_defaults": "legacy"}


@pytest.fixture(scope="module")
def stack():
    with lakestack.local(**LEGACY) as running:
        yield running


@pytest.fixture(scope="module")
def anonymous(stack):
    return stack.client("s3", config=Config(signature_version=UNSIGNED, retries={"max_attempts": 0}))


def new_bucket(s3, *keys: str) -> str:
    name = f"policy-{next(_names)}"
    s3.create_bucket(Bucket=name)
    for key in keys:
        s3.put_object(Bucket=name, Key=key, Body=key.encode())
    return name


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource, principal="*", **extra) -> dict:
    return {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": resource, **extra}


def deny(action, resource, principal="*", **extra) -> dict:
    return {"Effect": "Deny", "Principal": principal, "Action": action, "Resource": resource, **extra}


def status_and_code(response) -> tuple[int, str]:
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def denied(call, **kwargs) -> bool:
    return error_of(call, **kwargs)["ResponseMetadata"]["HTTPStatusCode"] == 403


_users = itertools.count()


def iam_user(stack, statements: list[dict] | None):
    """A new IAM user of the account (with these identity-policy statements, if any): its ARN
    and an S3 client signed with its key."""
    iam = stack.client("iam")
    name = f"policy-user-{next(_users)}"
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="s3", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": statements}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return arn, stack.client("s3", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                             config=Config(retries={"max_attempts": 0}))


# -- Put / Get / Delete / Status ---------------------------------------------------------------

def test_put_get_delete_round_trip(s3):
    bucket = new_bucket(s3)
    response = error_of(s3.get_bucket_policy, Bucket=bucket)
    assert status_and_code(response) == (404, "NoSuchBucketPolicy")
    assert response["Error"]["Message"] == "The bucket policy does not exist"
    document = policy(allow("s3:ListBucket", [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                            {"AWS": "*"}))
    put = s3.put_bucket_policy(Bucket=bucket, Policy=document)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == document  # verbatim
    replaced = policy(allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*", {"AWS": "*"}))
    s3.put_bucket_policy(Bucket=bucket, Policy=replaced, ConfirmRemoveSelfBucketAccess=True)
    assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == replaced
    assert s3.delete_bucket_policy(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert status_and_code(error_of(s3.get_bucket_policy, Bucket=bucket)) == (404, "NoSuchBucketPolicy")
    s3.delete_bucket_policy(Bucket=bucket)  # nothing to delete is still 204
    assert status_and_code(error_of(s3.get_bucket_policy, Bucket="no-such-bucket-here")) == (404, "NoSuchBucket")


def test_policy_status(s3):
    bucket = new_bucket(s3)
    # No policy: S3 answers NoSuchBucketPolicy rather than IsPublic false.
    assert status_and_code(error_of(s3.get_bucket_policy_status, Bucket=bucket)) == (404, "NoSuchBucketPolicy")
    objects = f"arn:aws:s3:::{bucket}/*"
    cases = [
        (allow("s3:GetObject", objects), True),
        (allow("s3:GetObject", objects, {"AWS": "*"}), True),
        (allow("s3:GetObject", objects, {"AWS": "123456789012"}), False),
        (allow("s3:GetObject", objects, Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/24"}}), False),
        (allow("s3:GetObject", objects, Condition={"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}), True),
        (allow("s3:GetObject", objects, Condition={"StringEquals": {"aws:SourceAccount": "123456789012"}}), False),
        (allow("s3:GetObject", objects, Condition={"StringLike": {"aws:SourceArn": "arn:aws:sns:*"}}), True),
        (allow("s3:GetObject", objects, Condition={"Bool": {"aws:SecureTransport": "true"}}), True),
        (deny("s3:GetObject", objects), False),
    ]
    for statement, public in cases:
        s3.put_bucket_policy(Bucket=bucket, Policy=policy(statement))
        assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is public, statement


@pytest.mark.parametrize("document, message", [
    ("not json", "Policies must be valid JSON and the first byte must be '{'"),
    ('{"Statement": [', "Policies must be valid JSON and the first byte must be '{'"),
    ('{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::BUCKET/*"}]}',
     "Missing required field Principal"),
    ('{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::s3tenant1:root"}, '
     '"Action": "s3:GetObject", "Resource": "arn:aws:s3:::BUCKET/*"}]}', "Invalid principal in policy"),
    ('{"Statement": [{"Effect": "Allow", "Principal": {"Nobody": "x"}, '
     '"Action": "s3:GetObject", "Resource": "arn:aws:s3:::BUCKET/*"}]}', "Invalid principal in policy"),
    ('{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", '
     '"Resource": "arn:aws:s3:::some-other-bucket/*"}]}', "Policy has invalid resource"),
    ('{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", '
     '"Resource": "arn:aws:sqs:us-east-1:123456789012:queue"}]}', "Policy has invalid resource"),
    ('{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", '
     '"Resource": "BUCKET"}]}', "Policy has invalid resource"),
    ('{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", '
     '"Resource": "arn:aws:s3:::BUCKET"}]}', "Action does not apply to any resource(s) in statement"),
    ('{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket", '
     '"Resource": "arn:aws:s3:::BUCKET/*"}]}', "Action does not apply to any resource(s) in statement"),
    ('{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObjekt", '
     '"Resource": "arn:aws:s3:::BUCKET/*"}]}', "Policy has invalid action"),
    ('{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", '
     '"Resource": "arn:aws:s3:::BUCKET/*"}]}', "Policy has invalid action"),
    ('{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", '
     '"Resource": "arn:aws:s3:::BUCKET/*", "Condition": {"StringEquals": {"s3:no-such-key": "x"}}}]}',
     "Policy has an invalid condition key"),
])
def test_malformed_policies(s3, document, message):
    bucket = new_bucket(s3)
    response = error_of(s3.put_bucket_policy, Bucket=bucket, Policy=document.replace("BUCKET", bucket))
    assert status_and_code(response) == (400, "MalformedPolicy")
    assert response["Error"]["Message"] == message
    assert status_and_code(error_of(s3.get_bucket_policy, Bucket=bucket)) == (404, "NoSuchBucketPolicy")


def test_wildcard_resources_that_reach_the_bucket_are_accepted(s3):
    bucket = new_bucket(s3)
    for resources in (["arn:aws:s3:::*", "arn:aws:s3:::*/*"], "*", f"arn:aws:s3:::{bucket[:-1]}?/*",
                      f"arn:aws:s3:::{bucket}/${{aws:username}}/*"):
        s3.put_bucket_policy(Bucket=bucket, Policy=policy(allow("s3:*", resources)))


# -- who gets in --------------------------------------------------------------------------------

def test_anonymous_callers_need_a_public_grant(s3, anonymous):
    bucket = new_bucket(s3, "doc", "private/doc")
    assert denied(anonymous.get_object, Bucket=bucket, Key="doc")
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(
        allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*"),
        deny("s3:GetObject", f"arn:aws:s3:::{bucket}/private/*")))
    assert anonymous.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"doc"
    assert denied(anonymous.get_object, Bucket=bucket, Key="private/doc")
    assert denied(anonymous.list_objects_v2, Bucket=bucket)  # not granted
    assert denied(anonymous.put_object, Bucket=bucket, Key="new", Body=b"x")
    # {"AWS": "*"} is everyone too, anonymous callers included.
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(
        allow("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"AWS": "*"})))
    assert [o["Key"] for o in anonymous.list_objects_v2(Bucket=bucket)["Contents"]] == ["doc", "private/doc"]
    assert denied(anonymous.get_object, Bucket=bucket, Key="doc")  # the old grant is gone
    s3.delete_bucket_policy(Bucket=bucket)
    assert denied(anonymous.list_objects_v2, Bucket=bucket)


def test_a_user_without_permissions_is_let_in_by_name(stack, s3):
    bucket = new_bucket(s3, "report")
    arn, user = iam_user(stack, None)
    _other_arn, other = iam_user(stack, None)
    assert denied(user.get_object, Bucket=bucket, Key="report")
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(allow(["s3:GetObject", "s3:PutObject"],
                                                            f"arn:aws:s3:::{bucket}/*", {"AWS": arn})))
    assert user.get_object(Bucket=bucket, Key="report")["Body"].read() == b"report"
    user.put_object(Bucket=bucket, Key="from-user", Body=b"hi")
    assert denied(user.delete_object, Bucket=bucket, Key="report")  # not granted
    assert denied(other.get_object, Bucket=bucket, Key="report")  # another user of the same account
    # The account as principal ("AWS": "<account id>") delegates to the account: its users still
    # need an identity policy of their own.
    account = arn.split(":")[4]
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*",
                                                            {"AWS": account})))
    assert denied(other.get_object, Bucket=bucket, Key="report")
    assert denied(user.get_object, Bucket=bucket, Key="report")
    _reader_arn, reader = iam_user(stack, [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}])
    assert reader.get_object(Bucket=bucket, Key="report")["Body"].read() == b"report"
    # A Deny naming the account denies every principal in it.
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(
        {"Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bucket}/*"}))
    assert denied(reader.get_object, Bucket=bucket, Key="report")


def test_an_explicit_deny_wins_over_identity_policies_and_the_root(stack, s3):
    bucket = new_bucket(s3, "keep")
    _arn, admin = iam_user(stack, [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}])
    assert admin.get_object(Bucket=bucket, Key="keep")["Body"].read() == b"keep"
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(deny("s3:*", [f"arn:aws:s3:::{bucket}",
                                                                     f"arn:aws:s3:::{bucket}/*"])))
    for client in (admin, s3):
        assert denied(client.get_object, Bucket=bucket, Key="keep")
        assert denied(client.delete_object, Bucket=bucket, Key="keep")
        assert denied(client.list_objects_v2, Bucket=bucket)
        assert denied(client.get_bucket_policy_status, Bucket=bucket)
    assert denied(admin.get_bucket_policy, Bucket=bucket)
    assert denied(admin.delete_bucket_policy, Bucket=bucket)
    # The owner's root may always read, replace and delete the policy, so it cannot lock itself out.
    assert "Deny" in s3.get_bucket_policy(Bucket=bucket)["Policy"]
    s3.put_bucket_policy(Bucket=bucket, Policy=s3.get_bucket_policy(Bucket=bucket)["Policy"],
                         ConfirmRemoveSelfBucketAccess=True)
    s3.delete_bucket_policy(Bucket=bucket)
    assert s3.get_object(Bucket=bucket, Key="keep")["Body"].read() == b"keep"
    assert admin.get_object(Bucket=bucket, Key="keep")["Body"].read() == b"keep"


OTHER_ACCOUNT = "111122223333"


def other_account(stack):
    """The root's S3 and IAM clients of a second account."""
    iam = stack.stack.provider("iam")
    iam.store.ensure_account(OTHER_ACCOUNT)
    iam.store.access_keys.ensure_root_key(OTHER_ACCOUNT, None, None)
    key_id, secret = iam.root_credentials(OTHER_ACCOUNT)
    keys = {"aws_access_key_id": key_id, "aws_secret_access_key": secret}
    return (stack.client("s3", config=Config(retries={"max_attempts": 0}), **keys), stack.client("iam", **keys))


def test_another_account_needs_the_policy_and_its_own_permissions(stack, s3, anonymous):
    bucket = new_bucket(s3, "shared/report", "private/plans")
    other_root, other_iam = other_account(stack)
    assert denied(other_root.get_object, Bucket=bucket, Key="shared/report")  # no policy: no way in
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(
        allow("s3:GetObject", f"arn:aws:s3:::{bucket}/shared/*", {"AWS": OTHER_ACCOUNT}),
        allow(["s3:ListBucket", "s3:GetBucketPolicy"], f"arn:aws:s3:::{bucket}", {"AWS": OTHER_ACCOUNT})))
    # The other account's root has every permission in its account, so the grant suffices.
    assert other_root.get_object(Bucket=bucket, Key="shared/report")["Body"].read() == b"shared/report"
    assert [o["Key"] for o in other_root.list_objects_v2(Bucket=bucket)["Contents"]] == ["private/plans",
                                                                                        "shared/report"]
    other_root.head_bucket(Bucket=bucket)
    assert denied(other_root.get_object, Bucket=bucket, Key="private/plans")
    assert denied(other_root.put_object, Bucket=bucket, Key="shared/new", Body=b"x")
    # Only the owner's account may touch the policy itself, granted or not.
    response = error_of(other_root.get_bucket_policy, Bucket=bucket)
    assert status_and_code(response) == (405, "MethodNotAllowed")
    # Its users need an identity policy of their own as well.
    other_iam.create_user(UserName="reader")
    key = other_iam.create_access_key(UserName="reader")["AccessKey"]
    reader = stack.client("s3", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                          config=Config(retries={"max_attempts": 0}))
    assert denied(reader.get_object, Bucket=bucket, Key="shared/report")
    other_iam.put_user_policy(UserName="reader", PolicyName="s3", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    assert reader.get_object(Bucket=bucket, Key="shared/report")["Body"].read() == b"shared/report"
    assert denied(reader.get_object, Bucket=bucket, Key="private/plans")  # its own allow-all is not enough
    # A Deny for the account wins.
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(
        allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*"),
        deny("s3:GetObject", f"arn:aws:s3:::{bucket}/*", {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"})))
    assert denied(other_root.get_object, Bucket=bucket, Key="shared/report")
    assert denied(reader.get_object, Bucket=bucket, Key="shared/report")
    assert anonymous.get_object(Bucket=bucket, Key="shared/report")["Body"].read() == b"shared/report"


def test_anonymous_callers_reach_any_accounts_public_bucket(stack, anonymous):
    other_root, _ = other_account(stack)
    bucket = new_bucket(other_root, "index.html")
    assert denied(anonymous.get_object, Bucket=bucket, Key="index.html")
    other_root.put_bucket_policy(Bucket=bucket, Policy=policy(allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*")))
    assert anonymous.get_object(Bucket=bucket, Key="index.html")["Body"].read() == b"index.html"


def test_a_deny_binds_other_services_calling_s3(stack, s3):
    """Lambda, Glue and Athena reach S3 through Stack.call, as a principal: the bucket policy
    applies to them as to a client."""
    bucket = new_bucket(s3, "code.zip")
    root = stack.stack.credentials.lookup(stack.credentials["aws_access_key_id"]).principal
    params = {"Bucket": bucket, "Key": "code.zip"}
    assert stack.stack.call("s3", "GetObject", params, root)["Body"] == b"code.zip"
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(deny("s3:GetObject", f"arn:aws:s3:::{bucket}/*")))
    with pytest.raises(AwsError) as caught:
        stack.stack.call("s3", "GetObject", params, root)
    assert (caught.value.code, caught.value.status) == ("AccessDenied", 403)


def test_a_policy_only_speaks_for_its_own_bucket(stack, s3):
    """A copy checks the source object against the source bucket's policy."""
    source = new_bucket(s3, "public/a", "private/b")
    target = new_bucket(s3)
    _arn, user = iam_user(stack, [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{target}/*"}])
    s3.put_bucket_policy(Bucket=source, Policy=policy(allow("s3:GetObject", f"arn:aws:s3:::{source}/public/*")))
    user.copy_object(Bucket=target, Key="a", CopySource=f"{source}/public/a")
    assert s3.get_object(Bucket=target, Key="a")["Body"].read() == b"public/a"
    assert denied(user.copy_object, Bucket=target, Key="b", CopySource=f"{source}/private/b")
    assert denied(user.get_object, Bucket=target, Key="a")  # the source's policy grants nothing here


def test_block_public_access_seam(stack, s3, anonymous):
    """What Block Public Access asks of bucket policies, through the seam it plugs into
    (BucketPolicies.public_access_block → (BlockPublicPolicy, RestrictPublicBuckets))."""
    bucket = new_bucket(s3, "doc")
    policies = stack.stack.provider("s3").bucket_policies
    settings = {bucket: (True, False)}
    original = policies.public_access_block
    policies.public_access_block = lambda name: settings.get(name, (False, False))
    try:
        public = policy(allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*"))
        assert status_and_code(error_of(s3.put_bucket_policy, Bucket=bucket, Policy=public)) == (403, "AccessDenied")
        s3.put_bucket_policy(Bucket=bucket, Policy=policy(allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*",
                                                                {"AWS": "123456789012"})))  # not public
        settings[bucket] = (False, False)
        s3.put_bucket_policy(Bucket=bucket, Policy=public)
        assert anonymous.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"doc"
        settings[bucket] = (False, True)  # RestrictPublicBuckets: the owner's account only
        assert denied(anonymous.get_object, Bucket=bucket, Key="doc")
        arn, user = iam_user(stack, None)
        s3.put_bucket_policy(Bucket=bucket, Policy=policy(allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*"),
                                                          allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*", {"AWS": arn})))
        assert user.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"doc"
        assert denied(anonymous.get_object, Bucket=bucket, Key="doc")
    finally:
        policies.public_access_block = original


# -- condition keys -----------------------------------------------------------------------------

def test_request_header_condition_keys(s3):
    bucket = new_bucket(s3)
    objects = f"arn:aws:s3:::{bucket}/*"
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(
        deny("s3:PutObject", objects, Condition={"Null": {"s3:x-amz-server-side-encryption": "true"}}),
        deny("s3:PutObject", objects, Condition={"StringNotEquals": {"s3:x-amz-server-side-encryption": "AES256"}}),
        deny("s3:PutObject", objects, Condition={"StringLike": {"s3:x-amz-acl": "public*"}})))
    assert denied(s3.put_object, Bucket=bucket, Key="plain", Body=b"x")
    assert denied(s3.put_object, Bucket=bucket, Key="kms", Body=b"x", ServerSideEncryption="aws:kms")
    assert denied(s3.put_object, Bucket=bucket, Key="public", Body=b"x", ServerSideEncryption="AES256",
                  ACL="public-read")
    s3.put_object(Bucket=bucket, Key="encrypted", Body=b"x", ServerSideEncryption="AES256")
    s3.put_object(Bucket=bucket, Key="private", Body=b"x", ServerSideEncryption="AES256", ACL="private")


def test_list_and_copy_condition_keys(stack, s3):
    bucket = new_bucket(s3, "home/alice/a", "home/bob/b", "shared/c")
    _arn, user = iam_user(stack, None)
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(
        allow("s3:ListBucket", f"arn:aws:s3:::{bucket}", Condition={"StringLike": {"s3:prefix": ["home/alice/*", ""]},
                                                                   "StringEqualsIfExists": {"s3:delimiter": "/"}}),
        allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*"),
        allow("s3:PutObject", f"arn:aws:s3:::{bucket}/copies/*",
              Condition={"StringLike": {"s3:x-amz-copy-source": f"{bucket}/shared/*"}})))
    assert [o["Key"] for o in user.list_objects_v2(Bucket=bucket, Prefix="home/alice/")["Contents"]] == ["home/alice/a"]
    assert user.list_objects(Bucket=bucket, Delimiter="/")["CommonPrefixes"] == [{"Prefix": "home/"}, {"Prefix": "shared/"}]
    assert denied(user.list_objects_v2, Bucket=bucket, Prefix="home/bob/")
    assert denied(user.list_objects_v2, Bucket=bucket, Delimiter="|")
    user.copy_object(Bucket=bucket, Key="copies/c", CopySource=f"{bucket}/shared/c")
    assert denied(user.copy_object, Bucket=bucket, Key="copies/b", CopySource=f"{bucket}/home/bob/b")
    assert denied(user.put_object, Bucket=bucket, Key="copies/direct", Body=b"x")  # no copy source at all


def test_referer_and_request_tag_condition_keys(stack, s3, anonymous):
    bucket = new_bucket(s3, "page")
    arn, user = iam_user(stack, None)
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(
        allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*",
              Condition={"StringLike": {"aws:Referer": "http://www.example.com/*"}}),
        # A write with x-amz-tagging needs s3:PutObjectTagging too (API_PutObject.html).
        allow(["s3:PutObject", "s3:PutObjectTagging"], f"arn:aws:s3:::{bucket}/*", {"AWS": arn},
              Condition={"StringEquals": {"s3:RequestObjectTag/security": "public"}})))

    def with_referer(referer):
        client = stack.client("s3", config=Config(signature_version=UNSIGNED, retries={"max_attempts": 0}))
        client.meta.events.register("before-call.s3.GetObject",
                                    lambda params, **kwargs: params["headers"].update(referer=referer))
        return client

    assert with_referer("http://www.example.com/index.html").get_object(Bucket=bucket, Key="page")["Body"].read()
    assert denied(with_referer("http://evil.example.org/").get_object, Bucket=bucket, Key="page")
    assert denied(anonymous.get_object, Bucket=bucket, Key="page")
    assert denied(user.put_object, Bucket=bucket, Key="untagged", Body=b"x")
    assert denied(user.put_object, Bucket=bucket, Key="private", Body=b"x", Tagging="security=private")
    user.put_object(Bucket=bucket, Key="public", Body=b"x", Tagging="owner=me&security=public")


def test_existing_object_tag_condition_key(stack, s3, anonymous):
    """s3:ExistingObjectTag/<key> reads the object's tags through BucketPolicies.object_tags
    (object tagging plugs in there; here a stand-in gives the tags)."""
    bucket = new_bucket(s3, "public-doc", "private-doc", "untagged")
    policies = stack.stack.provider("s3").bucket_policies
    tags = {(bucket, "public-doc"): {"security": "public", "team": "a"}, (bucket, "private-doc"): {"security": "private"}}
    asked = []
    original = policies.object_tags

    def object_tags(name, key, version_id):
        asked.append((name, key, version_id))
        return tags.get((name, key))

    policies.object_tags = object_tags
    try:
        s3.put_bucket_policy(Bucket=bucket, Policy=policy(allow(
            "s3:GetObject", f"arn:aws:s3:::{bucket}/*",
            Condition={"StringEquals": {"s3:ExistingObjectTag/security": "public"}})))
        assert anonymous.get_object(Bucket=bucket, Key="public-doc")["Body"].read() == b"public-doc"
        assert denied(anonymous.get_object, Bucket=bucket, Key="private-doc")
        assert denied(anonymous.get_object, Bucket=bucket, Key="untagged")
        assert (bucket, "public-doc", None) in asked
        asked.clear()
        s3.put_bucket_policy(Bucket=bucket, Policy=policy(allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*")))
        anonymous.get_object(Bucket=bucket, Key="untagged")
        assert not asked  # read only for a policy that tests it
    finally:
        policies.object_tags = original


# -- lifetime ------------------------------------------------------------------------------------

def test_deleting_the_bucket_drops_its_policy(s3, anonymous):
    bucket = new_bucket(s3)
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(allow("s3:ListBucket", f"arn:aws:s3:::{bucket}")))
    s3.delete_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=bucket)
    assert status_and_code(error_of(s3.get_bucket_policy, Bucket=bucket)) == (404, "NoSuchBucketPolicy")
    assert denied(anonymous.list_objects_v2, Bucket=bucket)


def test_a_policy_survives_kill_9(server_process):
    server = server_process({"LAKESTACK_S3_BUCKET_DEFAULTS": "legacy"})
    s3 = server.client("s3")
    s3.create_bucket(Bucket="kept-policy")
    s3.put_object(Bucket="kept-policy", Key="open", Body=b"open")
    s3.put_object(Bucket="kept-policy", Key="closed", Body=b"closed")
    document = policy(allow("s3:GetObject", "arn:aws:s3:::kept-policy/*"),
                      deny("s3:GetObject", "arn:aws:s3:::kept-policy/closed"))
    s3.put_bucket_policy(Bucket="kept-policy", Policy=document)
    s3.create_bucket(Bucket="dropped-policy")
    s3.put_bucket_policy(Bucket="dropped-policy", Policy=policy(allow("s3:ListBucket", "arn:aws:s3:::dropped-policy")))
    s3.delete_bucket(Bucket="dropped-policy")
    server.kill()
    server.start()
    assert s3.get_bucket_policy(Bucket="kept-policy")["Policy"] == document
    anonymous = server.client("s3", signature_version=UNSIGNED)
    assert anonymous.get_object(Bucket="kept-policy", Key="open")["Body"].read() == b"open"
    assert denied(anonymous.get_object, Bucket="kept-policy", Key="closed")
    assert denied(s3.get_object, Bucket="kept-policy", Key="closed")  # the root too
    s3.create_bucket(Bucket="dropped-policy")
    assert status_and_code(error_of(s3.get_bucket_policy, Bucket="dropped-policy")) == (404, "NoSuchBucketPolicy")


# -- the AWS CLI ------------------------------------------------------------------------------------

@pytest.mark.skipif(not AWS.exists(), reason="the AWS CLI is not installed in this environment")
def test_aws_cli_put_get_delete_bucket_policy(stack, s3, anonymous, tmp_path):
    bucket = new_bucket(s3, "index.html")
    env = aws_cli_env(stack, tmp_path)

    def aws(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(AWS), "s3api", *args], env=env, capture_output=True, text=True, timeout=120)

    document = tmp_path / "policy.json"
    document.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bucket}/*"}]}, indent=2))
    done = aws("put-bucket-policy", "--bucket", bucket, "--policy", f"file://{document}")
    assert done.returncode == 0, done.stderr
    done = aws("get-bucket-policy", "--bucket", bucket)
    assert json.loads(json.loads(done.stdout)["Policy"]) == json.loads(document.read_text())
    done = aws("get-bucket-policy-status", "--bucket", bucket)
    assert json.loads(done.stdout) == {"PolicyStatus": {"IsPublic": True}}
    assert anonymous.get_object(Bucket=bucket, Key="index.html")["Body"].read() == b"index.html"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                              "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    done = aws("put-bucket-policy", "--bucket", bucket, "--policy", f"file://{bad}")
    assert done.returncode != 0 and "MalformedPolicy" in done.stderr and "Missing required field Principal" in done.stderr
    assert aws("delete-bucket-policy", "--bucket", bucket).returncode == 0
    done = aws("get-bucket-policy", "--bucket", bucket)
    assert done.returncode != 0 and "NoSuchBucketPolicy" in done.stderr
    assert denied(anonymous.get_object, Bucket=bucket, Key="index.html")
