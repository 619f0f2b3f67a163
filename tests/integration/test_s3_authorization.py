"""Who may do what in S3: IAM users get exactly the s3: actions their policies grant (with the
copy source and every deleted key checked too), and another account's buckets are out of reach."""

import json

import pytest
from botocore.exceptions import ClientError

import lakestack

BUCKET = "guarded"
OTHER_ACCOUNT = "111122223333"


@pytest.fixture(scope="module")
def stack():
    with lakestack.local() as running:
        s3 = running.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="public/readme", Body=b"read me")
        s3.put_object(Bucket=BUCKET, Key="secret/plans", Body=b"top secret")
        yield running


def user_client(stack, name: str, statements: list[dict]):
    iam = stack.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="s3", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": statements}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return stack.client("s3", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])


def denied(call, **kwargs) -> bool:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"] == 403 and response["Error"]["Code"] in (
        "AccessDenied", "403")


def test_object_actions_follow_the_policy(stack):
    s3 = user_client(stack, "reader", [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/public/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"},
    ])
    assert s3.get_object(Bucket=BUCKET, Key="public/readme")["Body"].read() == b"read me"
    assert s3.head_object(Bucket=BUCKET, Key="public/readme")["ContentLength"] == 7
    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 2
    assert denied(s3.get_object, Bucket=BUCKET, Key="secret/plans")
    assert denied(s3.put_object, Bucket=BUCKET, Key="public/new", Body=b"x")
    assert denied(s3.delete_object, Bucket=BUCKET, Key="public/readme")
    assert denied(s3.list_buckets)
    assert denied(s3.create_bucket, Bucket="readers-bucket")


def test_copy_needs_read_on_the_source(stack):
    s3 = user_client(stack, "copier", [
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BUCKET}/copies/*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/public/*"},
    ])
    s3.copy_object(Bucket=BUCKET, Key="copies/readme", CopySource=f"{BUCKET}/public/readme")
    assert denied(s3.copy_object, Bucket=BUCKET, Key="copies/plans", CopySource=f"{BUCKET}/secret/plans")
    assert denied(s3.copy_object, Bucket=BUCKET, Key="elsewhere", CopySource=f"{BUCKET}/public/readme")


def test_every_deleted_key_is_checked(stack):
    root = stack.client("s3")
    for key in ("scratch/a", "scratch/b", "keep/c"):
        root.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    s3 = user_client(stack, "cleaner", [
        {"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{BUCKET}/scratch/*"},
    ])
    assert denied(s3.delete_objects, Bucket=BUCKET, Delete={"Objects": [{"Key": "scratch/a"}, {"Key": "keep/c"}]})
    assert root.head_object(Bucket=BUCKET, Key="scratch/a")
    deleted = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "scratch/a"}, {"Key": "scratch/b"}]})
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["scratch/a", "scratch/b"]


def test_multipart_actions(stack):
    s3 = user_client(stack, "uploader", [
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BUCKET}/uploads/*"},
    ])
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="uploads/big")["UploadId"]
    s3.upload_part(Bucket=BUCKET, Key="uploads/big", UploadId=upload_id, PartNumber=1, Body=b"x")
    assert denied(s3.list_parts, Bucket=BUCKET, Key="uploads/big", UploadId=upload_id)
    assert denied(s3.abort_multipart_upload, Bucket=BUCKET, Key="uploads/big", UploadId=upload_id)
    assert denied(s3.list_multipart_uploads, Bucket=BUCKET)
    stack.client("s3").abort_multipart_upload(Bucket=BUCKET, Key="uploads/big", UploadId=upload_id)


def other_account_client(stack):
    iam = stack.stack.provider("iam")
    iam.store.ensure_account(OTHER_ACCOUNT)
    iam.store.access_keys.ensure_root_key(OTHER_ACCOUNT, None, None)
    key_id, secret = iam.root_credentials(OTHER_ACCOUNT)
    return stack.client("s3", aws_access_key_id=key_id, aws_secret_access_key=secret)


def test_bucket_names_are_global_and_accounts_separate(stack):
    other = other_account_client(stack)
    with pytest.raises(ClientError) as caught:
        other.create_bucket(Bucket=BUCKET)
    assert caught.value.response["Error"]["Code"] == "BucketAlreadyExists"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    other.create_bucket(Bucket="other-accounts-bucket")
    assert [b["Name"] for b in other.list_buckets()["Buckets"]] == ["other-accounts-bucket"]
    assert "other-accounts-bucket" not in [b["Name"] for b in stack.client("s3").list_buckets()["Buckets"]]
    # Without a bucket policy granting it, another account's bucket is off limits even to its root.
    assert denied(other.get_object, Bucket=BUCKET, Key="public/readme")
    assert denied(other.head_bucket, Bucket=BUCKET)
    assert denied(other.put_object, Bucket=BUCKET, Key="intruder", Body=b"x")
    assert denied(stack.client("s3").list_objects_v2, Bucket="other-accounts-bucket")


def test_tags_need_their_own_actions(stack):
    s3 = user_client(stack, "untagger", [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": f"arn:aws:s3:::{BUCKET}/tags/*"},
    ])
    s3.put_object(Bucket=BUCKET, Key="tags/plain", Body=b"x")
    assert denied(s3.put_object, Bucket=BUCKET, Key="tags/tagged", Body=b"x", Tagging="a=1")
    assert denied(s3.create_multipart_upload, Bucket=BUCKET, Key="tags/tagged", Tagging="a=1")
    assert denied(s3.put_object_tagging, Bucket=BUCKET, Key="tags/plain", Tagging={"TagSet": []})
    assert denied(s3.get_object_tagging, Bucket=BUCKET, Key="tags/plain")
    assert denied(s3.get_object_attributes, Bucket=BUCKET, Key="tags/plain", ObjectAttributes=["ETag"])
    tagger = user_client(stack, "tagger", [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:PutObjectTagging", "s3:GetObjectTagging"],
         "Resource": f"arn:aws:s3:::{BUCKET}/tags/*"},
    ])
    tagger.put_object(Bucket=BUCKET, Key="tags/tagged", Body=b"x", Tagging="a=1")
    assert tagger.get_object_tagging(Bucket=BUCKET, Key="tags/tagged")["TagSet"] == [{"Key": "a", "Value": "1"}]
