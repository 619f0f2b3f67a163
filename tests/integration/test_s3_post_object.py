"""POST Object (browser uploads) against a real server: multipart/form-data forms built as a
browser sends them (requests, urllib), signed with boto3's generate_presigned_post (SigV4 and
SigV2) or by hand; the policy's conditions, size limits, the answers S3 gives
(success_action_status, success_action_redirect) and its errors; the object stored is what a
PutObject would have stored."""

import base64
import datetime as dt
import hashlib
import hmac
import http.client
import itertools
import json
import os
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest
import requests
from botocore.config import Config

_names = itertools.count()
S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@pytest.fixture(scope="module")
def s3v4(stack):
    return stack.client("s3", config=Config(signature_version="s3v4"))


def new_bucket(s3) -> str:
    name = f"uploads-{next(_names)}"
    s3.create_bucket(Bucket=name)
    return name


def expires_in(seconds: int) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def v2_form(stack, policy: dict, fields: list[tuple[str, str]], secret: str | None = None) -> list:
    """A SigV2-signed form, fields in order, as `requests` `files=` parts (no filename)."""
    encoded = base64.b64encode(json.dumps(policy).encode())
    key = secret or stack.credentials["aws_secret_access_key"]
    signature = base64.b64encode(hmac.new(key.encode(), encoded, hashlib.sha1).digest())
    signed = [("AWSAccessKeyId", stack.credentials["aws_access_key_id"]), ("policy", encoded.decode()),
              ("signature", signature.decode())]
    return [(name, (None, value)) for name, value in [*fields, *signed]]


def error(response) -> tuple[int, str, str]:
    root = ET.fromstring(response.content)
    return response.status_code, root.findtext("Code"), root.findtext("Message")


def test_presigned_post_sigv4_stores_what_put_object_would(s3, s3v4):
    bucket = new_bucket(s3)
    post = s3v4.generate_presigned_post(
        bucket, "photos/${filename}",
        Fields={"Content-Type": "image/png", "x-amz-meta-owner": "eric"},
        Conditions=[["starts-with", "$key", "photos/"], {"Content-Type": "image/png"},
                    {"x-amz-meta-owner": "eric"}, ["content-length-range", 1, 1 << 20]])
    assert post["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    data = os.urandom(70_000)
    response = requests.post(post["url"], data=post["fields"], files={"file": ("cat.png", data, "image/png")})
    assert response.status_code == 204, response.text
    etag = f'"{hashlib.md5(data).hexdigest()}"'
    assert response.headers["ETag"] == etag
    assert response.headers["Location"].endswith(f"/{bucket}/photos/cat.png")
    got = s3.get_object(Bucket=bucket, Key="photos/cat.png")
    assert got["Body"].read() == data
    assert got["ETag"] == etag
    assert got["ContentType"] == "image/png"
    assert got["Metadata"] == {"owner": "eric"}
    # The same bytes through PutObject make the same object.
    put = s3.put_object(Bucket=bucket, Key="photos/put.png", Body=data, ContentType="image/png")
    assert put["ETag"] == etag


def test_presigned_post_sigv2_and_a_201_post_response(stack, s3):
    bucket = new_bucket(s3)
    post = s3.generate_presigned_post(bucket, "docs/report.txt", Fields={"success_action_status": "201"},
                                      Conditions=[{"success_action_status": "201"}])
    assert "AWSAccessKeyId" in post["fields"]
    response = requests.post(post["url"], data=post["fields"], files={"file": ("r.txt", b"quarterly")})
    assert response.status_code == 201, response.text
    root = ET.fromstring(response.content)
    assert root.tag == "PostResponse"
    assert root.findtext("Bucket") == bucket
    assert root.findtext("Key") == "docs/report.txt"
    assert root.findtext("ETag") == f'"{hashlib.md5(b"quarterly").hexdigest()}"'
    assert root.findtext("Location").endswith(f"/{bucket}/docs/report.txt")


def test_hand_built_sigv2_form_with_fields_after_the_file_ignored(stack, s3):
    bucket = new_bucket(s3)
    policy = {"expiration": expires_in(300), "conditions": [
        {"bucket": bucket}, ["starts-with", "$key", "in/"], ["starts-with", "$Content-Type", "text/"],
        ["eq", "$success_action_status", "200"], ["content-length-range", 0, 100]]}
    parts = v2_form(stack, policy, [("key", "in/${filename}"), ("Content-Type", "text/csv"),
                                    ("success_action_status", "200"), ("x-ignore-tracking", "abc")])
    parts.append(("file", ("data.csv", b"a,b\n1,2\n", "application/octet-stream")))
    parts.append(("x-amz-meta-late", (None, "ignored")))  # after the file: S3 ignores it
    response = requests.post(f"{stack.endpoint_url}/{bucket}", files=parts)
    assert response.status_code == 200, response.text
    assert response.content == b""
    got = s3.get_object(Bucket=bucket, Key="in/data.csv")
    assert got["Body"].read() == b"a,b\n1,2\n"
    assert got["ContentType"] == "text/csv"  # the form's Content-Type field, not the part's
    assert got["Metadata"] == {}


def test_success_action_redirect(stack, s3):
    bucket = new_bucket(s3)
    target = "https://example.com/done?from=upload"
    policy = {"expiration": expires_in(300), "conditions": [
        {"bucket": bucket}, ["starts-with", "$key", ""], {"success_action_redirect": target}]}
    parts = v2_form(stack, policy, [("key", "a b+c.txt"), ("success_action_redirect", target)])
    parts.append(("file", ("x", b"redirected")))
    response = requests.post(f"{stack.endpoint_url}/{bucket}", files=parts, allow_redirects=False)
    assert response.status_code == 303, response.text
    etag = hashlib.md5(b"redirected").hexdigest()
    assert response.headers["Location"] == (f"https://example.com/done?from=upload&bucket={bucket}"
                                            f"&key=a%20b%2Bc.txt&etag=%22{etag}%22")
    assert s3.get_object(Bucket=bucket, Key="a b+c.txt")["Body"].read() == b"redirected"


def test_large_file_streams_through(stack, s3, s3v4):
    bucket = new_bucket(s3)
    post = s3v4.generate_presigned_post(bucket, "big.bin", Conditions=[["content-length-range", 0, 64 << 20]])
    data = os.urandom(9 << 20) + b"\r\n--" + os.urandom(1000)  # a boundary-like run inside the data
    response = requests.post(post["url"], data=post["fields"], files={"file": ("big.bin", data)})
    assert response.status_code == 204, response.text
    assert response.headers["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == data


def test_size_limits(stack, s3, s3v4):
    bucket = new_bucket(s3)
    post = s3v4.generate_presigned_post(bucket, "sized", Conditions=[["content-length-range", 10, 20]])
    too_big = requests.post(post["url"], data=post["fields"], files={"file": ("f", b"x" * 21)})
    assert error(too_big)[:2] == (400, "EntityTooLarge")
    assert ET.fromstring(too_big.content).findtext("MaxSizeAllowed") == "20"
    too_small = requests.post(post["url"], data=post["fields"], files={"file": ("f", b"x" * 9)})
    assert error(too_small)[:2] == (400, "EntityTooSmall")
    assert ET.fromstring(too_small.content).findtext("MinSizeAllowed") == "10"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)  # neither was stored
    ok = requests.post(post["url"], data=post["fields"], files={"file": ("f", b"x" * 20)})
    assert ok.status_code == 204


@pytest.mark.parametrize("change, expected", [
    ("expired", (403, "AccessDenied", "Invalid according to Policy: Policy expired.")),
    ("wrong-prefix", (403, "AccessDenied",
                      'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "ok/"]')),
    ("extra-field", (403, "AccessDenied", "Invalid according to Policy: Extra input fields: x-amz-meta-extra")),
    ("no-bucket-condition", (403, "AccessDenied", "Invalid according to Policy: Extra input fields: bucket")),
    ("bad-signature", (403, "SignatureDoesNotMatch", None)),
    ("unknown-key", (403, "InvalidAccessKeyId", None)),
    ("no-signature", (400, "InvalidArgument", "Bucket POST must contain a field named 'Signature'.  If it is "
                      "specified, please check the order of the fields.")),
    ("no-key", (400, "InvalidArgument", "Bucket POST must contain a field named 'key'.  If it is specified, "
                "please check the order of the fields.")),
    ("no-file", (400, "InvalidArgument", "POST requires exactly one file upload per request.")),
    ("no-expiration", (400, "InvalidPolicyDocument", "Invalid Policy: Policy missing expiration.")),
    ("bad-expiration", (400, "InvalidPolicyDocument", None)),
    ("empty-condition", (400, "InvalidPolicyDocument", "Invalid Policy: Invalid Simple-Condition: "
                         "Simple-Conditions must have exactly one property specified.")),
    ("short-range", (400, "InvalidPolicyDocument", "Invalid Policy: Invalid content-length-range: wrong number "
                     "of arguments.")),
])
def test_policy_and_signature_errors(stack, s3, change, expected):
    bucket = new_bucket(s3)
    conditions = [{"bucket": bucket}, ["starts-with", "$key", "ok/"]]
    fields = [("key", "ok/file.txt")]
    policy = {"expiration": expires_in(300), "conditions": conditions}
    secret = None
    if change == "expired":
        policy["expiration"] = expires_in(-60)
    elif change == "wrong-prefix":
        fields = [("key", "elsewhere/file.txt")]
    elif change == "extra-field":
        fields.append(("x-amz-meta-extra", "1"))
    elif change == "no-bucket-condition":
        conditions.pop(0)
    elif change == "bad-signature":
        secret = "not-the-secret"
    elif change == "no-key":
        fields = []
    elif change == "no-expiration":
        del policy["expiration"]
    elif change == "bad-expiration":
        policy["expiration"] = str(dt.datetime.now(dt.UTC))
    elif change == "empty-condition":
        conditions.append({})
    elif change == "short-range":
        conditions.append(["content-length-range", 0])
    parts = v2_form(stack, policy, fields, secret)
    if change == "unknown-key":
        parts[-3] = ("AWSAccessKeyId", (None, "AKIANOSUCHKEY0000000"))
    elif change == "no-signature":
        parts.pop()
    if change != "no-file":
        parts.append(("file", ("f.txt", b"data")))
    response = requests.post(f"{stack.endpoint_url}/{bucket}", files=parts)
    status, code, message = error(response)
    assert (status, code) == expected[:2], response.text
    if expected[2] is not None:
        assert message == expected[2]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_anonymous_post_is_denied_and_a_missing_bucket_is_404(stack, s3):
    bucket = new_bucket(s3)
    parts = [("key", (None, "anon.txt")), ("file", ("a", b"anonymous"))]
    denied = requests.post(f"{stack.endpoint_url}/{bucket}", files=parts)
    assert error(denied)[:2] == (403, "AccessDenied")  # no ACL or bucket policy lets anyone write
    missing = requests.post(f"{stack.endpoint_url}/no-such-bucket-for-posts", files=parts)
    assert error(missing)[:2] == (404, "NoSuchBucket")


def test_a_user_needs_s3_put_object(stack, s3):
    bucket = new_bucket(s3)
    iam = stack.client("iam")
    iam.create_user(UserName="poster")
    iam.put_user_policy(UserName="poster", PolicyName="s3", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/allowed/*"}]}))
    key = iam.create_access_key(UserName="poster")["AccessKey"]
    user = stack.client("s3", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                        config=Config(signature_version="s3v4"))
    for name, status in (("allowed/a.txt", 204), ("other/a.txt", 403)):
        post = user.generate_presigned_post(bucket, name)
        response = requests.post(post["url"], data=post["fields"], files={"file": ("a", b"by a user")})
        assert response.status_code == status, response.text
    assert s3.get_object(Bucket=bucket, Key="allowed/a.txt")["Body"].read() == b"by a user"


def test_versioned_bucket_and_virtual_host_addressing(stack, s3, s3v4):
    bucket = new_bucket(s3)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    post = s3v4.generate_presigned_post(bucket, "v.txt")
    first = requests.post(post["url"], data=post["fields"], files={"file": ("a", b"one")})
    # Virtual-hosted style: the bucket in the Host header, the form posted to "/".
    port = urlsplit(stack.endpoint_url).port
    second = requests.post(f"http://127.0.0.1:{port}/", data=post["fields"], files={"file": ("a", b"two")},
                           headers={"Host": f"{bucket}.s3.localhost:{port}"})
    assert first.status_code == second.status_code == 204, second.text
    ids = [first.headers["x-amz-version-id"], second.headers["x-amz-version-id"]]
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert sorted(v["VersionId"] for v in versions) == sorted(ids)
    assert s3.get_object(Bucket=bucket, Key="v.txt", VersionId=ids[0])["Body"].read() == b"one"
    assert s3.get_object(Bucket=bucket, Key="v.txt")["Body"].read() == b"two"


def test_a_cut_off_body_stores_nothing(stack, s3, s3v4):
    bucket = new_bucket(s3)
    post = s3v4.generate_presigned_post(bucket, "cut.bin")
    prepared = requests.Request("POST", post["url"], data=post["fields"],
                                files={"file": ("cut.bin", b"z" * 5000)}).prepare()
    body = prepared.body[: prepared.body.rindex(b"z") - 100]  # no closing boundary
    host = urlsplit(stack.endpoint_url)
    connection = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
    connection.request("POST", f"/{bucket}", body=body, headers={"Content-Type": prepared.headers["Content-Type"]})
    answer = connection.getresponse()
    assert answer.status == 400
    assert ET.fromstring(answer.read()).findtext("Code") == "MalformedPOSTRequest"
    connection.close()
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_checksum_field_is_verified(stack, s3):
    bucket = new_bucket(s3)
    data = b"checked" * 100
    good = base64.b64encode(hashlib.sha256(data).digest()).decode()
    policy = {"expiration": expires_in(300), "conditions": [{"bucket": bucket}, {"key": "sum.txt"}]}
    for value, status in ((base64.b64encode(hashlib.sha256(b"other").digest()).decode(), 400), (good, 204)):
        parts = v2_form(stack, policy, [("key", "sum.txt"), ("x-amz-checksum-sha256", value)])
        parts.append(("file", ("s", data)))
        response = requests.post(f"{stack.endpoint_url}/{bucket}", files=parts)
        assert response.status_code == status, response.text
    got = s3.get_object(Bucket=bucket, Key="sum.txt", ChecksumMode="ENABLED")
    assert got["ChecksumSHA256"] == good


def test_temporary_credentials_need_their_token(stack, s3):
    bucket = new_bucket(s3)
    creds = stack.client("sts").get_session_token()["Credentials"]
    temp = stack.client("s3", aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"], config=Config(signature_version="s3v4"))
    post = temp.generate_presigned_post(bucket, "temp.txt")
    assert "x-amz-security-token" in post["fields"]
    ok = requests.post(post["url"], data=post["fields"], files={"file": ("t", b"temporary")})
    assert ok.status_code == 204, ok.text
    without = {k: v for k, v in post["fields"].items() if k != "x-amz-security-token"}
    refused = requests.post(post["url"], data=without, files={"file": ("t", b"temporary")})
    assert error(refused)[:2] == (403, "InvalidAccessKeyId")


def test_a_form_posted_to_no_bucket_is_not_an_upload(stack):
    policy = {"expiration": expires_in(300), "conditions": [["starts-with", "$bucket", ""], ["starts-with", "$key", ""]]}
    parts = v2_form(stack, policy, [("key", "k")])
    parts.append(("file", ("f", b"x")))
    response = requests.post(f"{stack.endpoint_url}/", files=parts)
    assert 400 <= response.status_code < 500, response.text
