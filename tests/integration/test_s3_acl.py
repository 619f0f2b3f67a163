"""ACLs, Object Ownership and Block Public Access against a real server: the defaults of a new
bucket (AWS since April 2023, and "legacy" before it), canned ACLs and grants on buckets,
objects, versions, copies and multipart uploads, their validation errors, and who they let
in — anonymous (unsigned) clients, IAM users, explicit denies — through boto3 and `aws s3api`."""

import itertools
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from helpers import aws_cli_env, error_of

import lakestack

AWS = Path(sys.executable).parent / "aws"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
_names = itertools.count()


@pytest.fixture(scope="module")
def stack():
    with lakestack.local() as running:  # s3_bucket_defaults "2023": what AWS does today
        yield running


@pytest.fixture(scope="module")
def owner_id(s3):
    return s3.list_buckets()["Owner"]["ID"]


def code(call, **kwargs) -> tuple[str, int]:
    response = error_of(call, **kwargs)
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def acl_bucket(s3, ownership: str = "ObjectWriter", **kwargs) -> str:
    """A bucket with ACLs enabled and Block Public Access off."""
    name = f"acl-{next(_names)}"
    s3.create_bucket(Bucket=name, ObjectOwnership=ownership, **kwargs)
    s3.delete_public_access_block(Bucket=name)
    return name


def grants(response) -> list[tuple]:
    return sorted((g["Grantee"]["Type"], g["Grantee"].get("URI") or g["Grantee"].get("ID"), g["Permission"])
                  for g in response["Grants"])


# -- defaults ----------------------------------------------------------------------------------


def test_a_new_bucket_has_acls_disabled_and_public_access_blocked(s3, owner_id):
    s3.create_bucket(Bucket="acl-defaults")
    rules = s3.get_bucket_ownership_controls(Bucket="acl-defaults")["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    flags = s3.get_public_access_block(Bucket="acl-defaults")["PublicAccessBlockConfiguration"]
    assert flags == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                     "RestrictPublicBuckets": True}
    acl = s3.get_bucket_acl(Bucket="acl-defaults")
    assert acl["Owner"]["ID"] == owner_id
    assert grants(acl) == [("CanonicalUser", owner_id, "FULL_CONTROL")]
    s3.put_object(Bucket="acl-defaults", Key="k", Body=b"x", ACL="bucket-owner-full-control")
    assert grants(s3.get_object_acl(Bucket="acl-defaults", Key="k")) == [("CanonicalUser", owner_id, "FULL_CONTROL")]
    assert code(s3.put_bucket_acl, Bucket="acl-defaults", ACL="private") == ("AccessControlListNotSupported", 400)
    assert code(s3.put_object_acl, Bucket="acl-defaults", Key="k", ACL="private") == (
        "AccessControlListNotSupported", 400)
    assert code(s3.put_object, Bucket="acl-defaults", Key="p", Body=b"x", ACL="public-read") == (
        "AccessControlListNotSupported", 400)
    assert code(s3.create_bucket, Bucket="acl-defaults-public", ACL="public-read") == (
        "InvalidBucketAclWithObjectOwnership", 400)
    # ACLs enabled, but Block Public Access is on from the start.
    assert code(s3.create_bucket, Bucket="acl-defaults-public", ObjectOwnership="ObjectWriter",
                ACL="public-read") == ("InvalidBucketAclWithBlockPublicAccessError", 400)
    assert code(s3.create_bucket, Bucket="acl-defaults-bad", ObjectOwnership="Nobody") == ("InvalidArgument", 400)


def test_legacy_defaults_are_acls_enabled_and_nothing_blocked():
    with lakestack.local(s3_bucket_defaults="legacy") as legacy:
        s3 = legacy.client("s3")
        s3.create_bucket(Bucket="legacy-bucket", ACL="public-read")
        assert code(s3.get_bucket_ownership_controls, Bucket="legacy-bucket") == (
            "OwnershipControlsNotFoundError", 404)
        assert code(s3.get_public_access_block, Bucket="legacy-bucket") == (
            "NoSuchPublicAccessBlockConfiguration", 404)
        assert ("Group", ALL_USERS, "READ") in grants(s3.get_bucket_acl(Bucket="legacy-bucket"))
        s3.put_object(Bucket="legacy-bucket", Key="k", Body=b"x", ACL="public-read")
        anonymous = boto3.client("s3", endpoint_url=legacy.endpoint_url, region_name="us-east-1",
                                 config=Config(signature_version=UNSIGNED))
        assert [o["Key"] for o in anonymous.list_objects_v2(Bucket="legacy-bucket")["Contents"]] == ["k"]
        assert anonymous.get_object(Bucket="legacy-bucket", Key="k")["Body"].read() == b"x"


# -- Object Ownership and Block Public Access operations -------------------------------------


def test_ownership_controls_put_get_delete(s3):
    name = acl_bucket(s3)
    assert s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "ObjectWriter"}]
    s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]})
    assert s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerPreferred"}]
    s3.delete_bucket_ownership_controls(Bucket=name)
    assert code(s3.get_bucket_ownership_controls, Bucket=name) == ("OwnershipControlsNotFoundError", 404)
    s3.delete_bucket_ownership_controls(Bucket=name)  # deleting none is fine
    assert code(s3.put_bucket_ownership_controls, Bucket=name, OwnershipControls={"Rules": [
        {"ObjectOwnership": "ObjectWriter"}, {"ObjectOwnership": "ObjectWriter"}]}) == ("MalformedXML", 400)
    assert code(s3.put_bucket_ownership_controls, Bucket=name, OwnershipControls={"Rules": [
        {"ObjectOwnership": "Someone"}]}) == ("MalformedXML", 400)
    # ACLs can be disabled only once the bucket's ACL grants its owner alone.
    s3.put_bucket_acl(Bucket=name, ACL="public-read")
    enforced = {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert code(s3.put_bucket_ownership_controls, Bucket=name, OwnershipControls=enforced) == (
        "InvalidBucketAclWithObjectOwnership", 400)
    s3.put_bucket_acl(Bucket=name, ACL="private")
    s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=enforced)
    assert code(s3.get_bucket_ownership_controls, Bucket="acl-no-such-bucket") == ("NoSuchBucket", 404)


def test_public_access_block_put_get_delete(s3):
    name = acl_bucket(s3)
    assert code(s3.get_public_access_block, Bucket=name) == ("NoSuchPublicAccessBlockConfiguration", 404)
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={"BlockPublicAcls": True,
                                                                            "BlockPublicPolicy": True})
    assert s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": True, "RestrictPublicBuckets": False}
    assert s3.delete_public_access_block(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert code(s3.get_public_access_block, Bucket=name) == ("NoSuchPublicAccessBlockConfiguration", 404)


# -- ACLs: what they say ---------------------------------------------------------------------


@pytest.mark.parametrize(("canned", "extra"), [
    ("private", []),
    ("public-read", [("Group", ALL_USERS, "READ")]),
    ("public-read-write", [("Group", ALL_USERS, "READ"), ("Group", ALL_USERS, "WRITE")]),
    ("authenticated-read", [("Group", AUTHENTICATED_USERS, "READ")]),
    ("log-delivery-write", [("Group", "http://acs.amazonaws.com/groups/s3/LogDelivery", "READ_ACP"),
                            ("Group", "http://acs.amazonaws.com/groups/s3/LogDelivery", "WRITE")]),
])
def test_canned_bucket_acls(s3, owner_id, canned, extra):
    name = acl_bucket(s3)
    s3.put_bucket_acl(Bucket=name, ACL=canned)
    acl = s3.get_bucket_acl(Bucket=name)
    assert grants(acl) == sorted([("CanonicalUser", owner_id, "FULL_CONTROL"), *extra])
    assert acl["Owner"]["ID"] == owner_id


def test_canned_object_acls(s3, owner_id):
    name = acl_bucket(s3)
    s3.put_object(Bucket=name, Key="exec", Body=b"x", ACL="aws-exec-read")
    assert len(s3.get_object_acl(Bucket=name, Key="exec")["Grants"]) == 2
    s3.put_object(Bucket=name, Key="owner-read", Body=b"x", ACL="bucket-owner-read")
    assert grants(s3.get_object_acl(Bucket=name, Key="owner-read")) == [
        ("CanonicalUser", owner_id, "FULL_CONTROL"), ("CanonicalUser", owner_id, "READ")]
    s3.put_object(Bucket=name, Key="plain", Body=b"x")
    assert grants(s3.get_object_acl(Bucket=name, Key="plain")) == [("CanonicalUser", owner_id, "FULL_CONTROL")]


def test_grants_by_header_and_by_policy(s3, owner_id):
    name = acl_bucket(s3)
    s3.put_bucket_acl(Bucket=name, GrantRead=f'uri="{AUTHENTICATED_USERS}", id="{owner_id}"',
                      GrantFullControl=f"id={owner_id}")
    assert grants(s3.get_bucket_acl(Bucket=name)) == sorted([
        ("Group", AUTHENTICATED_USERS, "READ"), ("CanonicalUser", owner_id, "READ"),
        ("CanonicalUser", owner_id, "FULL_CONTROL")])
    policy = {"Owner": {"ID": owner_id}, "Grants": [
        {"Grantee": {"Type": "CanonicalUser", "ID": owner_id}, "Permission": "FULL_CONTROL"},
        {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ_ACP"}]}
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    s3.put_object_acl(Bucket=name, Key="k", AccessControlPolicy=policy)
    answered = s3.get_object_acl(Bucket=name, Key="k")
    assert grants(answered) == sorted([("CanonicalUser", owner_id, "FULL_CONTROL"), ("Group", ALL_USERS, "READ_ACP")])
    assert answered["Grants"][0]["Grantee"]["Type"] == "Group"  # groups first
    # Every grant can be revoked, the owner's too.
    s3.put_bucket_acl(Bucket=name, AccessControlPolicy={"Owner": {"ID": owner_id}, "Grants": []})
    assert s3.get_bucket_acl(Bucket=name)["Grants"] == []


def test_acl_validation_errors(s3, owner_id):
    name = acl_bucket(s3)
    owner = {"ID": owner_id}

    def policy(grantee, permission="READ", **kwargs):
        return {"Owner": owner, "Grants": [{"Grantee": grantee, "Permission": permission}], **kwargs}

    assert code(s3.put_bucket_acl, Bucket=name, AccessControlPolicy=policy(
        {"Type": "CanonicalUser", "ID": "_foo"})) == ("InvalidArgument", 400)
    assert code(s3.put_bucket_acl, Bucket=name, AccessControlPolicy=policy(
        {"Type": "CanonicalUser", "ID": "0" * 64})) == ("InvalidArgument", 400)
    assert code(s3.put_bucket_acl, Bucket=name, AccessControlPolicy=policy(
        {"Type": "AmazonCustomerByEmail", "EmailAddress": "nobody@example.com"})) == (
        "UnresolvableGrantByEmailAddress", 400)
    assert code(s3.put_bucket_acl, Bucket=name, AccessControlPolicy=policy(
        {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/Nobody"})) == ("InvalidArgument", 400)
    assert code(s3.put_bucket_acl, Bucket=name, AccessControlPolicy=policy(
        {"Type": "CanonicalUser", "ID": owner_id}, "EVERYTHING")) == ("MalformedACLError", 400)
    assert code(s3.put_bucket_acl, Bucket=name, AccessControlPolicy={"Grants": []}) == ("MalformedACLError", 400)
    assert code(s3.put_bucket_acl, Bucket=name, ACL="public-read", GrantRead=f"id={owner_id}") == (
        "InvalidRequest", 400)
    assert code(s3.put_bucket_acl, Bucket=name) == ("MissingSecurityHeader", 400)
    assert code(s3.put_bucket_acl, Bucket=name, GrantRead="id") == ("InvalidArgument", 400)
    assert code(s3.put_object, Bucket=name, Key="k", Body=b"x", GrantRead="emailAddress=x@example.com") == (
        "UnresolvableGrantByEmailAddress", 400)
    assert code(s3.get_object_acl, Bucket=name, Key="missing") == ("NoSuchKey", 404)


def test_bad_canned_acl_is_refused(s3):
    name = acl_bucket(s3)
    s3.meta.events.register_first("before-sign.s3.PutBucketAcl", _bad_canned)
    try:
        assert code(s3.put_bucket_acl, Bucket=name, ACL="public-read") == ("InvalidArgument", 400)
    finally:
        s3.meta.events.unregister("before-sign.s3.PutBucketAcl", _bad_canned)


def _bad_canned(request, **kwargs):
    request.headers.replace_header("x-amz-acl", "public-ready")


# -- ACLs on versions, copies, multipart uploads, deletes ------------------------------------


def test_versions_keep_their_own_acl(s3, anonymous, owner_id):
    name = acl_bucket(s3)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=name, Key="k", Body=b"one", ACL="public-read")["VersionId"]
    v2 = s3.put_object(Bucket=name, Key="k", Body=b"two")["VersionId"]
    assert ("Group", ALL_USERS, "READ") in grants(s3.get_object_acl(Bucket=name, Key="k", VersionId=v1))
    assert grants(s3.get_object_acl(Bucket=name, Key="k")) == [("CanonicalUser", owner_id, "FULL_CONTROL")]
    assert anonymous.get_object(Bucket=name, Key="k", VersionId=v1)["Body"].read() == b"one"
    assert code(anonymous.get_object, Bucket=name, Key="k") == ("AccessDenied", 403)
    s3.put_object_acl(Bucket=name, Key="k", VersionId=v2, ACL="public-read")
    assert anonymous.get_object(Bucket=name, Key="k")["Body"].read() == b"two"
    s3.delete_object(Bucket=name, Key="k", VersionId=v2)  # v1 is current again, with its ACL
    assert anonymous.get_object(Bucket=name, Key="k")["Body"].read() == b"one"


def test_copies_and_multipart_uploads_get_their_own_acl(s3, anonymous):
    name = acl_bucket(s3)
    s3.put_object(Bucket=name, Key="source", Body=b"src", ACL="public-read")
    s3.copy_object(Bucket=name, Key="copy", CopySource=f"{name}/source")
    assert code(anonymous.get_object, Bucket=name, Key="copy") == ("AccessDenied", 403)  # not the source's
    s3.copy_object(Bucket=name, Key="public-copy", CopySource=f"{name}/source", ACL="public-read")
    assert anonymous.get_object(Bucket=name, Key="public-copy")["Body"].read() == b"src"
    upload = s3.create_multipart_upload(Bucket=name, Key="mpu", ACL="public-read")["UploadId"]
    etag = s3.upload_part(Bucket=name, Key="mpu", UploadId=upload, PartNumber=1, Body=b"parts")["ETag"]
    assert code(s3.get_object_acl, Bucket=name, Key="mpu") == ("NoSuchKey", 404)
    s3.complete_multipart_upload(Bucket=name, Key="mpu", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert anonymous.get_object(Bucket=name, Key="mpu")["Body"].read() == b"parts"


def test_overwrites_and_deletes_drop_the_acl(stack, s3, anonymous):
    name = acl_bucket(s3)
    s3.put_object(Bucket=name, Key="k", Body=b"x", ACL="public-read")
    assert anonymous.get_object(Bucket=name, Key="k")["Body"].read() == b"x"
    s3.put_object(Bucket=name, Key="k", Body=b"x")  # the same bytes, written without an ACL
    assert code(anonymous.get_object, Bucket=name, Key="k") == ("AccessDenied", 403)
    s3.put_object(Bucket=name, Key="gone", Body=b"y", ACL="public-read")
    s3.delete_object(Bucket=name, Key="gone")
    s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": "k"}]})
    with sqlite3.connect(f"file:{stack.home / 'state' / 's3.db'}?mode=ro", uri=True) as db:
        assert db.execute("SELECT COUNT(*) FROM object_acls WHERE bucket = ?", (name,)).fetchone()[0] == 0
    s3.delete_bucket(Bucket=name)
    s3.create_bucket(Bucket=name, ObjectOwnership="ObjectWriter")  # nothing of the old bucket's ACLs
    s3.delete_public_access_block(Bucket=name)
    assert code(anonymous.list_objects_v2, Bucket=name) == ("AccessDenied", 403)


# -- who gets in -------------------------------------------------------------------------------


def test_anonymous_access_follows_the_acls(s3, anonymous):
    name = acl_bucket(s3)
    s3.put_object(Bucket=name, Key="public", Body=b"hello", ACL="public-read")
    s3.put_object(Bucket=name, Key="private", Body=b"secret")
    assert anonymous.get_object(Bucket=name, Key="public")["Body"].read() == b"hello"
    assert anonymous.head_object(Bucket=name, Key="public")["ContentLength"] == 5
    assert code(anonymous.get_object, Bucket=name, Key="private") == ("AccessDenied", 403)
    assert code(anonymous.get_object, Bucket=name, Key="missing") == ("AccessDenied", 403)
    assert code(anonymous.list_objects_v2, Bucket=name) == ("AccessDenied", 403)
    assert code(anonymous.put_object, Bucket=name, Key="new", Body=b"x") == ("AccessDenied", 403)
    assert code(anonymous.get_object_acl, Bucket=name, Key="public") == ("AccessDenied", 403)
    s3.put_bucket_acl(Bucket=name, ACL="public-read-write")
    assert sorted(o["Key"] for o in anonymous.list_objects_v2(Bucket=name)["Contents"]) == ["private", "public"]
    assert code(anonymous.get_object, Bucket=name, Key="missing") == ("NoSuchKey", 404)  # may list: learns it
    anonymous.put_object(Bucket=name, Key="new", Body=b"from anyone")
    assert s3.get_object(Bucket=name, Key="new")["Body"].read() == b"from anyone"
    anonymous.delete_object(Bucket=name, Key="new")
    assert code(anonymous.get_bucket_acl, Bucket=name) == ("AccessDenied", 403)
    assert code(anonymous.list_buckets) == ("AccessDenied", 403)


def test_block_public_access_refuses_and_ignores_public_acls(s3, anonymous):
    name = acl_bucket(s3)
    s3.put_bucket_acl(Bucket=name, ACL="public-read")
    s3.put_object(Bucket=name, Key="k", Body=b"x", ACL="public-read")
    assert anonymous.list_objects_v2(Bucket=name)["KeyCount"] == 1
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={"IgnorePublicAcls": True})
    assert code(anonymous.list_objects_v2, Bucket=name) == ("AccessDenied", 403)
    assert code(anonymous.get_object, Bucket=name, Key="k") == ("AccessDenied", 403)
    s3.put_bucket_acl(Bucket=name, ACL="public-read-write")  # still accepted, still ignored
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={"BlockPublicAcls": True})
    assert anonymous.get_object(Bucket=name, Key="k")["Body"].read() == b"x"  # existing ACLs count again
    for canned in ("public-read", "public-read-write", "authenticated-read"):
        assert code(s3.put_bucket_acl, Bucket=name, ACL=canned) == ("AccessDenied", 403)
        assert code(s3.put_object, Bucket=name, Key="new", Body=b"x", ACL=canned) == ("AccessDenied", 403)
        assert code(s3.put_object_acl, Bucket=name, Key="k", ACL=canned) == ("AccessDenied", 403)
    assert code(s3.put_object, Bucket=name, Key="new", Body=b"x", GrantRead=f'uri="{ALL_USERS}"') == (
        "AccessDenied", 403)
    s3.put_object(Bucket=name, Key="new", Body=b"x", ACL="private")


def test_an_explicit_deny_beats_a_public_acl(stack, s3):
    name = acl_bucket(s3)
    s3.put_object(Bucket=name, Key="k", Body=b"x", ACL="public-read")
    iam = stack.client("iam")
    iam.create_user(UserName="acl-denied")
    iam.put_user_policy(UserName="acl-denied", PolicyName="deny", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*"}]}))
    iam.create_user(UserName="acl-nothing")  # no policy at all: the public grant lets it read
    clients = {}
    for user in ("acl-denied", "acl-nothing"):
        key = iam.create_access_key(UserName=user)["AccessKey"]
        clients[user] = stack.client("s3", aws_access_key_id=key["AccessKeyId"],
                                     aws_secret_access_key=key["SecretAccessKey"])
    assert code(clients["acl-denied"].get_object, Bucket=name, Key="k") == ("AccessDenied", 403)
    assert clients["acl-nothing"].get_object(Bucket=name, Key="k")["Body"].read() == b"x"
    assert code(clients["acl-nothing"].put_object, Bucket=name, Key="k", Body=b"y") == ("AccessDenied", 403)
    # AuthenticatedUsers: any signed request, never an anonymous one.
    s3.put_object(Bucket=name, Key="signed", Body=b"z", ACL="authenticated-read")
    assert clients["acl-nothing"].get_object(Bucket=name, Key="signed")["Body"].read() == b"z"


def test_acl_headers_on_a_write_need_put_object_acl(stack, s3, anonymous):
    name = acl_bucket(s3)
    iam = stack.client("iam")
    clients = {}
    for user, actions in (("acl-writer", ["s3:PutObject"]), ("acl-full-writer", ["s3:PutObject", "s3:PutObjectAcl"])):
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="write", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": f"arn:aws:s3:::{name}/*"}]}))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        clients[user] = stack.client("s3", aws_access_key_id=key["AccessKeyId"],
                                     aws_secret_access_key=key["SecretAccessKey"])
    clients["acl-writer"].put_object(Bucket=name, Key="plain", Body=b"x")
    assert code(clients["acl-writer"].put_object, Bucket=name, Key="k", Body=b"x", ACL="public-read") == (
        "AccessDenied", 403)
    clients["acl-full-writer"].put_object(Bucket=name, Key="k", Body=b"x", ACL="public-read")
    assert anonymous.get_object(Bucket=name, Key="k")["Body"].read() == b"x"
    # Whom a bucket ACL lets write may state the new object's ACL.
    s3.put_bucket_acl(Bucket=name, ACL="public-read-write")
    anonymous.put_object(Bucket=name, Key="anon", Body=b"y", ACL="public-read")
    assert anonymous.get_object(Bucket=name, Key="anon")["Body"].read() == b"y"


# -- the AWS CLI -------------------------------------------------------------------------------


@pytest.mark.skipif(not AWS.exists(), reason="the AWS CLI is not installed in this environment")
def test_acls_through_the_cli(stack, s3, anonymous, tmp_path):
    env = aws_cli_env(stack, tmp_path)

    def s3api(*args: str) -> dict:
        done = subprocess.run([str(AWS), "s3api", *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else {}

    s3api("create-bucket", "--bucket", "acl-cli", "--object-ownership", "BucketOwnerPreferred")
    s3api("delete-public-access-block", "--bucket", "acl-cli")
    s3api("put-bucket-acl", "--bucket", "acl-cli", "--acl", "public-read")
    answered = s3api("get-bucket-acl", "--bucket", "acl-cli")
    assert {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"} in answered["Grants"]
    assert s3api("get-bucket-ownership-controls", "--bucket", "acl-cli")["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerPreferred"}]
    assert anonymous.list_objects_v2(Bucket="acl-cli")["KeyCount"] == 0
    s3api("put-public-access-block", "--bucket", "acl-cli", "--public-access-block-configuration",
          "IgnorePublicAcls=true")
    assert s3api("get-public-access-block", "--bucket", "acl-cli")["PublicAccessBlockConfiguration"][
        "IgnorePublicAcls"] is True
    assert code(anonymous.list_objects_v2, Bucket="acl-cli") == ("AccessDenied", 403)


# -- durability ----------------------------------------------------------------------------------


def test_acls_ownership_and_blocks_survive_a_kill(server_process):
    server = server_process()
    s3 = server.client("s3")
    s3.create_bucket(Bucket="acl-crash", ObjectOwnership="BucketOwnerPreferred")
    s3.put_public_access_block(Bucket="acl-crash", PublicAccessBlockConfiguration={"BlockPublicPolicy": True})
    s3.put_bucket_acl(Bucket="acl-crash", ACL="public-read")
    s3.put_object(Bucket="acl-crash", Key="k", Body=b"x", ACL="public-read")
    s3.put_object(Bucket="acl-crash", Key="later", Body=b"y")
    s3.put_object_acl(Bucket="acl-crash", Key="later", ACL="authenticated-read")
    s3.create_bucket(Bucket="acl-crash-enforced")
    server.kill()
    server.start()
    assert s3.get_bucket_ownership_controls(Bucket="acl-crash")["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerPreferred"}]
    assert s3.get_public_access_block(Bucket="acl-crash")["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]
    assert ("Group", ALL_USERS, "READ") in grants(s3.get_bucket_acl(Bucket="acl-crash"))
    assert ("Group", ALL_USERS, "READ") in grants(s3.get_object_acl(Bucket="acl-crash", Key="k"))
    assert ("Group", AUTHENTICATED_USERS, "READ") in grants(s3.get_object_acl(Bucket="acl-crash", Key="later"))
    assert s3.get_bucket_ownership_controls(Bucket="acl-crash-enforced")["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}]
    anonymous = boto3.client("s3", endpoint_url=server.endpoint_url, region_name="us-east-1",
                             config=Config(signature_version=UNSIGNED, retries={"max_attempts": 0}))
    assert anonymous.get_object(Bucket="acl-crash", Key="k")["Body"].read() == b"x"


def test_a_bucket_from_before_object_ownership_stays_enforced(tmp_path):
    """A store written before lakestack had Object Ownership has no ownership row for a bucket:
    every bucket was BucketOwnerEnforced then, and stays so (in either defaults mode)."""
    with lakestack.local(home=tmp_path, s3_bucket_defaults="legacy") as first:
        first.client("s3").create_bucket(Bucket="acl-old-bucket")
    with sqlite3.connect(tmp_path / "state" / "s3.db") as db:
        db.execute("DELETE FROM bucket_ownership WHERE bucket = 'acl-old-bucket'")
    with lakestack.local(home=tmp_path, s3_bucket_defaults="legacy") as second:
        s3 = second.client("s3")
        assert s3.get_bucket_ownership_controls(Bucket="acl-old-bucket")["OwnershipControls"]["Rules"] == [
            {"ObjectOwnership": "BucketOwnerEnforced"}]
        assert code(s3.put_bucket_acl, Bucket="acl-old-bucket", ACL="public-read") == (
            "AccessControlListNotSupported", 400)
