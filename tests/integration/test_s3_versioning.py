"""S3 Versioning against a real server: bucket versioning status, version ids on every write,
null versions, delete markers, reads/deletes/copies by version, ListObjectVersions paging,
versioned DeleteObjects, multipart and conditional requests — through boto3 and `aws s3api`.
The current version's bytes stay a plain file at s3/<bucket>/<key>; older versions are plain
files under s3-objects/<bucket>/versions/."""

import itertools
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from helpers import aws_cli_env, error_of

import lakestack

MIB = 1024 * 1024
AWS = Path(sys.executable).parent / "aws"
_names = itertools.count()


def new_bucket(s3, status: str | None = "Enabled") -> str:
    name = f"versioned-{next(_names)}"
    s3.create_bucket(Bucket=name)
    if status:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": status})
    return name


def body(s3, bucket, key, **kwargs) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key, **kwargs)["Body"].read()


def status_and_code(response) -> tuple[int, str]:
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def versions_of(s3, bucket, **kwargs) -> tuple[list[tuple], list[tuple]]:
    out = s3.list_object_versions(Bucket=bucket, **kwargs)
    return ([(v["Key"], v["VersionId"], v["IsLatest"]) for v in out.get("Versions", [])],
            [(m["Key"], m["VersionId"], m["IsLatest"]) for m in out.get("DeleteMarkers", [])])


def lake_file(stack, bucket, key) -> Path:
    return stack.home / "s3" / bucket / key


def version_files(stack, bucket) -> list[bytes]:
    directory = stack.home / "s3-objects" / bucket / "versions"
    return sorted(p.read_bytes() for p in directory.iterdir()) if directory.exists() else []


# -- bucket configuration -------------------------------------------------------------------

def test_versioning_status(s3):
    bucket = new_bucket(s3, None)
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    for status in ("Suspended", "Enabled", "Enabled", "Suspended"):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status, "MFADelete": "Disabled"})
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == status
    response = error_of(s3.put_bucket_versioning, Bucket=bucket, VersioningConfiguration={"Status": "On"})
    assert status_and_code(response) == (400, "MalformedXML")
    response = error_of(s3.put_bucket_versioning, Bucket=bucket,
                        VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"})
    assert status_and_code(response) == (501, "NotImplementedError")
    assert status_and_code(error_of(s3.get_bucket_versioning, Bucket="no-such-bucket-here")) == (404, "NoSuchBucket")


# -- writes and reads by version ------------------------------------------------------------

def test_every_write_gets_a_version_and_old_ones_stay_readable(s3, stack):
    bucket = new_bucket(s3)
    ids = [s3.put_object(Bucket=bucket, Key="data/k.csv", Body=f"v{i}".encode())["VersionId"] for i in range(3)]
    assert len(set(ids)) == 3
    got = s3.get_object(Bucket=bucket, Key="data/k.csv")
    assert got["Body"].read() == b"v2" and got["VersionId"] == ids[2]
    for i, version in enumerate(ids):
        got = s3.get_object(Bucket=bucket, Key="data/k.csv", VersionId=version)
        assert got["Body"].read() == f"v{i}".encode() and got["VersionId"] == version
        head = s3.head_object(Bucket=bucket, Key="data/k.csv", VersionId=version)
        assert head["ContentLength"] == 2 and head["VersionId"] == version
    # The current version is the lake file; the older ones are plain files of their own.
    assert lake_file(stack, bucket, "data/k.csv").read_bytes() == b"v2"
    assert version_files(stack, bucket) == [b"v0", b"v1"]
    assert versions_of(s3, bucket)[0] == [("data/k.csv", ids[2], True), ("data/k.csv", ids[1], False),
                                          ("data/k.csv", ids[0], False)]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["data/k.csv"]
    # A range of an old version, and a conditional read of one.
    assert body(s3, bucket, "data/k.csv", VersionId=ids[0], Range="bytes=1-1") == b"0"
    etag = s3.head_object(Bucket=bucket, Key="data/k.csv", VersionId=ids[0])["ETag"]
    assert status_and_code(error_of(s3.get_object, Bucket=bucket, Key="data/k.csv", VersionId=ids[0],
                                    IfMatch='"0000"')) == (412, "PreconditionFailed")
    assert body(s3, bucket, "data/k.csv", VersionId=ids[0], IfMatch=etag) == b"v0"


def test_bad_and_missing_version_ids(s3):
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    response = error_of(s3.get_object, Bucket=bucket, Key="k", VersionId="not a version")
    assert status_and_code(response) == (400, "InvalidArgument")
    response = error_of(s3.get_object, Bucket=bucket, Key="k", VersionId="A" * 32)
    assert status_and_code(response) == (404, "NoSuchVersion")
    assert status_and_code(error_of(s3.delete_object, Bucket=bucket, Key="k", VersionId="bad/id")) == (
        400, "InvalidArgument")
    # Deleting a version that is not there succeeds, as S3 does.
    s3.delete_object(Bucket=bucket, Key="k", VersionId="B" * 32)
    assert body(s3, bucket, "k") == b"x"


def test_unversioned_bucket_answers_no_version_ids(s3):
    bucket = new_bucket(s3, None)
    put = s3.put_object(Bucket=bucket, Key="plain", Body=b"p")
    assert "VersionId" not in put
    assert "VersionId" not in s3.get_object(Bucket=bucket, Key="plain")
    assert versions_of(s3, bucket) == ([("plain", "null", True)], [])
    assert body(s3, bucket, "plain", VersionId="null") == b"p"
    assert status_and_code(error_of(s3.get_object, Bucket=bucket, Key="plain", VersionId="C" * 32)) == (
        404, "NoSuchVersion")
    s3.delete_object(Bucket=bucket, Key="plain", VersionId="null")
    assert versions_of(s3, bucket) == ([], [])
    s3.put_object(Bucket=bucket, Key="plain", Body=b"p")
    assert "DeleteMarker" not in s3.delete_object(Bucket=bucket, Key="plain")
    assert versions_of(s3, bucket) == ([], [])


# -- delete markers -------------------------------------------------------------------------

def test_delete_marker(s3, stack):
    bucket = new_bucket(s3)
    first = s3.put_object(Bucket=bucket, Key="dir/obj", Body=b"kept")["VersionId"]
    deleted = s3.delete_object(Bucket=bucket, Key="dir/obj")
    assert deleted["DeleteMarker"] is True
    marker = deleted["VersionId"]
    assert marker != first
    assert not lake_file(stack, bucket, "dir/obj").exists()  # no current object, no file
    response = error_of(s3.get_object, Bucket=bucket, Key="dir/obj")
    assert status_and_code(response) == (404, "NoSuchKey")
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-delete-marker"] == "true" and headers["x-amz-version-id"] == marker
    response = error_of(s3.head_object, Bucket=bucket, Key="dir/obj")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    # Naming the marker's version: 405, with the marker's headers.
    for call in (s3.get_object, s3.head_object):
        response = error_of(call, Bucket=bucket, Key="dir/obj", VersionId=marker)
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 405
        headers = response["ResponseMetadata"]["HTTPHeaders"]
        assert headers["x-amz-delete-marker"] == "true" and "last-modified" in headers
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    assert versions_of(s3, bucket) == ([("dir/obj", first, False)], [("dir/obj", marker, True)])
    assert body(s3, bucket, "dir/obj", VersionId=first) == b"kept"
    # Removing the marker brings the object back, to its place in the lake.
    removed = s3.delete_object(Bucket=bucket, Key="dir/obj", VersionId=marker)
    assert removed["DeleteMarker"] is True and removed["VersionId"] == marker
    assert body(s3, bucket, "dir/obj") == b"kept"
    assert lake_file(stack, bucket, "dir/obj").read_bytes() == b"kept"
    assert version_files(stack, bucket) == []


def test_delete_markers_stack(s3):
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="test1/a", Body=b"a")
    markers = [s3.delete_object(Bucket=bucket, Key="test1/a")["VersionId"] for _ in range(3)]
    versions, found = versions_of(s3, bucket)
    assert len(versions) == 1
    assert found == [("test1/a", markers[2], True), ("test1/a", markers[1], False), ("test1/a", markers[0], False)]
    # A delete marker on a key that never existed.
    marker = s3.delete_object(Bucket=bucket, Key="never")["VersionId"]
    assert ("never", marker, True) in versions_of(s3, bucket)[1]


def test_deleting_versions_brings_the_previous_one_back(s3, stack):
    bucket = new_bucket(s3)
    ids = [s3.put_object(Bucket=bucket, Key="k", Body=f"c{i}".encode())["VersionId"] for i in range(5)]
    # The current version: the one before it becomes current, in the lake.
    assert s3.delete_object(Bucket=bucket, Key="k", VersionId=ids[4])["VersionId"] == ids[4]
    assert body(s3, bucket, "k") == b"c3" and lake_file(stack, bucket, "k").read_bytes() == b"c3"
    # A version in the middle: nothing else changes.
    s3.delete_object(Bucket=bucket, Key="k", VersionId=ids[1])
    assert [v[1] for v in versions_of(s3, bucket)[0]] == [ids[3], ids[2], ids[0]]
    assert status_and_code(error_of(s3.get_object, Bucket=bucket, Key="k", VersionId=ids[1])) == (
        404, "NoSuchVersion")
    for version in (ids[0], ids[3], ids[2]):
        s3.delete_object(Bucket=bucket, Key="k", VersionId=version)
    assert versions_of(s3, bucket) == ([], [])
    assert not lake_file(stack, bucket, "k").exists() and version_files(stack, bucket) == []
    s3.delete_bucket(Bucket=bucket)


def test_special_key_names_and_hashed_layouts(s3):
    bucket = new_bucket(s3)
    for key in ("_testobj", "_", ":", " ", "a//b", "dir/", "x", "x/y"):
        ids = [s3.put_object(Bucket=bucket, Key=key, Body=f"{key}{i}".encode())["VersionId"] for i in range(3)]
        for i, version in enumerate(ids):
            assert body(s3, bucket, key, VersionId=version) == f"{key}{i}".encode()
        s3.delete_object(Bucket=bucket, Key=key, VersionId=ids[2])
        assert body(s3, bucket, key) == f"{key}1".encode()
    for key in ("x", "x/y", "a//b"):
        assert body(s3, bucket, key) == f"{key}1".encode()


# -- null versions and suspended versioning ------------------------------------------------

def test_object_from_before_versioning_is_the_null_version(s3, stack):
    bucket = new_bucket(s3, None)
    s3.put_object(Bucket=bucket, Key="old", Body=b"before")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    new = s3.put_object(Bucket=bucket, Key="old", Body=b"after")["VersionId"]
    assert versions_of(s3, bucket)[0] == [("old", new, True), ("old", "null", False)]
    assert body(s3, bucket, "old", VersionId="null") == b"before"
    s3.delete_object(Bucket=bucket, Key="old", VersionId=new)
    assert body(s3, bucket, "old") == b"before"
    assert lake_file(stack, bucket, "old").read_bytes() == b"before"
    s3.delete_object(Bucket=bucket, Key="old", VersionId="null")
    assert status_and_code(error_of(s3.get_object, Bucket=bucket, Key="old")) == (404, "NoSuchKey")
    assert versions_of(s3, bucket) == ([], [])


def test_suspended_versioning_writes_and_deletes_the_null_version(s3):
    bucket = new_bucket(s3)
    kept = s3.put_object(Bucket=bucket, Key="k", Body=b"versioned")["VersionId"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"null 1")
    assert "VersionId" not in put  # as S3 answers in a suspended bucket
    assert s3.get_object(Bucket=bucket, Key="k")["VersionId"] == "null"
    s3.put_object(Bucket=bucket, Key="k", Body=b"null 2")  # replaces the null version
    assert versions_of(s3, bucket)[0] == [("k", "null", True), ("k", kept, False)]
    assert body(s3, bucket, "k", VersionId="null") == b"null 2"
    # DELETE replaces the null version with a null delete marker.
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert deleted["DeleteMarker"] is True and deleted["VersionId"] == "null"
    assert versions_of(s3, bucket) == ([("k", kept, False)], [("k", "null", True)])
    s3.put_object(Bucket=bucket, Key="k", Body=b"null 3")  # and a write replaces the marker
    assert versions_of(s3, bucket) == ([("k", "null", True), ("k", kept, False)], [])
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    newer = s3.put_object(Bucket=bucket, Key="k", Body=b"newer")["VersionId"]
    assert [v[1] for v in versions_of(s3, bucket)[0]] == [newer, "null", kept]
    s3.delete_object(Bucket=bucket, Key="k", VersionId=newer)
    assert body(s3, bucket, "k") == b"null 3"


def test_suspended_delete_keeps_a_versioned_current_object(s3):
    bucket = new_bucket(s3)
    kept = s3.put_object(Bucket=bucket, Key="k", Body=b"v")["VersionId"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.delete_object(Bucket=bucket, Key="k")
    assert versions_of(s3, bucket) == ([("k", kept, False)], [("k", "null", True)])
    response = error_of(s3.head_object, Bucket=bucket, Key="k")
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"


# -- ListObjectVersions ---------------------------------------------------------------------

def test_list_object_versions_pages_prefixes_and_delimiters(s3):
    bucket = new_bucket(s3)
    expected = []
    for key in ("a", "b/1", "b/2", "c", "d/x/1"):
        ids = [s3.put_object(Bucket=bucket, Key=key, Body=b"x")["VersionId"] for _ in range(3)]
        expected += [(key, version) for version in reversed(ids)]
    marker = s3.delete_object(Bucket=bucket, Key="c")["VersionId"]
    expected.insert(expected.index(("c", expected[9][1])), ("c", marker))
    full = s3.list_object_versions(Bucket=bucket)
    listed = sorted(((v["Key"], v["VersionId"]) for v in full["Versions"] + full["DeleteMarkers"]),
                    key=lambda kv: expected.index(kv))
    assert listed == expected and full["IsTruncated"] is False
    # Page by page with every max-keys, following NextKeyMarker / NextVersionIdMarker.
    for size in (1, 2, 4, 7):
        seen, params = [], {}
        while True:
            page = s3.list_object_versions(Bucket=bucket, MaxKeys=size, **params)
            entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
            assert len(entries) <= size
            seen += sorted(((v["Key"], v["VersionId"]) for v in entries), key=lambda kv: expected.index(kv))
            if not page["IsTruncated"]:
                break
            assert len(entries) == size
            params = {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}
        assert seen == expected, size
    # The paginator does the same.
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, PaginationConfig={"PageSize": 3})
    assert sum(len(p.get("Versions", [])) + len(p.get("DeleteMarkers", [])) for p in pages) == len(expected)
    # A key marker alone resumes after every version of that key.
    after = s3.list_object_versions(Bucket=bucket, KeyMarker="b/1")
    assert {v["Key"] for v in after["Versions"]} == {"b/2", "c", "d/x/1"}
    # Prefix and delimiter.
    out = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["b/", "d/"]
    assert {v["Key"] for v in out["Versions"]} == {"a", "c"}
    out = s3.list_object_versions(Bucket=bucket, Prefix="d/", Delimiter="/")
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["d/x/"] and "Versions" not in out
    out = s3.list_object_versions(Bucket=bucket, Delimiter="/", MaxKeys=4)
    assert out["IsTruncated"] and out["NextKeyMarker"] == "b/" and "NextVersionIdMarker" not in out
    rest = s3.list_object_versions(Bucket=bucket, Delimiter="/", KeyMarker="b/")
    assert [p["Prefix"] for p in rest["CommonPrefixes"]] == ["d/"]
    assert {v["Key"] for v in rest["Versions"]} == {"c"}
    # Latest flags, owners, sizes.
    for version in full["Versions"]:
        assert version["Owner"]["ID"] and version["Size"] == 1 and version["StorageClass"] == "STANDARD"
    assert sum(v["IsLatest"] for v in full["Versions"]) == 4
    response = error_of(s3.list_object_versions, Bucket=bucket, VersionIdMarker=marker)
    assert status_and_code(response) == (400, "InvalidArgument")


def test_list_object_versions_url_encoding(s3):
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="sp ace/é", Body=b"x")
    out = s3.list_object_versions(Bucket=bucket, EncodingType="url", Prefix="sp ace/")
    # Asked for by the caller, botocore leaves the encoding in place.
    assert out["Versions"][0]["Key"] == "sp+ace/%C3%A9" and out["Prefix"] == "sp+ace/"
    assert s3.list_object_versions(Bucket=bucket)["Versions"][0]["Key"] == "sp ace/é"


# -- DeleteObjects --------------------------------------------------------------------------

def test_delete_objects_with_versions(s3):
    bucket = new_bucket(s3)
    ids = [s3.put_object(Bucket=bucket, Key="key", Body=f"{i}".encode())["VersionId"] for i in range(2)]
    marker = s3.delete_object(Bucket=bucket, Key="key")["VersionId"]
    objects = [{"Key": "key", "VersionId": v} for v in (*ids, marker)]
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})
    assert "Errors" not in out
    by_version = {d["VersionId"]: d for d in out["Deleted"]}
    assert set(by_version) == {*ids, marker}
    assert by_version[marker]["DeleteMarker"] is True and by_version[marker]["DeleteMarkerVersionId"] == marker
    assert "DeleteMarker" not in by_version[ids[0]]
    assert versions_of(s3, bucket) == ([], [])
    # Again: deleting versions that are gone succeeds.
    assert len(s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})["Deleted"]) == 3
    # Without a version: a delete marker per key, reported with its id.
    s3.put_object(Bucket=bucket, Key="other", Body=b"o")
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "other"}, {"Key": "absent"}]})
    for deleted in out["Deleted"]:
        assert deleted["DeleteMarker"] is True and deleted["DeleteMarkerVersionId"]
    markers = {m[0]: m[1] for m in versions_of(s3, bucket)[1]}
    assert markers == {d["Key"]: d["DeleteMarkerVersionId"] for d in out["Deleted"]}
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "other", "VersionId": "bad"}],
                                                   "Quiet": True})
    assert "Deleted" not in out and out["Errors"][0]["Code"] == "NoSuchVersion"


def test_concurrent_multi_object_deletes_of_the_same_versions(s3):
    bucket = new_bucket(s3)
    for _ in range(3):
        for i in range(5):
            s3.put_object(Bucket=bucket, Key=f"key_{i}", Body=b"x")
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert len(versions) == 15
    objects = {"Objects": [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions]}
    results = []
    threads = [threading.Thread(target=lambda: results.append(s3.delete_objects(Bucket=bucket, Delete=objects)))
               for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        assert len(result["Deleted"]) == 15 and "Errors" not in result
    assert versions_of(s3, bucket) == ([], [])


def test_concurrent_writes_keep_every_version(s3):
    bucket = new_bucket(s3)
    for _ in range(3):
        threads = [threading.Thread(target=s3.put_object, kwargs={"Bucket": bucket, "Key": "k", "Body": f"{i}"})
                   for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        versions = versions_of(s3, bucket)[0]
        assert len(versions) == 8 and sum(v[2] for v in versions) == 1
        deleters = [threading.Thread(target=s3.delete_object, kwargs={"Bucket": bucket, "Key": "k", "VersionId": v[1]})
                    for v in versions]
        for thread in deleters:
            thread.start()
        for thread in deleters:
            thread.join()
        assert versions_of(s3, bucket) == ([], [])


# -- copies, multipart ----------------------------------------------------------------------

def test_copy_from_a_version(s3):
    bucket = new_bucket(s3)
    ids = [s3.put_object(Bucket=bucket, Key="src", Body=f"s{i}".encode())["VersionId"] for i in range(3)]
    out = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src", "VersionId": ids[0]})
    assert out["CopySourceVersionId"] == ids[0] and out["VersionId"]
    assert body(s3, bucket, "dst") == b"s0"
    # Into an unversioned bucket: no version id for the copy.
    plain = new_bucket(s3, None)
    out = s3.copy_object(Bucket=plain, Key="dst", CopySource={"Bucket": bucket, "Key": "src", "VersionId": ids[1]})
    assert "VersionId" not in out and out["CopySourceVersionId"] == ids[1]
    assert body(s3, plain, "dst") == b"s1"
    # Without a version id: the current one, named in the answer.
    out = s3.copy_object(Bucket=plain, Key="cur", CopySource={"Bucket": bucket, "Key": "src"})
    assert out["CopySourceVersionId"] == ids[2] and body(s3, plain, "cur") == b"s2"
    # An older version copied onto its own key restores it, as a new version.
    out = s3.copy_object(Bucket=bucket, Key="src", CopySource=f"{bucket}/src?versionId={ids[0]}")
    assert body(s3, bucket, "src") == b"s0" and out["VersionId"] not in ids
    # A delete marker is no copy source.
    marker = s3.delete_object(Bucket=bucket, Key="src")["VersionId"]
    response = error_of(s3.copy_object, Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "src",
                                                                            "VersionId": marker})
    assert status_and_code(response) == (400, "InvalidRequest")
    assert status_and_code(error_of(s3.copy_object, Bucket=bucket, Key="x", CopySource=f"{bucket}/src")) == (
        404, "NoSuchKey")
    response = error_of(s3.copy_object, Bucket=bucket, Key="x", CopySource=f"{bucket}/src?versionId=bad%20id")
    assert status_and_code(response) == (400, "InvalidArgument")


def test_multipart_upload_creates_a_version(s3):
    bucket = new_bucket(s3)
    first = s3.put_object(Bucket=bucket, Key="big", Body=b"small")["VersionId"]
    parts_data = [os.urandom(5 * MIB), b"tail"]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    parts = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=n,
                                                        Body=data)["ETag"]}
             for n, data in enumerate(parts_data, 1)]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=upload, MultipartUpload={"Parts": parts})
    assert done["VersionId"] and done["VersionId"] != first
    assert body(s3, bucket, "big") == b"".join(parts_data)
    assert body(s3, bucket, "big", VersionId=first) == b"small"
    assert versions_of(s3, bucket)[0] == [("big", done["VersionId"], True), ("big", first, False)]
    # A retried Complete answers the same version.
    again = s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=upload, MultipartUpload={"Parts": parts})
    assert again["VersionId"] == done["VersionId"]
    # UploadPartCopy from an older version.
    upload = s3.create_multipart_upload(Bucket=bucket, Key="copied")["UploadId"]
    part = s3.upload_part_copy(Bucket=bucket, Key="copied", UploadId=upload, PartNumber=1,
                               CopySource={"Bucket": bucket, "Key": "big", "VersionId": first})
    assert part["CopySourceVersionId"] == first
    s3.complete_multipart_upload(Bucket=bucket, Key="copied", UploadId=upload, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]})
    assert body(s3, bucket, "copied") == b"small"
    # Suspended: Complete writes the null version and answers no version id.
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=1, Body=b"n")["ETag"]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=upload,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert "VersionId" not in done and body(s3, bucket, "big", VersionId="null") == b"n"


# -- conditional requests -------------------------------------------------------------------

def test_conditional_requests_see_the_current_version(s3):
    bucket = new_bucket(s3)
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"1")["ETag"]
    assert status_and_code(error_of(s3.put_object, Bucket=bucket, Key="k", Body=b"2", IfNoneMatch="*")) == (
        412, "PreconditionFailed")
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"2", IfMatch=etag)["VersionId"]
    response = error_of(s3.delete_object, Bucket=bucket, Key="k", IfMatch=etag)  # etag of an older version
    assert status_and_code(response) == (412, "PreconditionFailed")
    current = s3.head_object(Bucket=bucket, Key="k")["ETag"]
    assert s3.delete_object(Bucket=bucket, Key="k", IfMatch=current)["DeleteMarker"] is True
    # A delete marker as current version: the key does not exist for conditional writes.
    assert status_and_code(error_of(s3.put_object, Bucket=bucket, Key="k", Body=b"3", IfMatch=current)) == (
        404, "NoSuchKey")
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"3", IfNoneMatch="*")["VersionId"]
    assert body(s3, bucket, "k") == b"3"
    # A conditional delete of a named version.
    versions = versions_of(s3, bucket)[0]
    oldest = versions[-1][1]
    response = error_of(s3.delete_object, Bucket=bucket, Key="k", VersionId=oldest, IfMatch='"nope"')
    assert status_and_code(response) == (412, "PreconditionFailed")
    s3.delete_object(Bucket=bucket, Key="k", VersionId=oldest, IfMatch=etag)
    assert oldest not in [v[1] for v in versions_of(s3, bucket)[0]]


def test_bucket_with_versions_is_not_empty(s3):
    bucket = new_bucket(s3)
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"1")["VersionId"]
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    assert status_and_code(error_of(s3.delete_bucket, Bucket=bucket)) == (409, "BucketNotEmpty")
    s3.delete_object(Bucket=bucket, Key="k", VersionId=version)
    assert status_and_code(error_of(s3.delete_bucket, Bucket=bucket)) == (409, "BucketNotEmpty")
    s3.delete_object(Bucket=bucket, Key="k", VersionId=marker)
    s3.delete_bucket(Bucket=bucket)


# -- IAM ------------------------------------------------------------------------------------

def test_versions_need_the_version_actions(stack, s3):
    bucket = new_bucket(s3)
    old = s3.put_object(Bucket=bucket, Key="k", Body=b"old")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"new")
    iam = stack.client("iam")
    iam.create_user(UserName="current-reader")
    iam.put_user_policy(UserName="current-reader", PolicyName="s3", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": [
                f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}))
    key = iam.create_access_key(UserName="current-reader")["AccessKey"]
    reader = stack.client("s3", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    assert body(reader, bucket, "k") == b"new"
    assert error_of(reader.get_object, Bucket=bucket, Key="k", VersionId=old)["Error"]["Code"] == "AccessDenied"
    assert error_of(reader.list_object_versions, Bucket=bucket)["Error"]["Code"] == "AccessDenied"
    iam.put_user_policy(UserName="current-reader", PolicyName="versions", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObjectVersion", "s3:ListBucketVersions"], "Resource": [
                f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}))
    assert body(reader, bucket, "k", VersionId=old) == b"old"
    assert len(reader.list_object_versions(Bucket=bucket)["Versions"]) == 2


# -- the AWS CLI ----------------------------------------------------------------------------

@pytest.mark.skipif(not AWS.exists(), reason="the AWS CLI is not installed in this environment")
def test_aws_cli_s3api(stack, tmp_path):
    env = aws_cli_env(stack, tmp_path)

    def aws(*args: str) -> dict:
        done = subprocess.run([str(AWS), "s3api", *args, "--output", "json"], env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else {}

    bucket = f"cli-versions-{next(_names)}"
    aws("create-bucket", "--bucket", bucket)
    aws("put-bucket-versioning", "--bucket", bucket, "--versioning-configuration", "Status=Enabled")
    assert aws("get-bucket-versioning", "--bucket", bucket)["Status"] == "Enabled"
    source = tmp_path / "v.txt"
    ids = []
    for text in ("first", "second"):
        source.write_text(text)
        ids.append(aws("put-object", "--bucket", bucket, "--key", "k.txt", "--body", str(source))["VersionId"])
    out = tmp_path / "out.txt"
    got = aws("get-object", "--bucket", bucket, "--key", "k.txt", f"--version-id={ids[0]}", str(out))
    assert got["VersionId"] == ids[0] and out.read_text() == "first"
    listed = aws("list-object-versions", "--bucket", bucket)
    assert [v["VersionId"] for v in listed["Versions"]] == [ids[1], ids[0]]
    marker = aws("delete-object", "--bucket", bucket, "--key", "k.txt")
    assert marker["DeleteMarker"] is True
    assert aws("delete-object", "--bucket", bucket, "--key", "k.txt", f"--version-id={marker['VersionId']}")[
        "DeleteMarker"] is True
    aws("get-object", "--bucket", bucket, "--key", "k.txt", str(out))
    assert out.read_text() == "second"


def test_versioned_bucket_survives_a_restart(tmp_path):
    with lakestack.local(home=tmp_path) as running:
        s3 = running.client("s3")
        bucket = new_bucket(s3)
        first = s3.put_object(Bucket=bucket, Key="k", Body=b"1")["VersionId"]
        s3.put_object(Bucket=bucket, Key="k", Body=b"2")
        marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    with lakestack.local(home=tmp_path) as running:
        s3 = running.client("s3")
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        assert body(s3, bucket, "k", VersionId=first) == b"1"
        s3.delete_object(Bucket=bucket, Key="k", VersionId=marker)
        assert body(s3, bucket, "k") == b"2"
        with pytest.raises(ClientError):
            s3.get_object(Bucket=bucket, Key="k", VersionId=marker)


def test_a_lake_file_removed_by_another_tool_does_not_fail_the_next_write(s3, stack):
    bucket = new_bucket(s3)
    lost = s3.put_object(Bucket=bucket, Key="k", Body=b"deleted by hand")["VersionId"]
    lake_file(stack, bucket, "k").unlink()
    s3.put_object(Bucket=bucket, Key="k", Body=b"new")
    assert body(s3, bucket, "k") == b"new"
    assert status_and_code(error_of(s3.get_object, Bucket=bucket, Key="k", VersionId=lost)) == (404, "NoSuchKey")
    s3.delete_object(Bucket=bucket, Key="k", VersionId=lost)
