"""S3 lifecycle against a real server: the configuration and its validation, and rules that
run — with a "day" scaled down to a second (LAKESTACK_S3_LIFECYCLE_DAY_SECONDS): expiration
of current versions (removed, or hidden by a delete marker with versioning), noncurrent
versions (NoncurrentDays, NewerNoncurrentVersions), expired delete markers, aborted multipart
uploads, storage-class transitions, x-amz-expiration — through boto3 and `aws s3api`, and
across a restart."""

import datetime as dt
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import aws_cli_env, error_of

import lakestack

AWS = Path(sys.executable).parent / "aws"
DAY = 1.0  # seconds in a lifecycle "day" here
_names = itertools.count()


@pytest.fixture(scope="module")
def stack():
    with lakestack.local(s3_lifecycle_day_seconds=DAY, s3_lifecycle_interval_seconds=0.1) as running:
        yield running


def new_bucket(s3, versioning: str | None = None) -> str:
    name = f"lifecycle-{next(_names)}"
    s3.create_bucket(Bucket=name)
    if versioning:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning})
    return name


def status_and_code(response) -> tuple[int, str]:
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def put_rules(s3, bucket: str, *rules: dict, **kwargs) -> dict:
    return s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": list(rules)},
                                                 **kwargs)


def keys(s3, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def versions(s3, bucket: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    out = s3.list_object_versions(Bucket=bucket)
    return ([(v["Key"], v["VersionId"]) for v in out.get("Versions", [])],
            [(m["Key"], m["VersionId"]) for m in out.get("DeleteMarkers", [])])


def eventually(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("the lifecycle rule did not act in time")
        time.sleep(0.1)


# -- the configuration --------------------------------------------------------------------------

def test_configuration_round_trip(s3):
    bucket = new_bucket(s3)
    assert status_and_code(error_of(s3.get_bucket_lifecycle_configuration, Bucket=bucket)) == (
        404, "NoSuchLifecycleConfiguration")
    assert s3.delete_bucket_lifecycle(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    rules = [
        {"ID": "old", "Prefix": "logs/", "Status": "Enabled", "Expiration": {"Days": 31}},
        {"ID": "dated", "Filter": {"And": {"Prefix": "tmp/", "ObjectSizeGreaterThan": 10}}, "Status": "Disabled",
         "Expiration": {"Date": dt.datetime(2030, 1, 1, tzinfo=dt.UTC)}},
        {"ID": "versions", "Filter": {}, "Status": "Enabled",
         "NoncurrentVersionExpiration": {"NoncurrentDays": 3, "NewerNoncurrentVersions": 2},
         "NoncurrentVersionTransitions": [{"NoncurrentDays": 1, "StorageClass": "GLACIER"}],
         "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}],
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}},
        {"ID": "markers", "Filter": {"Prefix": "m/"}, "Status": "Enabled", "Expiration": {"ExpiredObjectDeleteMarker": True}},
    ]
    out = s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    assert out["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert got["Rules"] == rules
    assert got["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
    # A rule without an ID gets one; the minimum-size setting is kept.
    put_rules(s3, bucket, {"Filter": {"Prefix": "a/"}, "Status": "Enabled", "Expiration": {"Days": 1}},
              TransitionDefaultMinimumObjectSize="varies_by_storage_class")
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert got["Rules"][0]["ID"] and got["TransitionDefaultMinimumObjectSize"] == "varies_by_storage_class"
    s3.delete_bucket_lifecycle(Bucket=bucket)
    assert status_and_code(error_of(s3.get_bucket_lifecycle_configuration, Bucket=bucket))[0] == 404


@pytest.mark.parametrize("rule, expected", [
    ({"ID": "a" * 256, "Prefix": "", "Status": "Enabled", "Expiration": {"Days": 1}}, "InvalidArgument"),
    ({"ID": "r", "Prefix": "", "Status": "enabled", "Expiration": {"Days": 1}}, "MalformedXML"),
    ({"ID": "r", "Status": "Enabled", "Expiration": {"Days": 1}}, "MalformedXML"),
    ({"ID": "r", "Prefix": "", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"Days": 1}},
     "MalformedXML"),
    ({"ID": "r", "Filter": {"Prefix": "a", "ObjectSizeLessThan": 5}, "Status": "Enabled",
      "Expiration": {"Days": 1}}, "MalformedXML"),
    ({"ID": "r", "Prefix": "", "Status": "Enabled"}, "InvalidRequest"),
    ({"ID": "r", "Prefix": "", "Status": "Enabled", "Expiration": {"Days": 0}}, "InvalidArgument"),
    ({"ID": "r", "Prefix": "", "Status": "Enabled", "Expiration": {"Days": 1, "ExpiredObjectDeleteMarker": True}},
     "MalformedXML"),
    ({"ID": "r", "Prefix": "", "Status": "Enabled", "Expiration": {"Date": dt.datetime(2030, 1, 1, 12)}},
     "InvalidArgument"),
    ({"ID": "r", "Prefix": "", "Status": "Enabled", "Transitions": [{"Days": 10, "StorageClass": "STANDARD_IA"}]},
     "InvalidArgument"),
    ({"ID": "r", "Prefix": "", "Status": "Enabled", "Transitions": [{"Days": 10, "StorageClass": "STANDARD"}]},
     "MalformedXML"),
    ({"ID": "r", "Prefix": "", "Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 0}},
     "InvalidArgument"),
    ({"ID": "r", "Prefix": "", "Status": "Enabled", "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 0}},
     "InvalidArgument"),
    ({"ID": "r", "Filter": {"Tag": {"Key": "k", "Value": "v"}}, "Status": "Enabled",
      "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}, "InvalidRequest"),
])
def test_bad_rules(s3, rule, expected):
    bucket = new_bucket(s3)
    assert status_and_code(error_of(put_rules, s3, bucket, rule)) == (400, expected)
    assert status_and_code(error_of(s3.get_bucket_lifecycle_configuration, Bucket=bucket))[0] == 404


def test_rule_ids_are_unique_and_rules_are_counted(s3):
    bucket = new_bucket(s3)
    rule = {"ID": "same", "Prefix": "", "Status": "Enabled", "Expiration": {"Days": 1}}
    assert status_and_code(error_of(put_rules, s3, bucket, rule, {**rule, "Prefix": "b/"})) == (400, "InvalidArgument")
    many = [{**rule, "ID": f"r{i}"} for i in range(1001)]
    assert status_and_code(error_of(put_rules, s3, bucket, *many))[0] == 400
    assert status_and_code(error_of(s3.put_bucket_lifecycle_configuration, Bucket=bucket,
                                    LifecycleConfiguration={"Rules": []}))[0] == 400


# -- rules that run ---------------------------------------------------------------------------------

def test_expiration_removes_objects_and_announces_it(s3):
    bucket = new_bucket(s3)
    for key in ("tmp/a", "tmp/b", "keep/a"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    put_rules(s3, bucket, {"ID": "tmp rule", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled",
                           "Expiration": {"Days": 3}},
              {"ID": "off", "Filter": {"Prefix": "keep/"}, "Status": "Disabled", "Expiration": {"Days": 1}})
    start = time.time()
    head = s3.head_object(Bucket=bucket, Key="tmp/a")
    assert head["Expiration"].endswith('rule-id="tmp%20rule"')
    assert "Expiration" not in s3.head_object(Bucket=bucket, Key="keep/a")
    written = s3.put_object(Bucket=bucket, Key="tmp/c", Body=b"x")
    assert written["Expiration"].startswith('expiry-date="')
    assert keys(s3, bucket) == ["keep/a", "tmp/a", "tmp/b", "tmp/c"]
    eventually(lambda: keys(s3, bucket) == ["keep/a"])
    assert time.time() - start >= 2 * DAY  # not before its days were up


def test_expiration_in_a_versioned_bucket_adds_delete_markers(s3, stack):
    bucket = new_bucket(s3, "Enabled")
    first = s3.put_object(Bucket=bucket, Key="doc", Body=b"v1")["VersionId"]
    put_rules(s3, bucket, {"ID": "r", "Filter": {}, "Status": "Enabled", "Expiration": {"Days": 1}})
    eventually(lambda: versions(s3, bucket)[1])
    kept, markers = versions(s3, bucket)
    assert kept == [("doc", first)] and len(markers) == 1
    assert keys(s3, bucket) == []
    assert not (stack.home / "s3" / bucket / "doc").exists()
    assert s3.get_object(Bucket=bucket, Key="doc", VersionId=first)["Body"].read() == b"v1"


def test_date_expiration(s3):
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="past/a", Body=b"x")
    s3.put_object(Bucket=bucket, Key="future/a", Body=b"x")
    put_rules(s3, bucket, {"ID": "past", "Filter": {"Prefix": "past/"}, "Status": "Enabled",
                           "Expiration": {"Date": dt.datetime(2015, 1, 1, tzinfo=dt.UTC)}},
              {"ID": "future", "Filter": {"Prefix": "future/"}, "Status": "Enabled",
               "Expiration": {"Date": dt.datetime(2090, 1, 1, tzinfo=dt.UTC)}})
    eventually(lambda: keys(s3, bucket) == ["future/a"])
    assert "2090" in s3.head_object(Bucket=bucket, Key="future/a")["Expiration"]


def test_size_filters(s3):
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="small", Body=b"x")
    s3.put_object(Bucket=bucket, Key="big", Body=b"x" * 1000)
    put_rules(s3, bucket, {"ID": "big", "Filter": {"ObjectSizeGreaterThan": 500}, "Status": "Enabled",
                           "Expiration": {"Days": 1}})
    eventually(lambda: keys(s3, bucket) == ["small"])


def test_noncurrent_versions_expire_beyond_the_newest_kept(s3):
    bucket = new_bucket(s3, "Enabled")
    ids = [s3.put_object(Bucket=bucket, Key="k", Body=f"v{i}".encode())["VersionId"] for i in range(5)]
    put_rules(s3, bucket, {"ID": "r", "Filter": {}, "Status": "Enabled",
                           "NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 2}})
    # Current v4 stays, with the two newest noncurrent versions v3 and v2.
    eventually(lambda: [v for _, v in versions(s3, bucket)[0]] == ids[:1:-1])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v4"


def test_expired_delete_markers_are_removed(s3):
    bucket = new_bucket(s3, "Enabled")
    version = s3.put_object(Bucket=bucket, Key="gone", Body=b"x")["VersionId"]
    s3.delete_object(Bucket=bucket, Key="gone")
    s3.delete_object(Bucket=bucket, Key="gone", VersionId=version)  # only the marker is left
    s3.put_object(Bucket=bucket, Key="hidden", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="hidden")  # a marker over a version: not expired
    put_rules(s3, bucket, {"ID": "r", "Filter": {}, "Status": "Enabled",
                           "Expiration": {"ExpiredObjectDeleteMarker": True}})
    eventually(lambda: [k for k, _ in versions(s3, bucket)[1]] == ["hidden"])
    assert [k for k, _ in versions(s3, bucket)[0]] == ["hidden"]


def test_incomplete_multipart_uploads_are_aborted(s3):
    bucket = new_bucket(s3)
    stale = s3.create_multipart_upload(Bucket=bucket, Key="tmp/upload")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="tmp/upload", UploadId=stale, PartNumber=1, Body=b"part")
    other = s3.create_multipart_upload(Bucket=bucket, Key="keep/upload")["UploadId"]
    put_rules(s3, bucket, {"ID": "r", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled",
                           "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}})
    eventually(lambda: [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])] == [other])
    assert status_and_code(error_of(s3.list_parts, Bucket=bucket, Key="tmp/upload", UploadId=stale)) == (
        404, "NoSuchUpload")


def test_transitions_change_the_storage_class(s3):
    bucket = new_bucket(s3, "Enabled")
    old = s3.put_object(Bucket=bucket, Key="small", Body=b"old")["VersionId"]
    s3.put_object(Bucket=bucket, Key="small", Body=b"new")
    s3.put_object(Bucket=bucket, Key="big", Body=b"x" * (200 * 1024))
    put_rules(s3, bucket, {"ID": "r", "Filter": {}, "Status": "Enabled",
                           "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}],
                           "NoncurrentVersionTransitions": [{"NoncurrentDays": 1, "StorageClass": "DEEP_ARCHIVE"}]},
              TransitionDefaultMinimumObjectSize="varies_by_storage_class")
    eventually(lambda: s3.head_object(Bucket=bucket, Key="big").get("StorageClass") == "GLACIER")
    eventually(lambda: s3.head_object(Bucket=bucket, Key="small", VersionId=old).get("StorageClass") == "DEEP_ARCHIVE")
    listed = {o["Key"]: o["StorageClass"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert listed == {"big": "GLACIER", "small": "GLACIER"}
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == b"x" * (200 * 1024)


def test_small_objects_stay_under_the_default_minimum_size(s3):
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="small", Body=b"x")
    s3.put_object(Bucket=bucket, Key="big", Body=b"x" * (130 * 1024))
    put_rules(s3, bucket, {"ID": "r", "Filter": {}, "Status": "Enabled",
                           "Transitions": [{"Days": 0, "StorageClass": "GLACIER_IR"}]})
    eventually(lambda: s3.head_object(Bucket=bucket, Key="big").get("StorageClass") == "GLACIER_IR")
    assert "StorageClass" not in s3.head_object(Bucket=bucket, Key="small")


def test_object_lock_keeps_noncurrent_versions_from_lifecycle(s3):
    bucket = f"lifecycle-locked-{next(_names)}"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    locked = s3.put_object(Bucket=bucket, Key="k", Body=b"v1", ObjectLockMode="COMPLIANCE",
                           ObjectLockRetainUntilDate=dt.datetime(2099, 1, 1, tzinfo=dt.UTC))["VersionId"]
    free = s3.put_object(Bucket=bucket, Key="k", Body=b"v2")["VersionId"]
    current = s3.put_object(Bucket=bucket, Key="k", Body=b"v3")["VersionId"]
    put_rules(s3, bucket, {"ID": "r", "Filter": {}, "Status": "Enabled",
                           "NoncurrentVersionExpiration": {"NoncurrentDays": 1}})
    eventually(lambda: free not in [v for _, v in versions(s3, bucket)[0]])
    time.sleep(3 * DAY)  # more passes: the locked version stays
    assert [v for _, v in versions(s3, bucket)[0]] == [current, locked]


# -- the AWS CLI and a restart --------------------------------------------------------------------

@pytest.mark.skipif(not AWS.exists(), reason="the AWS CLI is not installed in this environment")
def test_aws_cli_lifecycle(stack, s3, tmp_path):
    env = aws_cli_env(stack, tmp_path)

    def aws(*args: str, expect: int = 0) -> str:
        done = subprocess.run([str(AWS), "s3api", *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == expect, done.stderr
        return done.stdout

    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="cli/a", Body=b"x")
    rules = {"Rules": [{"ID": "cli", "Filter": {"Prefix": "cli/"}, "Status": "Enabled", "Expiration": {"Days": 1}}]}
    aws("put-bucket-lifecycle-configuration", "--bucket", bucket, "--lifecycle-configuration", json.dumps(rules))
    assert json.loads(aws("get-bucket-lifecycle-configuration", "--bucket", bucket))["Rules"] == rules["Rules"]
    eventually(lambda: keys(s3, bucket) == [])
    aws("delete-bucket-lifecycle", "--bucket", bucket)
    aws("get-bucket-lifecycle-configuration", "--bucket", bucket, expect=255)


def test_configuration_survives_restart_and_rules_run_after_it(server_process):
    server = server_process({"LAKESTACK_S3_LIFECYCLE_DAY_SECONDS": "1",
                             "LAKESTACK_S3_LIFECYCLE_INTERVAL_SECONDS": "0.1"})
    s3 = server.client("s3")
    s3.create_bucket(Bucket="lifecycle-restart")
    rule = {"ID": "r", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled", "Expiration": {"Days": 2}}
    put_rules(s3, "lifecycle-restart", rule)
    s3.put_object(Bucket="lifecycle-restart", Key="tmp/a", Body=b"x")
    s3.put_object(Bucket="lifecycle-restart", Key="keep", Body=b"x")
    server.kill()
    server.start()
    s3 = server.client("s3")
    assert s3.get_bucket_lifecycle_configuration(Bucket="lifecycle-restart")["Rules"] == [rule]
    eventually(lambda: keys(s3, "lifecycle-restart") == ["keep"])


def test_tag_filtered_rule_expires_only_tagged_objects(s3):
    """A rule's Filter.Tag selects by the object's tags (object tagging wired into lifecycle)."""
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="scratch", Body=b"x", Tagging="kind=scratch")
    s3.put_object(Bucket=bucket, Key="keep", Body=b"x", Tagging="kind=keep")
    s3.put_object(Bucket=bucket, Key="untagged", Body=b"x")
    s3.put_object(Bucket=bucket, Key="retagged", Body=b"x")
    s3.put_object_tagging(Bucket=bucket, Key="retagged", Tagging={"TagSet": [{"Key": "kind", "Value": "scratch"}]})
    put_rules(s3, bucket, {"ID": "scratch", "Filter": {"Tag": {"Key": "kind", "Value": "scratch"}},
                           "Status": "Enabled", "Expiration": {"Days": 1}})
    eventually(lambda: keys(s3, bucket) == ["keep", "untagged"])
