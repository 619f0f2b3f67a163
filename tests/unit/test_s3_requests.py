"""Range headers, conditional headers and checksums, as S3 reads them."""

import base64
import datetime as dt
import hashlib
import zlib

import pytest

from lakestack.aws.errors import AwsError
from lakestack.services.s3 import checksums, conditions, ranges
from lakestack.services.s3.objects import metadata_text

UTC = dt.UTC


@pytest.mark.parametrize("header,size,expected", [
    ("bytes=0-4", 10, (0, 4)),
    ("bytes=2-", 10, (2, 9)),
    ("bytes=-3", 10, (7, 9)),
    ("bytes=-30", 10, (0, 9)),  # a suffix longer than the object is the whole object
    ("bytes=5-100", 10, (5, 9)),  # the end is clamped
    ("bytes=9-9", 10, (9, 9)),
    (None, 10, None),
    ("bytes=5-2", 10, None),  # invalid: ignored
    ("bytes=0-1,3-4", 10, None),  # several ranges: S3 answers the whole object
    ("items=0-1", 10, None),
    ("bytes=-", 10, None),
])
def test_ranges(header, size, expected):
    assert ranges.parse(header, size) == expected


@pytest.mark.parametrize("header,size", [("bytes=10-", 10), ("bytes=10-20", 10), ("bytes=-0", 10),
                                         ("bytes=0-", 0), ("bytes=-5", 0)])
def test_unsatisfiable_ranges(header, size):
    with pytest.raises(AwsError) as caught:
        ranges.parse(header, size)
    assert (caught.value.code, caught.value.status) == ("InvalidRange", 416)
    assert caught.value.fields["ActualObjectSize"] == size


def test_copy_source_range():
    assert ranges.copy_source_range("bytes=0-9", 10) == (0, 9)
    for bad in ("bytes=0-10", "bytes=5-", "bytes=-5", "bytes=4-3"):
        with pytest.raises(AwsError) as caught:
            ranges.copy_source_range(bad, 10)
        assert caught.value.code == "InvalidArgument"


ETAG = '"abc"'
MODIFIED = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC).timestamp() + 0.5
BEFORE = dt.datetime(2024, 5, 1, 11, 0, 0, tzinfo=UTC)
AFTER = dt.datetime(2024, 5, 1, 13, 0, 0, tzinfo=UTC)
SAME_SECOND = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("params,outcome", [
    ({}, None),
    ({"IfMatch": ETAG}, None),
    ({"IfMatch": "abc"}, None),  # quotes are optional
    ({"IfMatch": '"x", "abc"'}, None),
    ({"IfMatch": "*"}, None),
    ({"IfMatch": '"x"'}, 412),
    ({"IfNoneMatch": ETAG}, 304),
    ({"IfNoneMatch": '"x"'}, None),
    ({"IfModifiedSince": BEFORE}, None),
    ({"IfModifiedSince": SAME_SECOND}, 304),  # HTTP dates have whole seconds
    ({"IfModifiedSince": AFTER}, 304),
    ({"IfUnmodifiedSince": AFTER}, None),
    ({"IfUnmodifiedSince": BEFORE}, 412),
    # If-Match holding makes If-Unmodified-Since irrelevant; If-None-Match makes If-Modified-Since so.
    ({"IfMatch": ETAG, "IfUnmodifiedSince": BEFORE}, None),
    ({"IfNoneMatch": '"x"', "IfModifiedSince": AFTER}, None),
    ({"IfNoneMatch": ETAG, "IfModifiedSince": BEFORE}, 304),
    ({"IfMatch": '"x"', "IfNoneMatch": ETAG}, 412),
])
def test_read_conditions(params, outcome):
    try:
        result = conditions.check_read(params, ETAG, MODIFIED)
    except AwsError as error:
        assert (error.status, error.code) == (412, "PreconditionFailed") and outcome == 412
        return
    assert (304 if result == conditions.NOT_MODIFIED else None) == outcome


@pytest.mark.parametrize("params,condition", [
    ({"CopySourceIfMatch": '"x"'}, "x-amz-copy-source-If-Match"),
    ({"CopySourceIfNoneMatch": ETAG}, "x-amz-copy-source-If-None-Match"),
    ({"CopySourceIfModifiedSince": AFTER}, "x-amz-copy-source-If-Modified-Since"),
    ({"CopySourceIfUnmodifiedSince": BEFORE}, "x-amz-copy-source-If-Unmodified-Since"),
])
def test_copy_source_conditions_fail_with_412(params, condition):
    with pytest.raises(AwsError) as caught:
        conditions.check_copy_source(params, ETAG, MODIFIED)
    assert caught.value.status == 412 and caught.value.fields["Condition"] == condition
    conditions.check_copy_source({"CopySourceIfMatch": ETAG, "CopySourceIfUnmodifiedSince": BEFORE}, ETAG, MODIFIED)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize("algorithm,expected", [
    ("CRC32", (0xCBF43926).to_bytes(4, "big")),
    ("CRC32C", (0xE3069283).to_bytes(4, "big")),
    ("CRC64NVME", (0xAE8B14860A799888).to_bytes(8, "big")),
    ("SHA1", hashlib.sha1(b"123456789").digest()),
    ("SHA256", hashlib.sha256(b"123456789").digest()),
])
def test_checksum_check_values(algorithm, expected):
    digest = checksums.new(algorithm)
    digest.update(b"1234")
    digest.update(b"56789")  # incremental
    assert digest.digest() == expected


def test_supplied_checksums():
    value = b64(zlib.crc32(b"x").to_bytes(4, "big"))
    assert checksums.supplied({"ChecksumCRC32": value}) == ("CRC32", value)
    assert checksums.supplied({"ChecksumAlgorithm": "sha256"}) == ("SHA256", None)
    assert checksums.supplied({}, ["x-amz-checksum-crc32c"]) == ("CRC32C", None)
    assert checksums.supplied({}) == (None, None)
    for params in ({"ChecksumCRC32": "not base64!"}, {"ChecksumCRC32": b64(b"12345")},
                   {"ChecksumCRC32": value, "ChecksumSHA1": b64(b"x" * 20)},
                   {"ChecksumCRC32": value, "ChecksumAlgorithm": "SHA256"}, {"ChecksumAlgorithm": "ROT13"}):
        with pytest.raises(AwsError) as caught:
            checksums.supplied(params)
        assert caught.value.code == "InvalidRequest"


def test_content_md5():
    assert checksums.content_md5(b64(hashlib.md5(b"x").digest())) == hashlib.md5(b"x").digest()
    for bad in ("nope", b64(b"short")):
        with pytest.raises(AwsError) as caught:
            checksums.content_md5(bad)
        assert caught.value.code == "InvalidDigest"


def test_multipart_etag_and_composite_checksum():
    parts = [b"a" * 10, b"b" * 3]
    md5s = [hashlib.md5(p).hexdigest() for p in parts]
    expected = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    assert checksums.multipart_etag(md5s) == f'"{expected}-2"'
    crcs = [b64(zlib.crc32(p).to_bytes(4, "big")) for p in parts]
    inner = zlib.crc32(b"".join(base64.b64decode(c) for c in crcs)).to_bytes(4, "big")
    assert checksums.composite("CRC32", crcs) == f"{b64(inner)}-2"


@pytest.mark.parametrize("received,text", [
    ("Hello World\xc3\xa9", "Hello World\xe9"),  # UTF-8 bytes on the wire, read as latin-1 by the gateway
    ("Hello World\xe9", "Hello World\xe9"),  # a lone latin-1 byte is not UTF-8: taken as latin-1
    ("=?UTF-8?B?SGVsbG8gV29ybGTDqQ==?=", "Hello World\xe9"),  # RFC 2047, as S3 answers it
    ("=?ISO-8859-1?Q?caf=E9?=", "caf\xe9"),
    ("plain ascii =? not encoded", "plain ascii =? not encoded"),
    ("\u2713 from another service", "\u2713 from another service"),
])
def test_user_metadata_text(received, text):
    assert metadata_text(received) == text
