"""How S3's access rules compose (https://docs.aws.amazon.com/AmazonS3/latest/userguide/how-s3-evaluates-access-control.html):
identity policies, the bucket policy and ACLs, where an explicit Deny anywhere wins and an
Allow from the bucket policy or an ACL lets in a caller its own policies do not; and Block
Public Access's policy settings applied to bucket policies."""

import json

from helpers import error_of


def policy(bucket: str, effect: str, action: str = "s3:GetObject") -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": effect, "Principal": "*", "Action": action, "Resource": f"arn:aws:s3:::{bucket}/*"}]})


def public_read_object(s3, bucket: str) -> None:
    s3.create_bucket(Bucket=bucket, ObjectOwnership="ObjectWriter")
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"data", ACL="public-read")


def test_acl_allows_when_the_policy_says_nothing(s3, anonymous):
    public_read_object(s3, "compose-acl")
    s3.put_bucket_policy(Bucket="compose-acl", Policy=policy("compose-acl", "Allow", "s3:PutObject"))
    assert anonymous.get_object(Bucket="compose-acl", Key="k")["Body"].read() == b"data"


def test_policy_deny_beats_a_public_acl(s3, anonymous):
    public_read_object(s3, "compose-deny")
    s3.put_bucket_policy(Bucket="compose-deny", Policy=policy("compose-deny", "Deny"))
    assert error_of(anonymous.get_object, Bucket="compose-deny", Key="k")["Error"]["Code"] == "AccessDenied"
    s3.delete_bucket_policy(Bucket="compose-deny")
    assert anonymous.get_object(Bucket="compose-deny", Key="k")["Body"].read() == b"data"


def test_policy_allows_without_an_acl(s3, anonymous):
    s3.create_bucket(Bucket="compose-policy")
    s3.delete_public_access_block(Bucket="compose-policy")
    s3.put_object(Bucket="compose-policy", Key="k", Body=b"data")
    assert error_of(anonymous.get_object, Bucket="compose-policy", Key="k")["Error"]["Code"] == "AccessDenied"
    s3.put_bucket_policy(Bucket="compose-policy", Policy=policy("compose-policy", "Allow"))
    assert anonymous.get_object(Bucket="compose-policy", Key="k")["Body"].read() == b"data"


def test_block_public_policy_refuses_a_public_policy(s3):
    s3.create_bucket(Bucket="compose-bpa")  # 2023 defaults: every Block Public Access setting on
    response = error_of(s3.put_bucket_policy, Bucket="compose-bpa", Policy=policy("compose-bpa", "Allow"))
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDenied", 403)
    s3.put_public_access_block(Bucket="compose-bpa", PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False, "RestrictPublicBuckets": True})
    s3.put_bucket_policy(Bucket="compose-bpa", Policy=policy("compose-bpa", "Allow"))


def test_restrict_public_buckets_keeps_anonymous_callers_out(s3, anonymous):
    s3.create_bucket(Bucket="compose-restrict")
    s3.put_public_access_block(Bucket="compose-restrict", PublicAccessBlockConfiguration={
        "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
        "RestrictPublicBuckets": True})
    s3.put_object(Bucket="compose-restrict", Key="k", Body=b"data")
    s3.put_bucket_policy(Bucket="compose-restrict", Policy=policy("compose-restrict", "Allow"))
    assert error_of(anonymous.get_object, Bucket="compose-restrict", Key="k")["Error"]["Code"] == "AccessDenied"
    s3.delete_public_access_block(Bucket="compose-restrict")
    assert anonymous.get_object(Bucket="compose-restrict", Key="k")["Body"].read() == b"data"


def test_existing_object_tag_reads_the_objects_tags(s3, anonymous):
    """s3:ExistingObjectTag/<key> in a bucket policy tests the object's own tags."""
    s3.create_bucket(Bucket="compose-tags")
    s3.delete_public_access_block(Bucket="compose-tags")
    s3.put_object(Bucket="compose-tags", Key="public", Body=b"p", Tagging="security=public")
    s3.put_object(Bucket="compose-tags", Key="private", Body=b"s", Tagging="security=private")
    s3.put_bucket_policy(Bucket="compose-tags", Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::compose-tags/*",
        "Condition": {"StringEquals": {"s3:ExistingObjectTag/security": "public"}}}]}))
    assert anonymous.get_object(Bucket="compose-tags", Key="public")["Body"].read() == b"p"
    assert error_of(anonymous.get_object, Bucket="compose-tags", Key="private")["Error"]["Code"] == "AccessDenied"
    s3.put_object_tagging(Bucket="compose-tags", Key="private",
                          Tagging={"TagSet": [{"Key": "security", "Value": "public"}]})
    assert anonymous.get_object(Bucket="compose-tags", Key="private")["Body"].read() == b"s"
