"""S3 Object Lock against a real server: CreateBucket with Object Lock, the bucket's
configuration and default retention, retention and legal holds per version, the
x-amz-object-lock-* headers on writes and reads, and enforcement — a locked version
survives every delete attempt, GOVERNANCE gives way only to a bypass by a caller allowed it —
through boto3 and `aws s3api`, and across a kill -9 and restart."""

import base64
import datetime as dt
import hashlib
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import aws_cli_env, error_of

AWS = Path(sys.executable).parent / "aws"
FUTURE = dt.datetime(2099, 1, 1, tzinfo=dt.UTC)
_names = itertools.count()


def locked_bucket(s3) -> str:
    name = f"locked-{next(_names)}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def status_and_code(response) -> tuple[int, str]:
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def lock_headers(response) -> dict:
    return {k: v for k, v in response.items() if k.startswith("ObjectLock")}


# -- the bucket's configuration ---------------------------------------------------------------

def test_create_with_object_lock_turns_versioning_on_for_good(s3):
    bucket = locked_bucket(s3)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"] == {"ObjectLockEnabled": "Enabled"}
    response = error_of(s3.put_bucket_versioning, Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert status_and_code(response) == (409, "InvalidBucketState")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def test_default_retention_configuration(s3):
    bucket = locked_bucket(s3)
    for rule in ({"Mode": "GOVERNANCE", "Days": 1}, {"Mode": "COMPLIANCE", "Years": 2}):
        config = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": rule}}
        s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=config)
        assert s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"] == config
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    assert "Rule" not in s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]


@pytest.mark.parametrize("retention, expected", [
    ({"Mode": "GOVERNANCE", "Days": 1, "Years": 1}, "MalformedXML"),
    ({"Mode": "GOVERNANCE"}, "MalformedXML"),
    ({"Mode": "governance", "Days": 1}, "MalformedXML"),
    ({"Mode": "GOVERNANCE", "Days": 0}, "InvalidRetentionPeriod"),
    ({"Mode": "COMPLIANCE", "Years": -1}, "InvalidRetentionPeriod"),
    ({"Mode": "COMPLIANCE", "Days": 36501}, "InvalidRetentionPeriod"),
])
def test_bad_default_retention(s3, retention, expected):
    bucket = locked_bucket(s3)
    response = error_of(s3.put_object_lock_configuration, Bucket=bucket,
                        ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": retention}})
    assert status_and_code(response) == (400, expected)
    response = error_of(s3.put_object_lock_configuration, Bucket=bucket,
                        ObjectLockConfiguration={"ObjectLockEnabled": "Disabled"})
    assert status_and_code(response) == (400, "MalformedXML")


def test_enable_on_an_existing_bucket_needs_versioning_enabled(s3):
    bucket = f"later-{next(_names)}"
    s3.create_bucket(Bucket=bucket)
    assert status_and_code(error_of(s3.get_object_lock_configuration, Bucket=bucket)) == (
        404, "ObjectLockConfigurationNotFoundError")
    config = {"ObjectLockEnabled": "Enabled"}
    for status in (None, "Suspended"):
        if status:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})
        response = error_of(s3.put_object_lock_configuration, Bucket=bucket, ObjectLockConfiguration=config)
        assert status_and_code(response) == (409, "InvalidBucketState")
    s3.put_object(Bucket=bucket, Key="before", Body=b"null version")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=config)
    # The null version written before can be locked too.
    s3.put_object_legal_hold(Bucket=bucket, Key="before", LegalHold={"Status": "ON"})
    response = error_of(s3.delete_object, Bucket=bucket, Key="before", VersionId="null")
    assert status_and_code(response) == (403, "AccessDenied")
    s3.put_object_legal_hold(Bucket=bucket, Key="before", LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket=bucket, Key="before", VersionId="null")


def test_lock_operations_on_a_bucket_without_object_lock(s3):
    bucket = f"unlocked-{next(_names)}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    for call, kwargs in ((s3.put_object_retention, {"Retention": {"Mode": "GOVERNANCE", "RetainUntilDate": FUTURE}}),
                         (s3.get_object_retention, {}),
                         (s3.put_object_legal_hold, {"LegalHold": {"Status": "ON"}}),
                         (s3.get_object_legal_hold, {})):
        response = error_of(call, Bucket=bucket, Key="k", **kwargs)
        assert status_and_code(response) == (400, "InvalidRequest")
        assert response["Error"]["Message"] == "Bucket is missing Object Lock Configuration"
    response = error_of(s3.put_object, Bucket=bucket, Key="k", Body=b"x", ObjectLockLegalHoldStatus="ON")
    assert status_and_code(response) == (400, "InvalidRequest")


# -- retention and legal holds ------------------------------------------------------------------

def test_retention_set_read_extended_and_guarded(s3):
    bucket = locked_bucket(s3)
    first = s3.put_object(Bucket=bucket, Key="doc", Body=b"v1")["VersionId"]
    assert status_and_code(error_of(s3.get_object_retention, Bucket=bucket, Key="doc")) == (
        404, "NoSuchObjectLockConfiguration")
    until = dt.datetime(2098, 1, 1, tzinfo=dt.UTC)
    s3.put_object_retention(Bucket=bucket, Key="doc", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until})
    assert s3.get_object_retention(Bucket=bucket, Key="doc")["Retention"] == {"Mode": "GOVERNANCE",
                                                                               "RetainUntilDate": until}
    head = s3.head_object(Bucket=bucket, Key="doc")
    assert lock_headers(head) == {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": until,
                                  "ObjectLockLegalHoldStatus": "OFF"}
    # Extending needs nothing; shortening or switching a GOVERNANCE retention needs the bypass.
    s3.put_object_retention(Bucket=bucket, Key="doc", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": FUTURE})
    shorter = {"Mode": "GOVERNANCE", "RetainUntilDate": until}
    assert status_and_code(error_of(s3.put_object_retention, Bucket=bucket, Key="doc", Retention=shorter)) == (
        403, "AccessDenied")
    s3.put_object_retention(Bucket=bucket, Key="doc", Retention=shorter, BypassGovernanceRetention=True)
    compliance = {"Mode": "COMPLIANCE", "RetainUntilDate": until}
    assert status_and_code(error_of(s3.put_object_retention, Bucket=bucket, Key="doc", Retention=compliance)) == (
        403, "AccessDenied")
    s3.put_object_retention(Bucket=bucket, Key="doc", Retention=compliance, BypassGovernanceRetention=True)
    # COMPLIANCE: no shortening, no mode change, bypass or not.
    for retention in ({"Mode": "COMPLIANCE", "RetainUntilDate": until - dt.timedelta(days=1)},
                      {"Mode": "GOVERNANCE", "RetainUntilDate": FUTURE}):
        response = error_of(s3.put_object_retention, Bucket=bucket, Key="doc", Retention=retention,
                            BypassGovernanceRetention=True)
        assert status_and_code(response) == (403, "AccessDenied")
    # By version id; the other version is untouched.
    second = s3.put_object(Bucket=bucket, Key="doc", Body=b"v2")["VersionId"]
    assert status_and_code(error_of(s3.get_object_retention, Bucket=bucket, Key="doc", VersionId=second))[0] == 404
    assert s3.get_object_retention(Bucket=bucket, Key="doc", VersionId=first)["Retention"]["Mode"] == "COMPLIANCE"


@pytest.mark.parametrize("retention, expected", [
    ({"Mode": "governance", "RetainUntilDate": FUTURE}, (400, "MalformedXML")),
    ({"Mode": "GOVERNANCE", "RetainUntilDate": dt.datetime(2001, 1, 1, tzinfo=dt.UTC)}, (400, "InvalidArgument")),
])
def test_bad_retention(s3, retention, expected):
    bucket = locked_bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert status_and_code(error_of(s3.put_object_retention, Bucket=bucket, Key="k", Retention=retention)) == expected


def test_retention_of_a_missing_version(s3):
    bucket = locked_bucket(s3)
    retention = {"Mode": "GOVERNANCE", "RetainUntilDate": FUTURE}
    assert status_and_code(error_of(s3.put_object_retention, Bucket=bucket, Key="nope", Retention=retention)) == (
        404, "NoSuchKey")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    response = error_of(s3.put_object_retention, Bucket=bucket, Key="k", VersionId="A" * 32, Retention=retention)
    assert status_and_code(response) == (404, "NoSuchVersion")


def test_legal_hold(s3):
    bucket = locked_bucket(s3)
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    assert status_and_code(error_of(s3.get_object_legal_hold, Bucket=bucket, Key="k"))[0] == 404
    s3.put_object_legal_hold(Bucket=bucket, Key="k", LegalHold={"Status": "ON"})
    assert s3.get_object_legal_hold(Bucket=bucket, Key="k")["LegalHold"] == {"Status": "ON"}
    assert s3.head_object(Bucket=bucket, Key="k")["ObjectLockLegalHoldStatus"] == "ON"
    # A legal hold keeps the version even from a bypass.
    response = error_of(s3.delete_object, Bucket=bucket, Key="k", VersionId=version, BypassGovernanceRetention=True)
    assert status_and_code(response) == (403, "AccessDenied")
    assert status_and_code(error_of(s3.put_object_legal_hold, Bucket=bucket, Key="k",
                                    LegalHold={"Status": "on"})) == (400, "MalformedXML")
    s3.put_object_legal_hold(Bucket=bucket, Key="k", LegalHold={"Status": "OFF"})
    assert s3.get_object_legal_hold(Bucket=bucket, Key="k")["LegalHold"] == {"Status": "OFF"}
    s3.delete_object(Bucket=bucket, Key="k", VersionId=version)


# -- writes -------------------------------------------------------------------------------------

def test_lock_headers_on_put_copy_and_multipart(s3):
    bucket = locked_bucket(s3)
    s3.put_object(Bucket=bucket, Key="put", Body=b"x", ObjectLockMode="COMPLIANCE",
                  ObjectLockRetainUntilDate=FUTURE, ObjectLockLegalHoldStatus="ON")
    got = s3.get_object(Bucket=bucket, Key="put")
    assert lock_headers(got) == {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": FUTURE,
                                 "ObjectLockLegalHoldStatus": "ON"}
    # The copy has its own lock: none but what the request asks for.
    s3.copy_object(Bucket=bucket, Key="copy", CopySource=f"{bucket}/put", ObjectLockLegalHoldStatus="ON")
    assert lock_headers(s3.head_object(Bucket=bucket, Key="copy")) == {"ObjectLockLegalHoldStatus": "ON"}
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mpu", ObjectLockMode="GOVERNANCE",
                                        ObjectLockRetainUntilDate=FUTURE)["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="mpu", UploadId=upload, PartNumber=1, Body=b"abc")
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mpu", UploadId=upload,
                                        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})
    assert s3.get_object_retention(Bucket=bucket, Key="mpu", VersionId=done["VersionId"])["Retention"] == {
        "Mode": "GOVERNANCE", "RetainUntilDate": FUTURE}
    response = error_of(s3.delete_object, Bucket=bucket, Key="mpu", VersionId=done["VersionId"])
    assert status_and_code(response) == (403, "AccessDenied")
    s3.delete_object(Bucket=bucket, Key="mpu", VersionId=done["VersionId"], BypassGovernanceRetention=True)


@pytest.mark.parametrize("kwargs, expected", [
    ({"ObjectLockMode": "GOVERNANCE"}, "InvalidArgument"),
    ({"ObjectLockRetainUntilDate": FUTURE}, "InvalidArgument"),
    ({"ObjectLockMode": "FOREVER", "ObjectLockRetainUntilDate": FUTURE}, "InvalidArgument"),
    ({"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": dt.datetime(2001, 1, 1)}, "InvalidArgument"),
    ({"ObjectLockLegalHoldStatus": "MAYBE"}, "InvalidArgument"),
])
def test_bad_lock_headers(s3, kwargs, expected):
    bucket = locked_bucket(s3)
    assert status_and_code(error_of(s3.put_object, Bucket=bucket, Key="k", Body=b"x", **kwargs)) == (400, expected)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_retention_needs_an_integrity_header(stack):
    # botocore sends a checksum with every PutObject unless told to only when required.
    from botocore.config import Config

    s3 = stack.client("s3", config=Config(request_checksum_calculation="when_required"))
    bucket = locked_bucket(s3)
    response = error_of(s3.put_object, Bucket=bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                        ObjectLockRetainUntilDate=FUTURE)
    assert status_and_code(response) == (400, "InvalidRequest")
    md5 = base64.b64encode(hashlib.md5(b"x").digest()).decode()
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ContentMD5=md5, ObjectLockMode="GOVERNANCE",
                  ObjectLockRetainUntilDate=FUTURE)
    assert s3.head_object(Bucket=bucket, Key="k")["ObjectLockMode"] == "GOVERNANCE"


def test_default_retention_applies_to_new_versions(s3):
    bucket = locked_bucket(s3)
    s3.put_object(Bucket=bucket, Key="before", Body=b"x")
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 10}}})
    start = dt.datetime.now(dt.UTC)
    version = s3.put_object(Bucket=bucket, Key="after", Body=b"x")["VersionId"]
    retention = s3.get_object_retention(Bucket=bucket, Key="after")["Retention"]
    assert retention["Mode"] == "COMPLIANCE"
    assert abs((retention["RetainUntilDate"] - start - dt.timedelta(days=10)).total_seconds()) < 60
    assert "ObjectLockMode" not in s3.head_object(Bucket=bucket, Key="before")
    # A request's own retention wins over the default.
    s3.put_object(Bucket=bucket, Key="own", Body=b"x", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=FUTURE)
    assert s3.head_object(Bucket=bucket, Key="own")["ObjectLockMode"] == "GOVERNANCE"
    response = error_of(s3.delete_object, Bucket=bucket, Key="after", VersionId=version, BypassGovernanceRetention=True)
    assert status_and_code(response) == (403, "AccessDenied")


# -- enforcement ----------------------------------------------------------------------------------

def test_a_locked_version_survives_every_delete(s3):
    bucket = locked_bucket(s3)
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"precious", ObjectLockMode="COMPLIANCE",
                            ObjectLockRetainUntilDate=FUTURE)["VersionId"]
    for kwargs in ({}, {"BypassGovernanceRetention": True}):
        response = error_of(s3.delete_object, Bucket=bucket, Key="k", VersionId=version, **kwargs)
        assert status_and_code(response) == (403, "AccessDenied")
        out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k", "VersionId": version}]}, **kwargs)
        assert out["Errors"] == [{"Key": "k", "VersionId": version, "Code": "AccessDenied",
                                  "Message": "Access Denied because object protected by object lock."}]
    # A delete without a version id only adds a delete marker; removing that brings it back.
    marker = s3.delete_object(Bucket=bucket, Key="k")
    assert marker["DeleteMarker"] is True
    assert status_and_code(error_of(s3.delete_object, Bucket=bucket, Key="k", VersionId=version)) == (
        403, "AccessDenied")
    s3.delete_object(Bucket=bucket, Key="k", VersionId=marker["VersionId"])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"precious"
    response = error_of(s3.delete_bucket, Bucket=bucket)
    assert status_and_code(response) == (409, "BucketNotEmpty")


def test_delete_objects_reports_locked_versions_one_by_one(s3):
    bucket = locked_bucket(s3)
    locked = s3.put_object(Bucket=bucket, Key="a", Body=b"x", ObjectLockMode="GOVERNANCE",
                           ObjectLockRetainUntilDate=FUTURE)["VersionId"]
    free = s3.put_object(Bucket=bucket, Key="b", Body=b"x")["VersionId"]
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a", "VersionId": locked},
                                                               {"Key": "b", "VersionId": free}]})
    assert [(d["Key"], d["VersionId"]) for d in out["Deleted"]] == [("b", free)]
    assert [(e["Key"], e["Code"]) for e in out["Errors"]] == [("a", "AccessDenied")]
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a", "VersionId": locked}]},
                            BypassGovernanceRetention=True)
    assert [(d["Key"], d["VersionId"]) for d in out["Deleted"]] == [("a", locked)]
    assert "Errors" not in out


def test_bypass_needs_the_permission(stack, s3):
    bucket = locked_bucket(s3)
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                            ObjectLockRetainUntilDate=FUTURE)["VersionId"]
    iam = stack.client("iam")
    clients = {}
    for name, actions in (("no-bypass", ["s3:DeleteObject", "s3:DeleteObjectVersion"]),
                          ("bypass", ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"])):
        user = f"{name}-{next(_names)}"
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="s3", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        clients[name] = stack.client("s3", aws_access_key_id=key["AccessKeyId"],
                                     aws_secret_access_key=key["SecretAccessKey"])
    response = error_of(clients["no-bypass"].delete_object, Bucket=bucket, Key="k", VersionId=version,
                        BypassGovernanceRetention=True)
    assert status_and_code(response) == (403, "AccessDenied")
    clients["bypass"].delete_object(Bucket=bucket, Key="k", VersionId=version, BypassGovernanceRetention=True)
    assert "Versions" not in s3.list_object_versions(Bucket=bucket)


# -- the AWS CLI ----------------------------------------------------------------------------------

@pytest.mark.skipif(not AWS.exists(), reason="the AWS CLI is not installed in this environment")
def test_aws_cli_object_lock(stack, s3, tmp_path):
    env = aws_cli_env(stack, tmp_path)

    def aws(*args: str, expect: int = 0) -> str:
        done = subprocess.run([str(AWS), "s3api", *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == expect, done.stderr
        return done.stdout

    bucket = f"cli-locked-{next(_names)}"
    aws("create-bucket", "--bucket", bucket, "--object-lock-enabled-for-bucket")
    aws("put-object-lock-configuration", "--bucket", bucket, "--object-lock-configuration",
        json.dumps({"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 3}}}))
    config = json.loads(aws("get-object-lock-configuration", "--bucket", bucket))
    assert config["ObjectLockConfiguration"]["Rule"]["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 3}
    version = json.loads(aws("put-object", "--bucket", bucket, "--key", "k"))["VersionId"]
    assert json.loads(aws("get-object-retention", "--bucket", bucket, "--key", "k"))["Retention"]["Mode"] == "GOVERNANCE"
    aws("delete-object", "--bucket", bucket, "--key", "k", f"--version-id={version}", expect=255)
    aws("delete-object", "--bucket", bucket, "--key", "k", f"--version-id={version}", "--bypass-governance-retention")
    assert "Versions" not in s3.list_object_versions(Bucket=bucket)


# -- restart ----------------------------------------------------------------------------------------

def test_locks_survive_kill_and_restart(server_process):
    server = server_process()
    s3 = server.client("s3")
    s3.create_bucket(Bucket="lock-restart", ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket="lock-restart", ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 5}}})
    kept = s3.put_object(Bucket="lock-restart", Key="compliance", Body=b"keep", ObjectLockMode="COMPLIANCE",
                         ObjectLockRetainUntilDate=FUTURE)["VersionId"]
    held = s3.put_object(Bucket="lock-restart", Key="held", Body=b"hold")["VersionId"]
    s3.put_object_legal_hold(Bucket="lock-restart", Key="held", LegalHold={"Status": "ON"})
    server.kill()
    server.start()
    s3 = server.client("s3")
    assert s3.get_object_lock_configuration(Bucket="lock-restart")["ObjectLockConfiguration"]["Rule"] == {
        "DefaultRetention": {"Mode": "GOVERNANCE", "Days": 5}}
    assert lock_headers(s3.head_object(Bucket="lock-restart", Key="compliance")) == {
        "ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": FUTURE, "ObjectLockLegalHoldStatus": "OFF"}
    assert s3.head_object(Bucket="lock-restart", Key="held")["ObjectLockLegalHoldStatus"] == "ON"
    for key, version in (("compliance", kept), ("held", held)):
        response = error_of(s3.delete_object, Bucket="lock-restart", Key=key, VersionId=version,
                            BypassGovernanceRetention=True)
        assert status_and_code(response) == (403, "AccessDenied")
    assert status_and_code(error_of(s3.put_bucket_versioning, Bucket="lock-restart",
                                    VersioningConfiguration={"Status": "Suspended"})) == (409, "InvalidBucketState")


def test_configuration_bodies_need_a_matching_integrity_header(stack):
    from botocore.config import Config

    s3 = stack.client("s3", config=Config(request_checksum_calculation="when_required"))
    bucket = locked_bucket(s3)
    config = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}

    def drop_checksums(request, **_):
        for name in [h for h in request.headers if h.lower().startswith(("x-amz-checksum-", "content-md5"))]:
            del request.headers[name]

    def wrong_md5(request, **_):
        drop_checksums(request)
        request.headers["Content-MD5"] = base64.b64encode(hashlib.md5(b"something else").digest()).decode()

    for hook, expected in ((drop_checksums, (400, "InvalidRequest")), (wrong_md5, (400, "BadDigest"))):
        s3.meta.events.register_first("before-sign.s3.PutObjectLockConfiguration", hook)
        response = error_of(s3.put_object_lock_configuration, Bucket=bucket, ObjectLockConfiguration=config)
        s3.meta.events.unregister("before-sign.s3.PutObjectLockConfiguration", hook)
        assert status_and_code(response) == expected
    assert "Rule" not in s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=config)  # botocore's own MD5/CRC
    assert s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"] == config


def test_lock_headers_need_their_own_permissions(stack, s3):
    bucket = locked_bucket(s3)
    iam = stack.client("iam")

    def user(actions: list[str]):
        name = f"writer-{next(_names)}"
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="s3", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return stack.client("s3", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])

    plain = user(["s3:PutObject"])
    plain.put_object(Bucket=bucket, Key="k", Body=b"x")  # the default retention needs nothing more
    for kwargs in ({"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": FUTURE},
                   {"ObjectLockLegalHoldStatus": "ON"}):
        assert status_and_code(error_of(plain.put_object, Bucket=bucket, Key="k", Body=b"x", **kwargs)) == (
            403, "AccessDenied")
        assert status_and_code(error_of(plain.create_multipart_upload, Bucket=bucket, Key="k", **kwargs)) == (
            403, "AccessDenied")
    allowed = user(["s3:PutObject", "s3:PutObjectRetention", "s3:PutObjectLegalHold"])
    allowed.put_object(Bucket=bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                       ObjectLockRetainUntilDate=FUTURE, ObjectLockLegalHoldStatus="ON")
    assert lock_headers(s3.head_object(Bucket=bucket, Key="k"))["ObjectLockLegalHoldStatus"] == "ON"
