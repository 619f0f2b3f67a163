"""Multipart uploads against a real server: the happy path, its errors, part copies, listings,
checksums, and boto3's managed transfers (upload_file/download_file) of a 50 MB file."""

import base64
import hashlib
import zlib

import pytest
from boto3.s3.transfer import TransferConfig
from helpers import error_of

import lakestack

BUCKET = "multipart"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def stack():
    with lakestack.local() as running:
        running.client("s3").create_bucket(Bucket=BUCKET)
        yield running




def chunk(n: int, size: int) -> bytes:
    block = hashlib.sha256(str(n).encode()).digest()
    return (block * (size // len(block) + 1))[:size]


def upload_parts(s3, key, parts, **create):
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key=key, **create)["UploadId"]
    done = []
    for number, data in enumerate(parts, 1):
        etag = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=number, Body=data)["ETag"]
        done.append({"PartNumber": number, "ETag": etag})
    return upload_id, done


def test_upload_complete_and_read(s3, stack):
    parts = [chunk(1, 5 * MIB), chunk(2, 5 * MIB), chunk(3, 1234)]
    upload_id, done = upload_parts(s3, "mp/data.bin", parts, ContentType="application/x-parquet",
                                   Metadata={"job": "etl"})
    result = s3.complete_multipart_upload(Bucket=BUCKET, Key="mp/data.bin", UploadId=upload_id,
                                          MultipartUpload={"Parts": done})
    combined = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    assert result["ETag"] == f'"{combined}-3"'
    assert result["Key"] == "mp/data.bin" and result["Bucket"] == BUCKET
    assert result["Location"].endswith(f"/{BUCKET}/mp/data.bin")
    whole = b"".join(parts)
    got = s3.get_object(Bucket=BUCKET, Key="mp/data.bin")
    assert got["Body"].read() == whole
    assert got["ContentType"] == "application/x-parquet" and got["Metadata"] == {"job": "etl"}
    assert (stack.home / "s3" / BUCKET / "mp" / "data.bin").read_bytes() == whole
    assert not (stack.home / "multipart" / upload_id).exists()
    # A part of a multipart object can be read by number.
    part2 = s3.get_object(Bucket=BUCKET, Key="mp/data.bin", PartNumber=2)
    assert part2["Body"].read() == parts[1] and part2["PartsCount"] == 3
    assert part2["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert error_of(s3.list_parts, Bucket=BUCKET, Key="mp/data.bin", UploadId=upload_id)["Error"]["Code"] == \
        "NoSuchUpload"


def test_single_part_upload_and_part_overwrite(s3):
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="one-part")["UploadId"]
    s3.upload_part(Bucket=BUCKET, Key="one-part", UploadId=upload_id, PartNumber=1, Body=b"first try")
    etag = s3.upload_part(Bucket=BUCKET, Key="one-part", UploadId=upload_id, PartNumber=1, Body=b"tiny")["ETag"]
    parts = s3.list_parts(Bucket=BUCKET, Key="one-part", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in parts] == [(1, 4, etag)]
    s3.complete_multipart_upload(Bucket=BUCKET, Key="one-part", UploadId=upload_id,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert s3.get_object(Bucket=BUCKET, Key="one-part")["Body"].read() == b"tiny"


def test_complete_errors(s3):
    small = [chunk(1, 100), chunk(2, 100)]
    upload_id, done = upload_parts(s3, "errors", small)
    response = error_of(s3.complete_multipart_upload, Bucket=BUCKET, Key="errors", UploadId=upload_id,
                        MultipartUpload={"Parts": list(reversed(done))})
    assert response["Error"]["Code"] == "InvalidPartOrder"
    response = error_of(s3.complete_multipart_upload, Bucket=BUCKET, Key="errors", UploadId=upload_id,
                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"0123"'}]})
    assert response["Error"]["Code"] == "InvalidPart" and response["Error"]["PartNumber"] == "1"
    response = error_of(s3.complete_multipart_upload, Bucket=BUCKET, Key="errors", UploadId=upload_id,
                        MultipartUpload={"Parts": [{"PartNumber": 3, "ETag": done[0]["ETag"]}]})
    assert response["Error"]["Code"] == "InvalidPart"
    response = error_of(s3.complete_multipart_upload, Bucket=BUCKET, Key="errors", UploadId=upload_id,
                        MultipartUpload={"Parts": done})
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == ("EntityTooSmall", 400)
    assert response["Error"]["MinSizeAllowed"] == str(5 * MIB)
    response = error_of(s3.complete_multipart_upload, Bucket=BUCKET, Key="errors", UploadId=upload_id,
                        MultipartUpload={"Parts": []})
    assert response["Error"]["Code"] == "MalformedXML"
    # Still in progress after all those failures.
    assert s3.list_parts(Bucket=BUCKET, Key="errors", UploadId=upload_id)["Parts"]


def test_no_such_upload_and_bad_part_numbers(s3):
    for call, extra in ((s3.upload_part, {"PartNumber": 1, "Body": b"x"}), (s3.list_parts, {}),
                        (s3.abort_multipart_upload, {}),
                        (s3.complete_multipart_upload, {"MultipartUpload": {"Parts": [{"PartNumber": 1,
                                                                                      "ETag": '"x"'}]}})):
        response = error_of(call, Bucket=BUCKET, Key="nope", UploadId="not-an-upload", **extra)
        assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == ("NoSuchUpload", 404)
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="numbers")["UploadId"]
    for number in (0, 10001):
        response = error_of(s3.upload_part, Bucket=BUCKET, Key="numbers", UploadId=upload_id, PartNumber=number,
                            Body=b"x")
        assert response["Error"]["Code"] == "InvalidArgument"
    # An upload belongs to its key.
    assert error_of(s3.list_parts, Bucket=BUCKET, Key="other-key", UploadId=upload_id)["Error"]["Code"] == \
        "NoSuchUpload"


def test_abort(s3, stack):
    upload_id, _ = upload_parts(s3, "aborted", [b"abc"])
    assert (stack.home / "multipart" / upload_id).is_dir()
    assert s3.abort_multipart_upload(Bucket=BUCKET, Key="aborted", UploadId=upload_id)[
        "ResponseMetadata"]["HTTPStatusCode"] == 204
    assert not (stack.home / "multipart" / upload_id).exists()
    assert error_of(s3.list_parts, Bucket=BUCKET, Key="aborted", UploadId=upload_id)["Error"]["Code"] == \
        "NoSuchUpload"
    assert error_of(s3.head_object, Bucket=BUCKET, Key="aborted")["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_list_parts_pages(s3):
    upload_id, _ = upload_parts(s3, "paged-parts", [b"1", b"2", b"3", b"4", b"5"])
    first = s3.list_parts(Bucket=BUCKET, Key="paged-parts", UploadId=upload_id, MaxParts=2)
    assert [p["PartNumber"] for p in first["Parts"]] == [1, 2]
    assert first["IsTruncated"] is True and first["NextPartNumberMarker"] == 2
    rest = s3.list_parts(Bucket=BUCKET, Key="paged-parts", UploadId=upload_id,
                         PartNumberMarker=first["NextPartNumberMarker"])
    assert [p["PartNumber"] for p in rest["Parts"]] == [3, 4, 5] and rest["IsTruncated"] is False
    assert first["Initiator"]["ID"] and first["Owner"]["ID"] and first["StorageClass"] == "STANDARD"
    s3.abort_multipart_upload(Bucket=BUCKET, Key="paged-parts", UploadId=upload_id)


def test_list_multipart_uploads(s3, stack):
    other = stack.client("s3")
    other.create_bucket(Bucket="uploads-listed")
    ids = {}
    for key in ("logs/a", "logs/b", "data/x", "top", "top"):
        ids.setdefault(key, []).append(other.create_multipart_upload(Bucket="uploads-listed", Key=key)["UploadId"])
    out = other.list_multipart_uploads(Bucket="uploads-listed")
    assert [u["Key"] for u in out["Uploads"]] == ["data/x", "logs/a", "logs/b", "top", "top"]
    assert [u["UploadId"] for u in out["Uploads"] if u["Key"] == "top"] == ids["top"]  # by initiation time
    out = other.list_multipart_uploads(Bucket="uploads-listed", Delimiter="/")
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["data/", "logs/"]
    assert [u["Key"] for u in out["Uploads"]] == ["top", "top"]
    out = other.list_multipart_uploads(Bucket="uploads-listed", Prefix="logs/")
    assert [u["Key"] for u in out["Uploads"]] == ["logs/a", "logs/b"]
    first = other.list_multipart_uploads(Bucket="uploads-listed", MaxUploads=4)
    assert first["IsTruncated"] is True and first["NextKeyMarker"] == "top"
    rest = other.list_multipart_uploads(Bucket="uploads-listed", KeyMarker=first["NextKeyMarker"],
                                        UploadIdMarker=first["NextUploadIdMarker"])
    assert [u["UploadId"] for u in rest["Uploads"]] == ids["top"][1:]


def test_upload_part_copy(s3):
    source = bytes(range(256)) * (6 * MIB // 256)
    s3.put_object(Bucket=BUCKET, Key="copy-source", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="assembled")["UploadId"]
    first = s3.upload_part_copy(Bucket=BUCKET, Key="assembled", UploadId=upload_id, PartNumber=1,
                                CopySource={"Bucket": BUCKET, "Key": "copy-source"})
    second = s3.upload_part_copy(Bucket=BUCKET, Key="assembled", UploadId=upload_id, PartNumber=2,
                                 CopySource=f"{BUCKET}/copy-source", CopySourceRange="bytes=10-19")
    assert first["CopyPartResult"]["ETag"] == f'"{hashlib.md5(source).hexdigest()}"'
    assert second["CopyPartResult"]["ETag"] == f'"{hashlib.md5(source[10:20]).hexdigest()}"'
    response = error_of(s3.upload_part_copy, Bucket=BUCKET, Key="assembled", UploadId=upload_id, PartNumber=3,
                        CopySource=f"{BUCKET}/copy-source", CopySourceRange=f"bytes=0-{len(source)}")
    assert response["Error"]["Code"] == "InvalidArgument"
    s3.complete_multipart_upload(Bucket=BUCKET, Key="assembled", UploadId=upload_id, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": first["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": second["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket=BUCKET, Key="assembled")["Body"].read() == source + source[10:20]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_composite_checksum(s3):
    parts = [chunk(7, 5 * MIB), chunk(8, 10)]
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="crc-composite", ChecksumAlgorithm="CRC32")[
        "UploadId"]
    done = []
    for number, data in enumerate(parts, 1):
        answer = s3.upload_part(Bucket=BUCKET, Key="crc-composite", UploadId=upload_id, PartNumber=number,
                                Body=data, ChecksumAlgorithm="CRC32")
        assert answer["ChecksumCRC32"] == b64(zlib.crc32(data).to_bytes(4, "big"))
        done.append({"PartNumber": number, "ETag": answer["ETag"], "ChecksumCRC32": answer["ChecksumCRC32"]})
    listed = s3.list_parts(Bucket=BUCKET, Key="crc-composite", UploadId=upload_id)
    assert listed["ChecksumAlgorithm"] == "CRC32" and listed["Parts"][0]["ChecksumCRC32"] == done[0]["ChecksumCRC32"]
    missing = [{"PartNumber": d["PartNumber"], "ETag": d["ETag"]} for d in done]
    assert error_of(s3.complete_multipart_upload, Bucket=BUCKET, Key="crc-composite", UploadId=upload_id,
                    MultipartUpload={"Parts": missing})["Error"]["Code"] == "InvalidRequest"
    result = s3.complete_multipart_upload(Bucket=BUCKET, Key="crc-composite", UploadId=upload_id,
                                          MultipartUpload={"Parts": done})
    inner = zlib.crc32(b"".join(zlib.crc32(p).to_bytes(4, "big") for p in parts)).to_bytes(4, "big")
    assert result["ChecksumCRC32"] == f"{b64(inner)}-2" and result["ChecksumType"] == "COMPOSITE"
    head = s3.head_object(Bucket=BUCKET, Key="crc-composite", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == f"{b64(inner)}-2" and head["ChecksumType"] == "COMPOSITE"
    # botocore skips validating composite checksums; the bytes still arrive whole.
    assert s3.get_object(Bucket=BUCKET, Key="crc-composite", ChecksumMode="ENABLED")["Body"].read() == \
        b"".join(parts)


def test_full_object_checksum(s3):
    parts = [chunk(9, 5 * MIB), chunk(10, 77)]
    whole = b"".join(parts)
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="crc-full", ChecksumAlgorithm="CRC32",
                                           ChecksumType="FULL_OBJECT")["UploadId"]
    done = []
    for number, data in enumerate(parts, 1):
        answer = s3.upload_part(Bucket=BUCKET, Key="crc-full", UploadId=upload_id, PartNumber=number, Body=data,
                                ChecksumAlgorithm="CRC32")
        done.append({"PartNumber": number, "ETag": answer["ETag"]})
    expected = b64(zlib.crc32(whole).to_bytes(4, "big"))
    wrong = b64(zlib.crc32(b"other").to_bytes(4, "big"))
    assert error_of(s3.complete_multipart_upload, Bucket=BUCKET, Key="crc-full", UploadId=upload_id,
                    ChecksumCRC32=wrong, ChecksumType="FULL_OBJECT",
                    MultipartUpload={"Parts": done})["Error"]["Code"] == "BadDigest"
    result = s3.complete_multipart_upload(Bucket=BUCKET, Key="crc-full", UploadId=upload_id, ChecksumCRC32=expected,
                                          ChecksumType="FULL_OBJECT", MultipartUpload={"Parts": done})
    assert result["ChecksumCRC32"] == expected and result["ChecksumType"] == "FULL_OBJECT"
    got = s3.get_object(Bucket=BUCKET, Key="crc-full", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == expected and got["Body"].read() == whole  # botocore validates this one
    assert error_of(s3.create_multipart_upload, Bucket=BUCKET, Key="x", ChecksumAlgorithm="SHA256",
                    ChecksumType="FULL_OBJECT")["Error"]["Code"] == "InvalidRequest"


def test_upload_file_and_download_file_50mb(s3, tmp_path, stack):
    source = tmp_path / "source.bin"
    with open(source, "wb") as out:
        for n in range(50):
            out.write(chunk(100 + n, MIB))
    config = TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB, max_concurrency=4)
    s3.upload_file(str(source), BUCKET, "transfer/50mb.bin", Config=config)
    head = s3.head_object(Bucket=BUCKET, Key="transfer/50mb.bin")
    assert head["ContentLength"] == 50 * MIB and head["ETag"].endswith('-7"')
    target = tmp_path / "downloaded.bin"
    s3.download_file(BUCKET, "transfer/50mb.bin", str(target), Config=config)  # concurrent ranged GETs
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    assert hashlib.sha256(target.read_bytes()).hexdigest() == digest
    lake_file = stack.home / "s3" / BUCKET / "transfer" / "50mb.bin"
    assert hashlib.sha256(lake_file.read_bytes()).hexdigest() == digest
    in_progress = s3.list_multipart_uploads(Bucket=BUCKET, Prefix="transfer/").get("Uploads", [])
    assert in_progress == []
