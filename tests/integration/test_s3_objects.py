"""S3 objects against a real server: put/get/head/delete, ranges, conditionals, response
overrides, copies, batch deletes, checksums, metadata and content headers, presigned URLs."""

import base64
import datetime as dt
import hashlib
import zlib

import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from helpers import error_of

import lakestack

BUCKET = "objects"
DATA = bytes(range(256)) * 40  # 10240 bytes


@pytest.fixture(scope="module")
def stack():
    with lakestack.local() as running:
        running.client("s3").create_bucket(Bucket=BUCKET)
        yield running




def code_and_status(call, **kwargs) -> tuple[str, int]:
    response = error_of(call, **kwargs)
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def md5_etag(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


def test_put_get_head_delete(s3, stack):
    put = s3.put_object(Bucket=BUCKET, Key="basic/file.bin", Body=DATA)
    assert put["ETag"] == md5_etag(DATA)
    got = s3.get_object(Bucket=BUCKET, Key="basic/file.bin")
    assert got["Body"].read() == DATA
    assert got["ETag"] == md5_etag(DATA) and got["ContentLength"] == len(DATA)
    assert got["ContentType"] == "binary/octet-stream"  # S3's default
    assert got["AcceptRanges"] == "bytes"
    assert abs(got["LastModified"] - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    head = s3.head_object(Bucket=BUCKET, Key="basic/file.bin")
    assert head["ContentLength"] == len(DATA) and head["ETag"] == md5_etag(DATA)
    assert (stack.home / "s3" / BUCKET / "basic" / "file.bin").read_bytes() == DATA
    assert s3.delete_object(Bucket=BUCKET, Key="basic/file.bin")["ResponseMetadata"]["HTTPStatusCode"] == 204
    response = error_of(s3.get_object, Bucket=BUCKET, Key="basic/file.bin")
    assert response["Error"]["Code"] == "NoSuchKey" and response["Error"]["Key"] == "basic/file.bin"
    assert response["Error"]["Message"] == "The specified key does not exist."
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert code_and_status(s3.head_object, Bucket=BUCKET, Key="basic/file.bin") == ("404", 404)
    # Deleting what is not there is still a 204.
    assert s3.delete_object(Bucket=BUCKET, Key="basic/file.bin")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert not (stack.home / "s3" / BUCKET / "basic").exists()


def test_empty_object_and_overwrite(s3):
    s3.put_object(Bucket=BUCKET, Key="empty", Body=b"")
    got = s3.get_object(Bucket=BUCKET, Key="empty")
    assert got["Body"].read() == b"" and got["ETag"] == md5_etag(b"")
    s3.put_object(Bucket=BUCKET, Key="empty", Body=b"not any more")
    assert s3.get_object(Bucket=BUCKET, Key="empty")["Body"].read() == b"not any more"


def test_large_object_streams(s3):
    big = hashlib.sha256(b"seed").digest() * (3 * 1024 * 1024 // 32 + 7)
    s3.put_object(Bucket=BUCKET, Key="big.bin", Body=big)
    assert s3.get_object(Bucket=BUCKET, Key="big.bin")["Body"].read() == big
    part = s3.get_object(Bucket=BUCKET, Key="big.bin", Range="bytes=1000000-2999999")["Body"].read()
    assert part == big[1000000:3000000]


def test_metadata_and_content_headers(s3):
    expires = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    s3.put_object(Bucket=BUCKET, Key="headers", Body=b"{}", ContentType="application/json",
                  ContentEncoding="identity", ContentDisposition='attachment; filename="x.json"',
                  ContentLanguage="de-CH", CacheControl="max-age=60", Expires=expires,
                  Metadata={"Owner": "data-team", "run-id": "42"})
    for answer in (s3.get_object(Bucket=BUCKET, Key="headers"), s3.head_object(Bucket=BUCKET, Key="headers")):
        assert answer["ContentType"] == "application/json"
        assert answer["ContentEncoding"] == "identity"
        assert answer["ContentDisposition"] == 'attachment; filename="x.json"'
        assert answer["ContentLanguage"] == "de-CH"
        assert answer["CacheControl"] == "max-age=60"
        assert answer["ResponseMetadata"]["HTTPHeaders"]["expires"] == "Wed, 02 Jan 2030 03:04:05 GMT"
        assert answer["Metadata"] == {"owner": "data-team", "run-id": "42"}  # names are lower-cased


def test_metadata_too_large_and_key_too_long(s3):
    response = error_of(s3.put_object, Bucket=BUCKET, Key="meta", Body=b"x", Metadata={"big": "v" * 2100})
    assert response["Error"]["Code"] == "MetadataTooLarge"
    response = error_of(s3.put_object, Bucket=BUCKET, Key="k" * 1025, Body=b"x")
    assert response["Error"]["Code"] == "KeyTooLongError"
    s3.put_object(Bucket=BUCKET, Key="k" * 1024, Body=b"x")  # exactly at the limit


@pytest.mark.parametrize("header,expected,content_range", [
    ("bytes=0-9", DATA[:10], "bytes 0-9/10240"),
    ("bytes=10000-", DATA[10000:], "bytes 10000-10239/10240"),
    ("bytes=-16", DATA[-16:], "bytes 10224-10239/10240"),
    ("bytes=10230-20000", DATA[10230:], "bytes 10230-10239/10240"),
    ("bytes=-99999", DATA, "bytes 0-10239/10240"),
])
def test_ranges(s3, header, expected, content_range):
    s3.put_object(Bucket=BUCKET, Key="ranged", Body=DATA)
    got = s3.get_object(Bucket=BUCKET, Key="ranged", Range=header)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["Body"].read() == expected
    assert got["ContentRange"] == content_range and got["ContentLength"] == len(expected)
    head = s3.head_object(Bucket=BUCKET, Key="ranged", Range=header)
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 206 and head["ContentLength"] == len(expected)


def test_unsatisfiable_and_ignored_ranges(s3):
    s3.put_object(Bucket=BUCKET, Key="ranged2", Body=DATA)
    response = error_of(s3.get_object, Bucket=BUCKET, Key="ranged2", Range="bytes=10240-")
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == ("InvalidRange", 416)
    assert response["Error"]["ActualObjectSize"] == "10240"
    s3.put_object(Bucket=BUCKET, Key="empty-ranged", Body=b"")
    assert code_and_status(s3.get_object, Bucket=BUCKET, Key="empty-ranged", Range="bytes=0-") == \
        ("InvalidRange", 416)
    # Malformed ranges and several ranges are ignored: the whole object, 200.
    for header in ("bytes=9-2", "bytes=0-1,5-6", "lines=1-2"):
        got = s3.get_object(Bucket=BUCKET, Key="ranged2", Range=header)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 200 and got["Body"].read() == DATA


def test_conditional_get_and_head(s3):
    etag = s3.put_object(Bucket=BUCKET, Key="conditional", Body=b"v1")["ETag"]
    modified = s3.head_object(Bucket=BUCKET, Key="conditional")["LastModified"]
    earlier, later = modified - dt.timedelta(hours=1), modified + dt.timedelta(hours=1)
    assert s3.get_object(Bucket=BUCKET, Key="conditional", IfMatch=etag)["Body"].read() == b"v1"
    response = error_of(s3.get_object, Bucket=BUCKET, Key="conditional", IfMatch='"other"')
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == ("PreconditionFailed", 412)
    assert response["Error"]["Condition"] == "If-Match"
    assert code_and_status(s3.get_object, Bucket=BUCKET, Key="conditional", IfNoneMatch=etag) == ("304", 304)
    not_modified = error_of(s3.get_object, Bucket=BUCKET, Key="conditional", IfNoneMatch=etag)
    assert not_modified["ResponseMetadata"]["HTTPHeaders"]["etag"] == etag
    assert code_and_status(s3.get_object, Bucket=BUCKET, Key="conditional", IfModifiedSince=later) == ("304", 304)
    assert s3.get_object(Bucket=BUCKET, Key="conditional", IfModifiedSince=earlier)["Body"].read() == b"v1"
    assert code_and_status(s3.get_object, Bucket=BUCKET, Key="conditional", IfUnmodifiedSince=earlier) == \
        ("PreconditionFailed", 412)
    # If-Match holding overrides a failing If-Unmodified-Since, as S3 documents.
    assert s3.get_object(Bucket=BUCKET, Key="conditional", IfMatch=etag, IfUnmodifiedSince=earlier)
    assert code_and_status(s3.head_object, Bucket=BUCKET, Key="conditional", IfMatch='"x"') == ("412", 412)
    assert code_and_status(s3.head_object, Bucket=BUCKET, Key="conditional", IfNoneMatch=etag) == ("304", 304)


def test_conditional_put(s3):
    s3.put_object(Bucket=BUCKET, Key="create-once", Body=b"first", IfNoneMatch="*")
    assert code_and_status(s3.put_object, Bucket=BUCKET, Key="create-once", Body=b"second", IfNoneMatch="*") == \
        ("PreconditionFailed", 412)
    etag = s3.head_object(Bucket=BUCKET, Key="create-once")["ETag"]
    s3.put_object(Bucket=BUCKET, Key="create-once", Body=b"third", IfMatch=etag)
    assert code_and_status(s3.put_object, Bucket=BUCKET, Key="create-once", Body=b"x", IfMatch=etag) == \
        ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=BUCKET, Key="create-once")["Body"].read() == b"third"


def test_response_overrides(s3):
    s3.put_object(Bucket=BUCKET, Key="override", Body=b"data", ContentType="text/plain")
    got = s3.get_object(
        Bucket=BUCKET, Key="override", ResponseContentType="application/x-custom",
        ResponseContentDisposition="attachment; filename=out.txt", ResponseCacheControl="no-store",
        ResponseContentLanguage="fr", ResponseContentEncoding="gzip",
        ResponseExpires=dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=dt.UTC))
    assert got["ContentType"] == "application/x-custom"
    assert got["ContentDisposition"] == "attachment; filename=out.txt"
    assert got["CacheControl"] == "no-store"
    assert got["ContentLanguage"] == "fr"
    assert got["ContentEncoding"] == "gzip"
    assert got["ResponseMetadata"]["HTTPHeaders"]["expires"] == "Tue, 06 May 2031 07:08:09 GMT"
    assert s3.head_object(Bucket=BUCKET, Key="override")["ContentType"] == "text/plain"  # stored value unchanged


def test_copy_object(s3):
    s3.put_object(Bucket=BUCKET, Key="src/a b+c.txt", Body=b"copy me", ContentType="text/plain",
                  Metadata={"origin": "src"})
    result = s3.copy_object(Bucket=BUCKET, Key="dst/copied.txt", CopySource=f"{BUCKET}/src/a b+c.txt")
    assert result["CopyObjectResult"]["ETag"] == md5_etag(b"copy me")
    got = s3.get_object(Bucket=BUCKET, Key="dst/copied.txt")
    assert got["Body"].read() == b"copy me"
    assert got["ContentType"] == "text/plain" and got["Metadata"] == {"origin": "src"}
    # The dict form lets botocore URL-encode the key.
    s3.copy_object(Bucket=BUCKET, Key="dst/replaced.txt", CopySource={"Bucket": BUCKET, "Key": "src/a b+c.txt"},
                   MetadataDirective="REPLACE", ContentType="application/octet-stream", Metadata={"new": "1"})
    head = s3.head_object(Bucket=BUCKET, Key="dst/replaced.txt")
    assert head["Metadata"] == {"new": "1"} and head["ContentType"] == "application/octet-stream"


def test_copy_errors(s3):
    s3.put_object(Bucket=BUCKET, Key="self", Body=b"me", Metadata={"v": "1"})
    response = error_of(s3.copy_object, Bucket=BUCKET, Key="self", CopySource=f"{BUCKET}/self")
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == ("InvalidRequest", 400)
    assert "copy an object to itself" in response["Error"]["Message"]
    s3.copy_object(Bucket=BUCKET, Key="self", CopySource=f"{BUCKET}/self", MetadataDirective="REPLACE",
                   Metadata={"v": "2"})
    assert s3.head_object(Bucket=BUCKET, Key="self")["Metadata"] == {"v": "2"}
    assert code_and_status(s3.copy_object, Bucket=BUCKET, Key="x", CopySource=f"{BUCKET}/missing") == \
        ("NoSuchKey", 404)
    assert code_and_status(s3.copy_object, Bucket=BUCKET, Key="x", CopySource="no-such-bucket-x/k") == \
        ("NoSuchBucket", 404)
    assert code_and_status(s3.copy_object, Bucket="no-such-bucket-x", Key="x", CopySource=f"{BUCKET}/self") == \
        ("NoSuchBucket", 404)


def test_conditional_copy(s3):
    etag = s3.put_object(Bucket=BUCKET, Key="cond-src", Body=b"c")["ETag"]
    modified = s3.head_object(Bucket=BUCKET, Key="cond-src")["LastModified"]
    s3.copy_object(Bucket=BUCKET, Key="cond-dst", CopySource=f"{BUCKET}/cond-src", CopySourceIfMatch=etag)
    cases = [
        {"CopySourceIfMatch": '"nope"'},
        {"CopySourceIfNoneMatch": etag},
        {"CopySourceIfModifiedSince": modified + dt.timedelta(hours=1)},
        {"CopySourceIfUnmodifiedSince": modified - dt.timedelta(hours=1)},
    ]
    for condition in cases:
        response = error_of(s3.copy_object, Bucket=BUCKET, Key="cond-dst", CopySource=f"{BUCKET}/cond-src",
                            **condition)
        assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == \
            ("PreconditionFailed", 412)


def test_delete_objects(s3):
    for key in ("batch/1", "batch/2", "batch/3"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    result = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [
        {"Key": "batch/1"}, {"Key": "batch/2"}, {"Key": "batch/never-existed"}, {"Key": "k" * 1100}]})
    assert sorted(d["Key"] for d in result["Deleted"]) == ["batch/1", "batch/2", "batch/never-existed"]
    assert result["Errors"] == [{"Key": "k" * 1100, "Code": "KeyTooLongError", "Message": "Your key is too long"}]
    quiet = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "batch/3"}], "Quiet": True})
    assert "Deleted" not in quiet and "Errors" not in quiet
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="batch/")
    assert listed["KeyCount"] == 0


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize("algorithm,digest", [
    ("CRC32", lambda d: zlib.crc32(d).to_bytes(4, "big")),
    ("SHA1", lambda d: hashlib.sha1(d).digest()),
    ("SHA256", lambda d: hashlib.sha256(d).digest()),
])
def test_checksums_stored_and_returned(s3, algorithm, digest):
    key = f"checksum-{algorithm}"
    put = s3.put_object(Bucket=BUCKET, Key=key, Body=DATA, ChecksumAlgorithm=algorithm)
    expected = b64(digest(DATA))
    assert put[f"Checksum{algorithm}"] == expected
    head = s3.head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == expected and head["ChecksumType"] == "FULL_OBJECT"
    got = s3.get_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
    assert got[f"Checksum{algorithm}"] == expected and got["Body"].read() == DATA
    assert f"Checksum{algorithm}" not in s3.head_object(Bucket=BUCKET, Key=key)  # only when asked
    # A range is not the whole object, so it carries no whole-object checksum.
    assert f"Checksum{algorithm}" not in s3.get_object(Bucket=BUCKET, Key=key, Range="bytes=0-9",
                                                        ChecksumMode="ENABLED")


def test_crc32c_and_crc64nvme_from_headers(s3):
    # botocore needs awscrt to compute these, so send precomputed values (check value of "123456789").
    s3.put_object(Bucket=BUCKET, Key="crc32c", Body=b"123456789", ChecksumCRC32C=b64((0xE3069283).to_bytes(4, "big")))
    head = s3.head_object(Bucket=BUCKET, Key="crc32c", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32C"] == b64((0xE3069283).to_bytes(4, "big"))
    value = b64((0xAE8B14860A799888).to_bytes(8, "big"))
    s3.put_object(Bucket=BUCKET, Key="crc64", Body=b"123456789", ChecksumCRC64NVME=value)
    assert s3.head_object(Bucket=BUCKET, Key="crc64", ChecksumMode="ENABLED")["ChecksumCRC64NVME"] == value
    response = error_of(s3.put_object, Bucket=BUCKET, Key="crc32c-bad", Body=b"12345678X",
                        ChecksumCRC32C=b64((0xE3069283).to_bytes(4, "big")))
    assert response["Error"]["Code"] == "BadDigest"
    assert response["Error"]["Message"] == "The CRC32C you specified did not match the calculated checksum."


def test_bad_checksums_and_digests(s3):
    wrong = b64(hashlib.sha256(b"something else").digest())
    assert code_and_status(s3.put_object, Bucket=BUCKET, Key="bad", Body=b"data", ChecksumSHA256=wrong) == \
        ("BadDigest", 400)
    assert code_and_status(s3.put_object, Bucket=BUCKET, Key="bad", Body=b"data", ChecksumSHA256="!!!") == \
        ("InvalidRequest", 400)
    response = error_of(s3.put_object, Bucket=BUCKET, Key="bad", Body=b"data", ContentMD5=b64(b"0" * 16))
    assert response["Error"]["Code"] == "BadDigest"
    assert response["Error"]["Message"] == "The Content-MD5 you specified did not match what we received."
    assert code_and_status(s3.put_object, Bucket=BUCKET, Key="bad", Body=b"data", ContentMD5="short") == \
        ("InvalidDigest", 400)
    s3.put_object(Bucket=BUCKET, Key="good-md5", Body=b"data", ContentMD5=b64(hashlib.md5(b"data").digest()))
    assert error_of(s3.head_object, Bucket=BUCKET, Key="bad")["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_errors_do_not_break_the_connection(stack):
    """An error answered before the body is read must not leave the body to be parsed as the
    next request on the same keep-alive connection."""
    s3 = stack.client("s3", config=Config(retries={"max_attempts": 0}))
    for _ in range(3):
        assert code_and_status(s3.put_object, Bucket=BUCKET, Key="k", Body=b"x" * 5000, ContentMD5="bad") == \
            ("InvalidDigest", 400)
        assert code_and_status(s3.put_object, Bucket="no-such-bucket-y", Key="k", Body=b"y" * 5000) == \
            ("NoSuchBucket", 404)
        s3.put_object(Bucket=BUCKET, Key="after-error", Body=b"fine")


def test_presigned_get_and_put(s3):
    url = s3.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "presigned/up load.txt"},
                                    ExpiresIn=300)
    assert requests.put(url, data=b"via presigned put", timeout=30).status_code == 200
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "presigned/up load.txt"},
                                    ExpiresIn=300)
    got = requests.get(url, timeout=30)
    assert got.status_code == 200 and got.content == b"via presigned put"
    ranged = requests.get(url, headers={"Range": "bytes=4-12"}, timeout=30)
    assert ranged.status_code == 206 and ranged.content == b"presigned"
    missing = requests.get(s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "nope"}),
                           timeout=30)
    assert missing.status_code == 404 and b"<Code>NoSuchKey</Code>" in missing.content


def test_keys_with_unusual_characters(s3):
    keys = ["spaces in name.txt", "plus+sign", "percent%20literal", "unicode/ünï/😀.txt", "question?mark",
            "hash#tag", "amp&er=sand", "a//b", "dir/", "./dot", "trailing.", "~tilde", "semi;colon", "tab\tkey"]
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=f"odd/{key}", Body=key.encode())
    for key in keys:
        assert s3.get_object(Bucket=BUCKET, Key=f"odd/{key}")["Body"].read() == key.encode()
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="odd/")["Contents"]]
    assert listed == sorted((f"odd/{k}" for k in keys), key=lambda k: k.encode())


def aws_chunked_put(stack, key: str, data: bytes, trailer_value: str) -> requests.Response:
    """A PUT as SDKs send it over TLS: aws-chunked body, CRC32 in a trailer after the data."""
    body = (f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n"
            + f"x-amz-checksum-crc32:{trailer_value}\r\n\r\n".encode())
    request = AWSRequest("PUT", f"{stack.endpoint_url}/{BUCKET}/{key}", data=body, headers={
        "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
        "x-amz-trailer": "x-amz-checksum-crc32", "x-amz-sdk-checksum-algorithm": "CRC32"})
    # This context makes botocore sign with STREAMING-UNSIGNED-PAYLOAD-TRAILER.
    request.context = {"checksum": {"request_algorithm": {"in": "trailer", "algorithm": "crc32",
                                                          "name": "x-amz-checksum-crc32"}}}
    credentials = Credentials(stack.credentials["aws_access_key_id"], stack.credentials["aws_secret_access_key"])
    S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)
    prepared = request.prepare()
    return requests.put(prepared.url, data=body, headers=dict(prepared.headers), timeout=30)


def test_trailing_checksum(s3, stack):
    data = b"checksummed in a trailer " * 2000
    good = b64(zlib.crc32(data).to_bytes(4, "big"))
    answer = aws_chunked_put(stack, "trailer/good", data, good)
    assert answer.status_code == 200 and answer.headers["x-amz-checksum-crc32"] == good
    head = s3.head_object(Bucket=BUCKET, Key="trailer/good", ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(data) and head["ChecksumCRC32"] == good
    assert "ContentEncoding" not in head  # aws-chunked framed the request, it is not the object's encoding
    assert s3.get_object(Bucket=BUCKET, Key="trailer/good")["Body"].read() == data
    answer = aws_chunked_put(stack, "trailer/bad", data, b64(b"\0\0\0\0"))
    assert answer.status_code == 400 and b"<Code>BadDigest</Code>" in answer.content
    assert error_of(s3.head_object, Bucket=BUCKET, Key="trailer/bad")["ResponseMetadata"]["HTTPStatusCode"] == 404
