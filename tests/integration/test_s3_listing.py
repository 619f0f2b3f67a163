"""ListObjects and ListObjectsV2 against a real server: prefixes, delimiters, pagination,
StartAfter/Marker, EncodingType=url and UTF-8 byte order."""

from urllib.parse import unquote_plus

import pytest
from botocore.exceptions import ClientError

import lakestack

BUCKET = "listing"
KEYS = [
    "a.txt", "b c.txt", "b+c.txt", "dir/x", "dir/y", "dir/sub/z", "dir/sub/zz", "dir2/q", "logs/2024/01/a.log",
    "logs/2024/02/b.log", "logs/2025/01/c.log", "über.txt", "zeta", "ω/omega", "😀/smile", "\u00e9t\u00e9",
    "\uffffmax", "key with  two spaces", "percent%2Fliteral", "x&y=z",
]
UTF8_ORDER = sorted(KEYS, key=lambda k: k.encode())


@pytest.fixture(scope="module")
def s3():
    with lakestack.local() as stack:
        client = stack.client("s3")
        client.create_bucket(Bucket=BUCKET)
        for key in KEYS:
            client.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
        yield client


def all_v2(s3, **kwargs):
    keys, prefixes, pages = [], [], 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, **kwargs):
        pages += 1
        keys += [o["Key"] for o in page.get("Contents", [])]
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    return keys, prefixes, pages


def all_v1(s3, **kwargs):
    keys, prefixes, pages = [], [], 0
    for page in s3.get_paginator("list_objects").paginate(Bucket=BUCKET, **kwargs):
        pages += 1
        keys += [o["Key"] for o in page.get("Contents", [])]
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    return keys, prefixes, pages


def test_everything_in_utf8_byte_order(s3):
    out = s3.list_objects_v2(Bucket=BUCKET)
    assert [o["Key"] for o in out["Contents"]] == UTF8_ORDER
    assert out["KeyCount"] == len(KEYS) and out["IsTruncated"] is False
    first = out["Contents"][0]
    assert first["Size"] == len(first["Key"].encode()) and first["ETag"].startswith('"')
    assert first["StorageClass"] == "STANDARD" and "Owner" not in first
    assert "Owner" in s3.list_objects_v2(Bucket=BUCKET, FetchOwner=True)["Contents"][0]
    assert "Owner" in s3.list_objects(Bucket=BUCKET)["Contents"][0]


def test_prefix_and_delimiter(s3):
    out = s3.list_objects_v2(Bucket=BUCKET, Delimiter="/")
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["dir/", "dir2/", "logs/", "ω/", "😀/"]
    assert "dir/x" not in [o["Key"] for o in out["Contents"]]
    assert out["KeyCount"] == len(out["Contents"]) + len(out["CommonPrefixes"])
    out = s3.list_objects_v2(Bucket=BUCKET, Prefix="dir/", Delimiter="/")
    assert [o["Key"] for o in out["Contents"]] == ["dir/x", "dir/y"]
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["dir/sub/"]
    assert out["Prefix"] == "dir/" and out["Delimiter"] == "/"
    out = s3.list_objects_v2(Bucket=BUCKET, Prefix="logs/", Delimiter="/01/")
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["logs/2024/01/", "logs/2025/01/"]
    assert [o["Key"] for o in out["Contents"]] == ["logs/2024/02/b.log"]
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="nothing-here/")["KeyCount"] == 0


@pytest.mark.parametrize("page_size", [1, 2, 3, 7])
def test_v2_pagination_joins_up(s3, page_size):
    keys, prefixes, pages = all_v2(s3, PaginationConfig={"PageSize": page_size})
    assert keys == UTF8_ORDER and prefixes == []
    assert pages == -(-len(KEYS) // page_size)
    keys, prefixes, _ = all_v2(s3, Delimiter="/", PaginationConfig={"PageSize": page_size})
    full = s3.list_objects_v2(Bucket=BUCKET, Delimiter="/")
    assert keys == [o["Key"] for o in full["Contents"]]
    assert prefixes == [p["Prefix"] for p in full["CommonPrefixes"]]


@pytest.mark.parametrize("page_size", [1, 4])
def test_v1_pagination_joins_up(s3, page_size):
    keys, _, pages = all_v1(s3, PaginationConfig={"PageSize": page_size})
    assert keys == UTF8_ORDER
    keys, prefixes, _ = all_v1(s3, Delimiter="/", PaginationConfig={"PageSize": page_size})
    full = s3.list_objects(Bucket=BUCKET, Delimiter="/")
    assert keys == [o["Key"] for o in full["Contents"]]
    assert prefixes == [p["Prefix"] for p in full["CommonPrefixes"]]


def test_v2_continuation_token_fields(s3):
    first = s3.list_objects_v2(Bucket=BUCKET, MaxKeys=2)
    assert first["IsTruncated"] is True and first["KeyCount"] == 2 and first["MaxKeys"] == 2
    token = first["NextContinuationToken"]
    second = s3.list_objects_v2(Bucket=BUCKET, MaxKeys=2, ContinuationToken=token)
    assert second["ContinuationToken"] == token
    assert [o["Key"] for o in second["Contents"]] == UTF8_ORDER[2:4]
    with pytest.raises(ClientError) as caught:
        s3.list_objects_v2(Bucket=BUCKET, ContinuationToken="garbage!")
    assert caught.value.response["Error"]["Code"] == "InvalidArgument"


def test_start_after_and_marker(s3):
    out = s3.list_objects_v2(Bucket=BUCKET, StartAfter="dir/sub/zz")
    assert [o["Key"] for o in out["Contents"]] == UTF8_ORDER[UTF8_ORDER.index("dir/sub/zz") + 1:]
    assert out["StartAfter"] == "dir/sub/zz"
    out = s3.list_objects(Bucket=BUCKET, Marker="logs/")
    assert [o["Key"] for o in out["Contents"]][0] == "logs/2024/01/a.log"
    assert out["Marker"] == "logs/"
    # NextMarker comes only with a delimiter (else clients resume at the last key).
    assert "NextMarker" not in s3.list_objects(Bucket=BUCKET, MaxKeys=1)
    assert s3.list_objects(Bucket=BUCKET, MaxKeys=3, Delimiter="/")["NextMarker"] == "b+c.txt"


def test_max_keys_bounds(s3):
    out = s3.list_objects_v2(Bucket=BUCKET, MaxKeys=0)
    assert out["KeyCount"] == 0 and "Contents" not in out
    out = s3.list_objects_v2(Bucket=BUCKET, MaxKeys=5000)
    assert out["MaxKeys"] == 1000 and out["KeyCount"] == len(KEYS)


def test_url_encoding_round_trips(s3):
    # boto3 asks for EncodingType=url by default and decodes the answer itself.
    out = s3.list_objects_v2(Bucket=BUCKET, Prefix="b", StartAfter="a")
    assert [o["Key"] for o in out["Contents"]] == ["b c.txt", "b+c.txt"]
    assert out["EncodingType"] == "url"
    raw = {}

    def capture(http_response, **kwargs):
        raw["body"] = http_response.content

    s3.meta.events.register("after-call.s3.ListObjectsV2", capture)
    try:
        out = s3.list_objects_v2(Bucket=BUCKET, Prefix="b c", Delimiter=" ")
    finally:
        s3.meta.events.unregister("after-call.s3.ListObjectsV2", capture)
    assert b"<Prefix>b+c</Prefix>" in raw["body"] and b"<Delimiter>+</Delimiter>" in raw["body"]
    assert out["Prefix"] == "b c" and out["Delimiter"] == " "
    assert [o["Key"] for o in out["Contents"]] == ["b c.txt"]
    # Asked for explicitly, the encoding is left for the caller to undo.
    keys = [o["Key"] for o in s3.list_objects(Bucket=BUCKET, EncodingType="url")["Contents"]]
    assert keys[1:3] == ["b+c.txt", "b%2Bc.txt"]
    assert [unquote_plus(k) for k in keys] == UTF8_ORDER


def test_bad_arguments(s3):
    with pytest.raises(ClientError) as caught:
        s3.list_objects_v2(Bucket=BUCKET, EncodingType="base64")
    assert caught.value.response["Error"]["Code"] == "InvalidArgument"
