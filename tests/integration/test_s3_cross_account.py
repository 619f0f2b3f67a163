"""S3 between two accounts, the second made as a user makes one (Organizations' CreateAccount,
then AssumeRole into OrganizationAccountAccessRole): a caller of another account needs its own
account's allow *and* the bucket owner's grant (a bucket policy or an ACL), as on AWS
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import error_of
from member_accounts import second_account, session_client

import lakestack

AWS = Path(sys.executable).parent / "aws"
ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


@pytest.fixture(scope="module")
def stack():
    with lakestack.local() as running:
        yield running


@pytest.fixture(scope="module")
def main(stack):
    return stack.client("s3")


@pytest.fixture(scope="module")
def other(stack):
    """(account ID, access key) of an allow-all IAM user of a second account."""
    account_id, admin = second_account(stack.endpoint_url, stack.client, "cross-account")
    iam = session_client(stack.endpoint_url, "iam", admin)
    iam.create_user(UserName="other")
    iam.put_user_policy(UserName="other", PolicyName="allow-all", PolicyDocument=ALLOW_ALL)
    return account_id, iam.create_access_key(UserName="other")["AccessKey"]


@pytest.fixture(scope="module")
def other_s3(stack, other):
    return session_client(stack.endpoint_url, "s3", other[1])


def acl_bucket(s3, prefix: str, acl: str | None = None) -> str:
    """A bucket whose ACLs count (Object Ownership ObjectWriter, Block Public Access off)."""
    name = f"{prefix}-{time.time_ns()}"
    s3.create_bucket(Bucket=name, ObjectOwnership="ObjectWriter")
    s3.delete_public_access_block(Bucket=name)
    if acl:
        s3.put_bucket_acl(Bucket=name, ACL=acl)
    return name


def canonical_id(s3) -> str:
    return s3.list_buckets()["Owner"]["ID"]


def test_the_accounts_are_apart(main, other_s3):
    assert canonical_id(main) != canonical_id(other_s3)
    bucket = acl_bucket(main, "private")
    main.put_object(Bucket=bucket, Key="k", Body=b"main's")
    # Allow-all policies of its own account do not reach into another account's bucket.
    for call, kwargs in [(other_s3.list_objects_v2, {}), (other_s3.get_object, {"Key": "k"}),
                         (other_s3.put_object, {"Key": "k", "Body": b"x"}), (other_s3.get_bucket_acl, {})]:
        assert error_of(call, Bucket=bucket, **kwargs)["Error"]["Code"] == "AccessDenied", call
    assert main.get_object(Bucket=bucket, Key="k")["Body"].read() == b"main's"


def test_public_acls_let_another_account_in(main, other_s3):
    bucket = acl_bucket(main, "public", "public-read-write")
    other_s3.put_object(Bucket=bucket, Key="from-other", Body=b"hello")
    # ObjectWriter: the writer's account owns what it wrote; bucket-owner-read grants the owner.
    other_s3.put_object(Bucket=bucket, Key="from-other", Body=b"hello", ACL="bucket-owner-read")
    grants = other_s3.get_object_acl(Bucket=bucket, Key="from-other")["Grants"]
    assert {(g["Grantee"]["ID"], g["Permission"]) for g in grants} == {
        (canonical_id(other_s3), "FULL_CONTROL"), (canonical_id(main), "READ")}
    assert main.get_object(Bucket=bucket, Key="from-other")["Body"].read() == b"hello"
    main.put_object(Bucket=bucket, Key="from-main", Body=b"main", ACL="public-read")
    assert other_s3.get_object(Bucket=bucket, Key="from-main")["Body"].read() == b"main"
    assert {o["Key"] for o in other_s3.list_objects_v2(Bucket=bucket)["Contents"]} == {"from-other", "from-main"}


def test_a_grant_to_the_other_accounts_canonical_id(main, other_s3):
    bucket = acl_bucket(main, "granted")
    main.put_object(Bucket=bucket, Key="k", Body=b"v")
    other = canonical_id(other_s3)
    main.put_bucket_acl(Bucket=bucket, GrantRead=f"id={other}", GrantFullControl=f"id={canonical_id(main)}")
    grants = main.get_bucket_acl(Bucket=bucket)["Grants"]
    granted = [g["Grantee"] for g in grants if g["Permission"] == "READ"]
    assert granted == [{"ID": other, "DisplayName": granted[0]["DisplayName"], "Type": "CanonicalUser"}]
    assert [o["Key"] for o in other_s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]
    # READ on the bucket lists it; reading an object takes the object's own grant.
    assert error_of(other_s3.get_object, Bucket=bucket, Key="k")["Error"]["Code"] == "AccessDenied"
    main.put_object_acl(Bucket=bucket, Key="k", GrantRead=f"id={other}")
    assert other_s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    error = error_of(main.put_bucket_acl, Bucket=bucket, GrantRead="id=" + "0" * 64)
    assert error["Error"]["Code"] == "InvalidArgument"  # no account has that canonical ID


def test_copy_from_another_accounts_bucket(main, other_s3, other):
    source = acl_bucket(main, "copy-source")
    main.put_object(Bucket=source, Key="shared", Body=b"shared bytes")
    main.put_object(Bucket=source, Key="unshared", Body=b"secret")
    target = f"copy-target-{time.time_ns()}"
    other_s3.create_bucket(Bucket=target)
    # Not granted yet: the copy is refused.
    error = error_of(other_s3.copy_object, Bucket=target, Key="copy", CopySource={"Bucket": source, "Key": "shared"})
    assert error["Error"]["Code"] == "AccessDenied"
    main.put_bucket_policy(Bucket=source, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other[0]}:root"}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{source}/shared"}]}))
    other_s3.copy_object(Bucket=target, Key="copy", CopySource={"Bucket": source, "Key": "shared"})
    assert other_s3.get_object(Bucket=target, Key="copy")["Body"].read() == b"shared bytes"
    assert other_s3.get_object_acl(Bucket=target, Key="copy")["Owner"]["ID"] == canonical_id(other_s3)
    error = error_of(other_s3.copy_object, Bucket=target, Key="copy2",
                     CopySource={"Bucket": source, "Key": "unshared"})
    assert error["Error"]["Code"] == "AccessDenied"
    # And the other way: main copies nothing out of the other account's bucket it has no grant on.
    error = error_of(main.copy_object, Bucket=source, Key="back", CopySource={"Bucket": target, "Key": "copy"})
    assert error["Error"]["Code"] == "AccessDenied"


def test_upload_part_copy_from_another_accounts_bucket(main, other_s3):
    source = acl_bucket(main, "part-source", "public-read")
    main.put_object(Bucket=source, Key="part", Body=b"p" * 1024, ACL="public-read")
    target = f"part-target-{time.time_ns()}"
    other_s3.create_bucket(Bucket=target)
    upload = other_s3.create_multipart_upload(Bucket=target, Key="assembled")["UploadId"]
    etag = other_s3.upload_part_copy(Bucket=target, Key="assembled", UploadId=upload, PartNumber=1,
                                     CopySource={"Bucket": source, "Key": "part"})["CopyPartResult"]["ETag"]
    other_s3.complete_multipart_upload(Bucket=target, Key="assembled", UploadId=upload,
                                       MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert other_s3.get_object(Bucket=target, Key="assembled")["Body"].read() == b"p" * 1024


@pytest.mark.skipif(not AWS.exists(), reason="the AWS CLI is not installed in this environment")
def test_cli_grant_to_another_account(stack, main, other, tmp_path):
    bucket = acl_bucket(main, "cli-granted")
    main.put_object(Bucket=bucket, Key="k", Body=b"v")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=stack.endpoint_url, AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE=str(tmp_path / "config"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"))
    as_main = dict(env, AWS_ACCESS_KEY_ID=stack.credentials["aws_access_key_id"],
                   AWS_SECRET_ACCESS_KEY=stack.credentials["aws_secret_access_key"])
    as_other = dict(env, AWS_ACCESS_KEY_ID=other[1]["AccessKeyId"], AWS_SECRET_ACCESS_KEY=other[1]["SecretAccessKey"])

    def aws(environment, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(AWS), *args], env=environment, capture_output=True, text=True, timeout=120)

    listing = ["s3api", "list-objects-v2", "--bucket", bucket, "--output", "json"]
    denied = aws(as_other, *listing)
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr
    other_id = session_client(stack.endpoint_url, "s3", other[1]).list_buckets()["Owner"]["ID"]
    main_id = main.list_buckets()["Owner"]["ID"]
    done = aws(as_main, "s3api", "put-bucket-acl", "--bucket", bucket, "--grant-read", f"id={other_id}",
               "--grant-full-control", f"id={main_id}")
    assert done.returncode == 0, done.stderr
    listed = aws(as_other, *listing)
    assert listed.returncode == 0, listed.stderr
    assert [o["Key"] for o in json.loads(listed.stdout)["Contents"]] == ["k"]


def test_what_another_account_writes_is_its_own(main, other_s3, other):
    """ObjectWriter: objects and uploads another account writes (let in by a bucket policy) are
    that account's; BucketOwnerPreferred with bucket-owner-full-control and BucketOwnerEnforced
    make them the bucket owner's."""
    bucket = acl_bucket(main, "writer-owns")
    main.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other[0]}:root"}, "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}))
    writer, bucket_owner = canonical_id(other_s3), canonical_id(main)
    other_s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    assert other_s3.get_object_acl(Bucket=bucket, Key="plain")["Owner"]["ID"] == writer
    # The bucket owner has no grant on it: the bucket policy does not cover others' objects' ACLs.
    grants = other_s3.get_object_acl(Bucket=bucket, Key="plain")["Grants"]
    assert [(g["Grantee"]["ID"], g["Permission"]) for g in grants] == [(writer, "FULL_CONTROL")]
    upload = other_s3.create_multipart_upload(Bucket=bucket, Key="multi")["UploadId"]
    assert other_s3.list_parts(Bucket=bucket, Key="multi", UploadId=upload)["Owner"]["ID"] == writer
    other_s3.abort_multipart_upload(Bucket=bucket, Key="multi", UploadId=upload)
    main.put_object(Bucket=bucket, Key="mine", Body=b"y")
    assert main.get_object_acl(Bucket=bucket, Key="mine")["Owner"]["ID"] == bucket_owner

    main.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]})
    other_s3.put_object(Bucket=bucket, Key="preferred", Body=b"x", ACL="bucket-owner-full-control")
    assert main.get_object_acl(Bucket=bucket, Key="preferred")["Owner"]["ID"] == bucket_owner
    other_s3.put_object(Bucket=bucket, Key="preferred-plain", Body=b"x")
    assert other_s3.get_object_acl(Bucket=bucket, Key="preferred-plain")["Owner"]["ID"] == writer

    main.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    other_s3.put_object(Bucket=bucket, Key="enforced", Body=b"x")
    assert main.get_object_acl(Bucket=bucket, Key="enforced")["Owner"]["ID"] == bucket_owner


def test_a_bucket_name_another_account_has(main, other_s3):
    bucket = acl_bucket(main, "taken")
    error = error_of(other_s3.create_bucket, Bucket=bucket)
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == (409, "BucketAlreadyExists")
    # us-east-1 answers the owner's own repeat with 200 (other regions: BucketAlreadyOwnedByYou).
    main.create_bucket(Bucket=bucket)
