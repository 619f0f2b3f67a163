"""GetObjectAttributes against a real server: ETag, checksums, parts of multipart objects
(with their checksums, paginated), storage class, size, versions, SSE-C — through boto3 and
`aws s3api`."""

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import aws_cli_env, error_of

import lakestack

MIB = 1024 * 1024
AWS = Path(sys.executable).parent / "aws"
ALL = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]


@pytest.fixture(scope="module")
def stack():
    with lakestack.local() as running:
        running.client("s3").create_bucket(Bucket="attrs")
        yield running


def test_plain_object(s3):
    put = s3.put_object(Bucket="attrs", Key="plain", Body=b"hello", ChecksumAlgorithm="SHA256")
    out = s3.get_object_attributes(Bucket="attrs", Key="plain", ObjectAttributes=ALL)
    assert out["ETag"] == put["ETag"].strip('"')
    assert out["ObjectSize"] == 5 and out["StorageClass"] == "STANDARD"
    assert out["Checksum"] == {"ChecksumSHA256": base64.b64encode(hashlib.sha256(b"hello").digest()).decode(),
                               "ChecksumType": "FULL_OBJECT"}
    assert "ObjectParts" not in out and "VersionId" not in out
    only = s3.get_object_attributes(Bucket="attrs", Key="plain", ObjectAttributes=["ObjectSize"])
    assert only["ObjectSize"] == 5 and "ETag" not in only
    error = error_of(s3.get_object_attributes, Bucket="attrs", Key="missing", ObjectAttributes=ALL)
    assert error["Error"]["Code"] == "NoSuchKey"


def test_multipart_parts_with_checksums_and_pages(s3):
    uid = s3.create_multipart_upload(Bucket="attrs", Key="mp", ChecksumAlgorithm="SHA256")["UploadId"]
    bodies = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(1000)]
    parts, sums = [], []
    for number, data in zip((1, 3, 4), bodies, strict=True):
        out = s3.upload_part(Bucket="attrs", Key="mp", UploadId=uid, PartNumber=number, Body=data,
                             ChecksumAlgorithm="SHA256")
        parts.append({"PartNumber": number, "ETag": out["ETag"], "ChecksumSHA256": out["ChecksumSHA256"]})
        sums.append(out["ChecksumSHA256"])
    done = s3.complete_multipart_upload(Bucket="attrs", Key="mp", UploadId=uid, MultipartUpload={"Parts": parts})
    out = s3.get_object_attributes(Bucket="attrs", Key="mp", ObjectAttributes=ALL)
    assert out["Checksum"]["ChecksumSHA256"] == done["ChecksumSHA256"]
    assert out["Checksum"]["ChecksumType"] == "COMPOSITE"
    listed = out["ObjectParts"]
    assert listed["TotalPartsCount"] == 3 and not listed["IsTruncated"]
    assert [(p["PartNumber"], p["Size"], p["ChecksumSHA256"]) for p in listed["Parts"]] == [
        (1, 5 * MIB, sums[0]), (3, 5 * MIB, sums[1]), (4, 1000, sums[2])]
    page = s3.get_object_attributes(Bucket="attrs", Key="mp", ObjectAttributes=["ObjectParts"], MaxParts=1,
                                    PartNumberMarker=1)["ObjectParts"]
    assert [p["PartNumber"] for p in page["Parts"]] == [3]
    assert page["IsTruncated"] and page["NextPartNumberMarker"] == 3 and page["MaxParts"] == 1
    # a part's GET carries its checksum (the second part of the object, uploaded as part 3)
    second = s3.get_object(Bucket="attrs", Key="mp", PartNumber=2, ChecksumMode="ENABLED")
    assert second["ChecksumSHA256"] == sums[1] and second["ChecksumType"] == "COMPOSITE"
    assert second["Body"].read() == bodies[1]


def test_versions_and_sse_c(stack, s3):
    s3.create_bucket(Bucket="attrs-versions")
    s3.put_bucket_versioning(Bucket="attrs-versions", VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket="attrs-versions", Key="k", Body=b"one")["VersionId"]
    s3.put_object(Bucket="attrs-versions", Key="k", Body=b"three")
    out = s3.get_object_attributes(Bucket="attrs-versions", Key="k", VersionId=v1, ObjectAttributes=ALL)
    assert out["VersionId"] == v1 and out["ObjectSize"] == 3
    secure = stack.client("s3", endpoint_url=stack.https_endpoint_url, verify=stack.ca_bundle)
    secure.put_bucket_encryption(Bucket="attrs", ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
        "BlockedEncryptionTypes": {"EncryptionType": ["NONE"]}}]})
    key = os.urandom(32)
    sse = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": base64.b64encode(key).decode(),
           "SSECustomerKeyMD5": base64.b64encode(hashlib.md5(key).digest()).decode()}
    put = secure.put_object(Bucket="attrs", Key="enc", Body=b"secret", **sse)
    error = error_of(secure.get_object_attributes, Bucket="attrs", Key="enc", ObjectAttributes=ALL)
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    out = secure.get_object_attributes(Bucket="attrs", Key="enc", ObjectAttributes=ALL, **sse)
    assert out["ETag"] == put["ETag"].strip('"') and out["ObjectSize"] == 6


def test_attributes_through_the_cli(stack, s3, tmp_path):
    if not AWS.exists():
        pytest.skip("the AWS CLI is not installed in this environment")
    s3.put_object(Bucket="attrs", Key="cli", Body=b"abc")
    env = aws_cli_env(stack, tmp_path, endpoint=False)
    done = subprocess.run([str(AWS), "--endpoint-url", stack.endpoint_url, "s3api", "get-object-attributes",
                           "--bucket", "attrs", "--key", "cli", "--object-attributes", "ETag", "ObjectSize"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["ObjectSize"] == 3 and out["ETag"] == hashlib.md5(b"abc").hexdigest()
