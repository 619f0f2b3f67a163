"""S3 server-side encryption against a real server: SSE-C (customer keys) over HTTPS — writes,
reads with ranges and part numbers, multipart uploads, copies between keys, wrong and missing
keys, and the bytes at rest — and default bucket encryption (Put/Get/DeleteBucketEncryption,
SSE-C blocked on new buckets), through boto3 and `aws s3api`."""

import base64
import hashlib
import itertools
import os
import subprocess
import sys
import zlib
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from helpers import aws_cli_env, error_of

import lakestack

MIB = 1024 * 1024
AWS = Path(sys.executable).parent / "aws"
_names = itertools.count()
KEY = os.urandom(32)
OTHER_KEY = os.urandom(32)


def sse(key: bytes = KEY, prefix: str = "") -> dict:
    return {f"{prefix}SSECustomerAlgorithm": "AES256", f"{prefix}SSECustomerKey": base64.b64encode(key).decode(),
            f"{prefix}SSECustomerKeyMD5": base64.b64encode(hashlib.md5(key).digest()).decode()}


@pytest.fixture(scope="module")
def s3(stack):
    """Over HTTPS: S3 refuses SSE-C over plain HTTP."""
    return stack.client("s3", endpoint_url=stack.https_endpoint_url, verify=stack.ca_bundle)


def allow_sse_c(s3, bucket: str) -> None:
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
        "BlockedEncryptionTypes": {"EncryptionType": ["NONE"]}}]})


def new_bucket(s3, sse_c: bool = True) -> str:
    name = f"sse-{next(_names)}"
    s3.create_bucket(Bucket=name)
    if sse_c:
        allow_sse_c(s3, name)
    return name


def stored_file(stack, bucket: str, key: str) -> bytes:
    """The object's file, wherever the store put it."""
    row = stack.stack.provider("s3").store.db.query_one("SELECT path FROM objects WHERE bucket = ? AND key = ?",
                                                        (bucket, key))
    return (stack.home / row["path"]).read_bytes()


def code_of(call, *args, **kwargs) -> tuple[int, str]:
    error = error_of(call, *args, **kwargs)
    return error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]


# -- SSE-C -------------------------------------------------------------------------------------

def test_sse_c_round_trip_and_bytes_at_rest(s3, stack):
    bucket = new_bucket(s3)
    data = os.urandom(300_000)
    put = s3.put_object(Bucket=bucket, Key="data/secret.bin", Body=data, **sse())
    assert put["SSECustomerAlgorithm"] == "AES256"
    assert put["SSECustomerKeyMD5"] == sse()["SSECustomerKeyMD5"]
    assert "ServerSideEncryption" not in put
    assert put["ETag"].strip('"') != hashlib.md5(data).hexdigest()  # as S3: not the MD5 of the data
    got = s3.get_object(Bucket=bucket, Key="data/secret.bin", **sse())
    assert got["Body"].read() == data
    assert got["ETag"] == put["ETag"] and got["SSECustomerKeyMD5"] == put["SSECustomerKeyMD5"]
    head = s3.head_object(Bucket=bucket, Key="data/secret.bin", **sse())
    assert head["ContentLength"] == len(data) and "ServerSideEncryption" not in head
    # At rest: encrypted, the same length, and not in the lake directory.
    at_rest = stored_file(stack, bucket, "data/secret.bin")
    assert len(at_rest) == len(data) and at_rest != data
    assert not (stack.home / "s3" / bucket / "data" / "secret.bin").exists()
    assert s3.list_objects_v2(Bucket=bucket)["Contents"][0]["Size"] == len(data)
    # Nothing of the key is stored.
    row = stack.stack.provider("s3").store.db.query_one("SELECT sse FROM objects WHERE bucket = ?", (bucket,))
    assert base64.b64encode(KEY).decode() not in row["sse"] and sse()["SSECustomerKeyMD5"] not in row["sse"]


def test_sse_c_key_required_and_checked(s3):
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"secret", **sse())
    assert code_of(s3.get_object, Bucket=bucket, Key="k") == (400, "InvalidRequest")
    assert error_of(s3.head_object, Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert code_of(s3.get_object, Bucket=bucket, Key="k", **sse(OTHER_KEY)) == (403, "AccessDenied")
    assert error_of(s3.head_object, Bucket=bucket, Key="k", **sse(OTHER_KEY))["ResponseMetadata"][
        "HTTPStatusCode"] == 403
    # A plain object read with a key.
    s3.put_object(Bucket=bucket, Key="plain", Body=b"plain")
    assert code_of(s3.get_object, Bucket=bucket, Key="plain", **sse()) == (400, "InvalidRequest")
    assert s3.get_object(Bucket=bucket, Key="plain")["ServerSideEncryption"] == "AES256"


def test_sse_c_header_errors(s3):
    bucket = new_bucket(s3)
    bad_md5 = dict(sse(), SSECustomerKeyMD5=base64.b64encode(b"0" * 16).decode())
    status, code = code_of(s3.put_object, Bucket=bucket, Key="k", Body=b"x", **bad_md5)
    assert (status, code) == (400, "InvalidArgument")

    def raw_put(headers: dict):
        client = s3

        def add(params, **_):
            params["headers"].update(headers)
        client.meta.events.register_first("before-call.s3.PutObject", add)
        try:
            return code_of(client.put_object, Bucket=bucket, Key="k", Body=b"x")
        finally:
            client.meta.events.unregister("before-call.s3.PutObject", add)

    key_b64 = sse()["SSECustomerKey"]
    assert raw_put({"x-amz-server-side-encryption-customer-algorithm": "AES256"}) == (400, "InvalidArgument")
    assert raw_put({"x-amz-server-side-encryption-customer-key": key_b64}) == (400, "InvalidArgument")
    assert raw_put({"x-amz-server-side-encryption-customer-algorithm": "AES256",
                    "x-amz-server-side-encryption-customer-key": key_b64}) == (400, "InvalidArgument")
    assert raw_put({"x-amz-server-side-encryption-customer-algorithm": "AES128",
                    "x-amz-server-side-encryption-customer-key": key_b64,
                    "x-amz-server-side-encryption-customer-key-MD5": sse()["SSECustomerKeyMD5"]}) == (
        400, "InvalidArgument")
    assert code_of(s3.put_object, Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="AES256", **sse()) == (
        400, "InvalidArgument")
    # Nothing was written by the failed requests.
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_sse_c_refused_over_plain_http(stack, s3):
    bucket = new_bucket(s3)
    plain = stack.client("s3")
    assert code_of(plain.put_object, Bucket=bucket, Key="k", Body=b"x", **sse()) == (400, "InvalidRequest")


def test_ranges_of_an_encrypted_object(s3):
    bucket = new_bucket(s3)
    data = os.urandom(3 * MIB + 17)
    s3.put_object(Bucket=bucket, Key="big", Body=data, **sse())
    for first, last in [(0, 0), (1, 15), (15, 16), (17, 300_000), (MIB - 3, 2 * MIB + 5), (len(data) - 1, len(data))]:
        got = s3.get_object(Bucket=bucket, Key="big", Range=f"bytes={first}-{last}", **sse())
        assert got["Body"].read() == data[first:last + 1], (first, last)
    assert s3.get_object(Bucket=bucket, Key="big", Range="bytes=-1000", **sse())["Body"].read() == data[-1000:]


def test_multipart_sse_c_with_part_reads_ranges_and_retries(s3):
    bucket = new_bucket(s3)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", ContentType="text/plain", **sse())
    assert upload["SSECustomerKeyMD5"] == sse()["SSECustomerKeyMD5"]
    uid = upload["UploadId"]
    bodies = [os.urandom(5 * MIB + 1), os.urandom(5 * MIB), os.urandom(123_457)]
    parts = []
    for number, data in enumerate(bodies, 1):
        out = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=number, Body=data, **sse())
        parts.append({"PartNumber": number, "ETag": out["ETag"]})
    # The same bytes sent again as the same part keep its ETag.
    again = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=2, Body=bodies[1], **sse())
    assert again["ETag"] == parts[1]["ETag"]
    # A part without the key, or with another one.
    assert code_of(s3.upload_part, Bucket=bucket, Key="mp", UploadId=uid, PartNumber=4, Body=b"x") == (
        400, "InvalidRequest")
    assert code_of(s3.upload_part, Bucket=bucket, Key="mp", UploadId=uid, PartNumber=4, Body=b"x",
                   **sse(OTHER_KEY)) == (400, "InvalidRequest")
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": parts})
    whole = b"".join(bodies)
    got = s3.get_object(Bucket=bucket, Key="mp", **sse())
    assert got["Body"].read() == whole and got["ContentType"] == "text/plain" and got["ETag"] == done["ETag"]
    for number, data in enumerate(bodies, 1):
        part = s3.get_object(Bucket=bucket, Key="mp", PartNumber=number, **sse())
        assert part["Body"].read() == data and part["PartsCount"] == 3
    edge = 5 * MIB + 1  # a range across the first part's end
    got = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={edge - 10}-{edge + 10}", **sse())
    assert got["Body"].read() == whole[edge - 10:edge + 11]
    assert code_of(s3.get_object, Bucket=bucket, Key="mp", **sse(OTHER_KEY)) == (403, "AccessDenied")


def test_copies_between_keys(s3):
    bucket = new_bucket(s3)
    data = os.urandom(200_000)
    s3.put_object(Bucket=bucket, Key="plain", Body=data)
    # plain → SSE-C
    out = s3.copy_object(Bucket=bucket, Key="enc", CopySource={"Bucket": bucket, "Key": "plain"}, **sse())
    assert out["SSECustomerKeyMD5"] == sse()["SSECustomerKeyMD5"]
    assert s3.get_object(Bucket=bucket, Key="enc", **sse())["Body"].read() == data
    # SSE-C → SSE-C with another key, and without the source's key
    assert code_of(s3.copy_object, Bucket=bucket, Key="enc2", CopySource={"Bucket": bucket, "Key": "enc"},
                   **sse(OTHER_KEY)) == (400, "InvalidRequest")
    s3.copy_object(Bucket=bucket, Key="enc2", CopySource={"Bucket": bucket, "Key": "enc"},
                   **sse(OTHER_KEY), **sse(KEY, "CopySource"))
    assert s3.get_object(Bucket=bucket, Key="enc2", **sse(OTHER_KEY))["Body"].read() == data
    # key rotation in place, then SSE-C → plain
    s3.copy_object(Bucket=bucket, Key="enc2", CopySource={"Bucket": bucket, "Key": "enc2"},
                   **sse(KEY), **sse(OTHER_KEY, "CopySource"))
    assert s3.get_object(Bucket=bucket, Key="enc2", **sse(KEY))["Body"].read() == data
    s3.copy_object(Bucket=bucket, Key="back", CopySource={"Bucket": bucket, "Key": "enc2"}, **sse(KEY, "CopySource"))
    back = s3.get_object(Bucket=bucket, Key="back")
    assert back["Body"].read() == data and back["ETag"].strip('"') == hashlib.md5(data).hexdigest()
    # UploadPartCopy of a range of an encrypted source into an encrypted upload
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp", **sse(OTHER_KEY))["UploadId"]
    part = s3.upload_part_copy(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1,
                               CopySource={"Bucket": bucket, "Key": "enc"}, CopySourceRange="bytes=100-150099",
                               **sse(OTHER_KEY), **sse(KEY, "CopySource"))
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket=bucket, Key="mp", **sse(OTHER_KEY))["Body"].read() == data[100:150100]


def test_versions_keep_their_own_keys(s3):
    bucket = new_bucket(s3)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"one", **sse(KEY))["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=first, **sse())["Body"].read() == b"one"
    assert code_of(s3.get_object, Bucket=bucket, Key="k", VersionId=first) == (400, "InvalidRequest")
    s3.delete_object(Bucket=bucket, Key="k", VersionId=second)  # the encrypted version is current again
    assert s3.get_object(Bucket=bucket, Key="k", **sse())["Body"].read() == b"one"


def test_sse_c_through_the_cli(s3, stack, tmp_path):
    if not AWS.exists():
        pytest.skip("the AWS CLI is not installed in this environment")
    bucket = new_bucket(s3)
    source = tmp_path / "in.bin"
    source.write_bytes(os.urandom(70_000))
    env = aws_cli_env(stack, tmp_path, endpoint=False, AWS_CA_BUNDLE=stack.ca_bundle)
    (tmp_path / "key.bin").write_bytes(KEY)  # the CLI base64-encodes the key itself
    key_args = ["--sse-customer-algorithm", "AES256", "--sse-customer-key", f"fileb://{tmp_path / 'key.bin'}"]

    def aws(*args):
        done = subprocess.run([str(AWS), "--endpoint-url", stack.https_endpoint_url, "s3api", *args], env=env,
                              capture_output=True, text=True, timeout=120)
        return done.returncode, done.stdout + done.stderr

    code, out = aws("put-object", "--bucket", bucket, "--key", "cli", "--body", str(source), *key_args)
    assert code == 0, out
    code, out = aws("get-object", "--bucket", bucket, "--key", "cli", str(tmp_path / "plain.bin"))
    assert code != 0 and "InvalidRequest" in out
    code, out = aws("get-object", "--bucket", bucket, "--key", "cli", *key_args, str(tmp_path / "out.bin"))
    assert code == 0, out
    assert (tmp_path / "out.bin").read_bytes() == source.read_bytes()


def test_sse_c_survives_a_restart(tmp_path):
    home = tmp_path / "home"
    data = os.urandom(100_000)
    with lakestack.local(home=home) as first:
        s3 = first.client("s3", endpoint_url=first.https_endpoint_url, verify=first.ca_bundle)
        s3.create_bucket(Bucket="kept")
        allow_sse_c(s3, "kept")
        s3.put_object(Bucket="kept", Key="k", Body=data, **sse())
    with lakestack.local(home=home) as second:
        s3 = second.client("s3", endpoint_url=second.https_endpoint_url, verify=second.ca_bundle)
        assert s3.get_object(Bucket="kept", Key="k", Range="bytes=5-99999", **sse())["Body"].read() == data[5:]
        assert code_of(s3.get_object, Bucket="kept", Key="k", **sse(OTHER_KEY)) == (403, "AccessDenied")
        # and the bucket's configuration too
        rule = s3.get_bucket_encryption(Bucket="kept")["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["BlockedEncryptionTypes"]["EncryptionType"] == ["NONE"]


# -- default bucket encryption -----------------------------------------------------------------

def test_new_buckets_block_sse_c_until_unblocked(s3):
    bucket = new_bucket(s3, sse_c=False)
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert rule["BlockedEncryptionTypes"]["EncryptionType"] == ["SSE-C"]
    assert code_of(s3.put_object, Bucket=bucket, Key="k", Body=b"x", **sse()) == (403, "AccessDenied")
    assert code_of(s3.create_multipart_upload, Bucket=bucket, Key="k", **sse()) == (403, "AccessDenied")
    allow_sse_c(s3, bucket)
    s3.create_bucket(Bucket=bucket)  # us-east-1 answers 200 for a bucket you own; its configuration stays
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", **sse())
    # DeleteBucketEncryption goes back to a new bucket's default
    s3.delete_bucket_encryption(Bucket=bucket)
    assert code_of(s3.put_object, Bucket=bucket, Key="k2", Body=b"x", **sse()) == (403, "AccessDenied")
    assert s3.get_object(Bucket=bucket, Key="k", **sse())["Body"].read() == b"x"  # reads are never blocked


def test_bucket_encryption_configuration(s3):
    bucket = new_bucket(s3, sse_c=False)
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]})
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule == {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket=bucket, Key="k")["ServerSideEncryption"] == "AES256"
    kms = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "k"}}]}
    assert code_of(s3.put_bucket_encryption, Bucket=bucket, ServerSideEncryptionConfiguration=kms) == (
        501, "NotImplementedError")
    assert code_of(s3.put_bucket_encryption, Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": []}) == (
        400, "MalformedXML")
    assert code_of(s3.put_bucket_encryption, Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256", "KMSMasterKeyID": "k"}}]}) == (
        400, "InvalidArgument")
    assert code_of(s3.put_object, Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms") == (
        501, "NotImplementedError")
    assert code_of(s3.get_bucket_encryption, Bucket="no-such-bucket-here") == (404, "NoSuchBucket")
    # SSE headers belong to writes
    def add(params, **_):
        params["headers"]["x-amz-server-side-encryption"] = "AES256"
    s3.meta.events.register_first("before-call.s3.HeadObject", add)
    try:
        with pytest.raises(ClientError) as caught:
            s3.head_object(Bucket=bucket, Key="k")
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    finally:
        s3.meta.events.unregister("before-call.s3.HeadObject", add)


def test_legacy_buckets_do_not_block_sse_c():
    with lakestack.local(s3_bucket_defaults="legacy") as legacy:
        s3 = legacy.client("s3", endpoint_url=legacy.https_endpoint_url, verify=legacy.ca_bundle)
        s3.create_bucket(Bucket="old-style")
        rule = s3.get_bucket_encryption(Bucket="old-style")["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert "BlockedEncryptionTypes" not in rule
        s3.put_object(Bucket="old-style", Key="k", Body=b"x", **sse())
        assert s3.get_object(Bucket="old-style", Key="k", **sse())["Body"].read() == b"x"


def test_multipart_sse_c_with_a_full_object_checksum(s3):
    """The object's checksum describes its plaintext, though the parts are joined encrypted;
    Complete needs the key then (as AWS documents)."""
    bucket = new_bucket(s3)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="crc", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT",
                                     **sse())["UploadId"]
    bodies = [os.urandom(5 * MIB), os.urandom(1000)]
    parts = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key="crc", UploadId=uid, PartNumber=n, Body=b,
                                                      ChecksumAlgorithm="CRC32", **sse())["ETag"]}
             for n, b in enumerate(bodies, 1)]
    assert code_of(s3.complete_multipart_upload, Bucket=bucket, Key="crc", UploadId=uid,
                   MultipartUpload={"Parts": parts}) == (400, "InvalidRequest")
    done = s3.complete_multipart_upload(Bucket=bucket, Key="crc", UploadId=uid, MultipartUpload={"Parts": parts},
                                        **sse())
    expected = base64.b64encode(zlib.crc32(b"".join(bodies)).to_bytes(4, "big")).decode()
    assert done["ChecksumCRC32"] == expected
    got = s3.get_object(Bucket=bucket, Key="crc", ChecksumMode="ENABLED", **sse())
    assert got["ChecksumCRC32"] == expected and got["Body"].read() == b"".join(bodies)


def test_sse_c_objects_tags_and_configuration_survive_sigkill(server_process):
    server = server_process()
    s3 = server.client("s3")
    tls = boto3.session.Session().client(
        "s3", endpoint_url=server.https_endpoint_url, verify=server.ca_bundle, region_name="us-east-1",
        aws_access_key_id=server.key_id, aws_secret_access_key=server.secret)
    s3.create_bucket(Bucket="killed")
    allow_sse_c(tls, "killed")
    data = os.urandom(150_000)
    tls.put_object(Bucket="killed", Key="enc", Body=data, Tagging="a=1", **sse())
    uid = tls.create_multipart_upload(Bucket="killed", Key="mp", **sse())["UploadId"]
    etag = tls.upload_part(Bucket="killed", Key="mp", UploadId=uid, PartNumber=1, Body=data, **sse())["ETag"]
    tls.complete_multipart_upload(Bucket="killed", Key="mp", UploadId=uid,
                                  MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    server.kill()
    server.start()
    assert tls.get_object(Bucket="killed", Key="enc", **sse())["Body"].read() == data
    assert tls.get_object(Bucket="killed", Key="mp", Range="bytes=10-20", **sse())["Body"].read() == data[10:21]
    assert tls.get_object_tagging(Bucket="killed", Key="enc")["TagSet"] == [{"Key": "a", "Value": "1"}]
    assert code_of(tls.get_object, Bucket="killed", Key="enc") == (400, "InvalidRequest")
    rule = tls.get_bucket_encryption(Bucket="killed")["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["BlockedEncryptionTypes"]["EncryptionType"] == ["NONE"]
    # The customer key is nowhere under the data directory (state, WAL, logs, objects).
    secrets = (KEY, base64.b64encode(KEY), sse()["SSECustomerKey"].encode())
    for path in server.home.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert not any(secret in content for secret in secrets), path
