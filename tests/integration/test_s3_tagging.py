"""S3 object tagging against a real server: Put/Get/DeleteObjectTagging (and by version),
`x-amz-tagging` on PutObject / CopyObject / CreateMultipartUpload, `x-amz-tagging-count`,
the limits and their errors, tags going with their object — through boto3 and `aws s3api`."""

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import aws_cli_env, error_of

import lakestack

AWS = Path(sys.executable).parent / "aws"
_names = itertools.count()


def new_bucket(s3) -> str:
    name = f"tags-{next(_names)}"
    s3.create_bucket(Bucket=name)
    return name


def tag_set(n: int) -> list[dict]:
    return [{"Key": f"key{i}", "Value": f"value{i}"} for i in range(n)]


def code_of(call, **kwargs) -> tuple[int, str]:
    error = error_of(call, **kwargs)
    return error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]


def test_put_get_delete_tags_and_count(s3):
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    assert "TagCount" not in s3.head_object(Bucket=bucket, Key="k")
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": tag_set(10)})
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == tag_set(10)
    assert s3.head_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "10"
    assert s3.get_object(Bucket=bucket, Key="k")["TagCount"] == 10
    before = s3.head_object(Bucket=bucket, Key="k")
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "only", "Value": ""}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [{"Key": "only", "Value": ""}]
    after = s3.head_object(Bucket=bucket, Key="k")  # tagging changes neither the ETag nor the date
    assert (after["ETag"], after["LastModified"]) == (before["ETag"], before["LastModified"])
    response = s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    assert code_of(s3.get_object_tagging, Bucket=bucket, Key="missing") == (404, "NoSuchKey")
    assert code_of(s3.put_object_tagging, Bucket=bucket, Key="missing", Tagging={"TagSet": []}) == (404, "NoSuchKey")


def test_limits(s3):
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    for tags in (tag_set(11), [{"Key": "k" * 129, "Value": "v"}], [{"Key": "k", "Value": "v" * 257}],
                 [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}], [{"Key": "aws:x", "Value": "v"}],
                 [{"Key": "bad#key", "Value": "v"}]):
        assert code_of(s3.put_object_tagging, Bucket=bucket, Key="k", Tagging={"TagSet": tags}) == (400, "InvalidTag")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "k" * 128, "Value": "v" * 256}]})
    # x-amz-tagging on a write
    too_many = "&".join(f"k{i}=v" for i in range(11))
    assert code_of(s3.put_object, Bucket=bucket, Key="k2", Body=b"x", Tagging=too_many) == (400, "BadRequest")
    assert code_of(s3.put_object, Bucket=bucket, Key="k2", Body=b"x", Tagging="a=1&a=2") == (400, "InvalidArgument")
    assert code_of(s3.put_object, Bucket=bucket, Key="k2", Body=b"x", Tagging=f"{'k' * 129}=v") == (
        400, "InvalidTag")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]


def test_tags_on_writes(s3):
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="src", Body=b"x", Tagging="foo=bar&empty&sp%20ace=a%2Bb")
    # answered in key order
    expected = [{"Key": "empty", "Value": ""}, {"Key": "foo", "Value": "bar"}, {"Key": "sp ace", "Value": "a+b"}]
    assert s3.get_object_tagging(Bucket=bucket, Key="src")["TagSet"] == expected
    # a write without tags replaces the object and its tags
    s3.put_object(Bucket=bucket, Key="src2", Body=b"x", Tagging="a=1")
    s3.put_object(Bucket=bucket, Key="src2", Body=b"y")
    assert s3.get_object_tagging(Bucket=bucket, Key="src2")["TagSet"] == []
    # CopyObject: the source's tags, or the request's with REPLACE
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "src"})
    assert s3.get_object_tagging(Bucket=bucket, Key="copy")["TagSet"] == expected
    s3.copy_object(Bucket=bucket, Key="copy2", CopySource={"Bucket": bucket, "Key": "src"},
                   TaggingDirective="REPLACE", Tagging="new=tag")
    assert s3.get_object_tagging(Bucket=bucket, Key="copy2")["TagSet"] == [{"Key": "new", "Value": "tag"}]
    # multipart
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="Hello=World&foo=bar")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=b"z")["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="mp")["TagSet"] == [
        {"Key": "Hello", "Value": "World"}, {"Key": "foo", "Value": "bar"}]


def test_tags_of_versions(s3):
    bucket = new_bucket(s3)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"1", Tagging="v=1")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"2", Tagging="v=2")["VersionId"]
    out = s3.get_object_tagging(Bucket=bucket, Key="k")
    assert out["TagSet"] == [{"Key": "v", "Value": "2"}] and out["VersionId"] == v2
    assert s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=v1)["TagSet"] == [{"Key": "v", "Value": "1"}]
    assert s3.put_object_tagging(Bucket=bucket, Key="k", VersionId=v1,
                                 Tagging={"TagSet": [{"Key": "old", "Value": "yes"}]})["VersionId"] == v1
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [{"Key": "v", "Value": "2"}]
    s3.delete_object(Bucket=bucket, Key="k", VersionId=v2)  # v1 is current again, with its tags
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [{"Key": "old", "Value": "yes"}]
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    assert code_of(s3.get_object_tagging, Bucket=bucket, Key="k") == (404, "NoSuchKey")
    assert code_of(s3.get_object_tagging, Bucket=bucket, Key="k", VersionId=marker)[0] == 405
    assert code_of(s3.get_object_tagging, Bucket=bucket, Key="k", VersionId="A" * 32) == (404, "NoSuchVersion")


def test_tags_through_the_cli(stack, s3, tmp_path):
    if not AWS.exists():
        pytest.skip("the AWS CLI is not installed in this environment")
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    env = aws_cli_env(stack, tmp_path, endpoint=False)

    def aws(*args) -> str:
        done = subprocess.run([str(AWS), "--endpoint-url", stack.endpoint_url, "s3api", *args], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    aws("put-object-tagging", "--bucket", bucket, "--key", "k", "--tagging", "TagSet=[{Key=team,Value=lake}]")
    assert json.loads(aws("get-object-tagging", "--bucket", bucket, "--key", "k"))["TagSet"] == [
        {"Key": "team", "Value": "lake"}]


def test_tags_survive_a_restart(tmp_path):
    home = tmp_path / "home"
    with lakestack.local(home=home) as first:
        s3 = first.client("s3")
        s3.create_bucket(Bucket="kept")
        s3.put_object(Bucket="kept", Key="k", Body=b"x", Tagging="a=1")
        s3.put_object_tagging(Bucket="kept", Key="k", Tagging={"TagSet": [{"Key": "b", "Value": "2"}]})
    with lakestack.local(home=home) as second:
        s3 = second.client("s3")
        assert s3.get_object_tagging(Bucket="kept", Key="k")["TagSet"] == [{"Key": "b", "Value": "2"}]
