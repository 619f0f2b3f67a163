"""CORS against a real server: Put/Get/DeleteBucketCors through boto3 and `aws s3api`, their
validation, preflight OPTIONS requests sent as a browser sends them (urllib, unauthenticated),
and the Access-Control-* headers on actual requests carrying Origin — presigned GET/PUT,
errors and browser uploads (POST Object) too."""

import itertools
import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import requests
from botocore.config import Config
from helpers import aws_cli_env, error_of

AWS = Path(sys.executable).parent / "aws"
_names = itertools.count()
RULES = [
    {"ID": "uploads", "AllowedOrigins": ["https://*.example.com"], "AllowedMethods": ["PUT", "POST"],
     "AllowedHeaders": ["x-amz-*", "Content-Type"], "ExposeHeaders": ["ETag", "x-amz-version-id"],
     "MaxAgeSeconds": 600},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "HEAD"]},
]


@pytest.fixture(scope="module")
def s3(stack):
    return stack.client("s3", config=Config(signature_version="s3v4"))


def new_bucket(s3, rules=None) -> str:
    name = f"cors-{next(_names)}"
    s3.create_bucket(Bucket=name)
    if rules:
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": rules})
    return name


def send(url: str, method: str, headers: dict, data: bytes | None = None) -> tuple[int, dict, bytes]:
    """A request as a browser sends it; (status, lower-cased headers, body), errors included."""
    request = urllib.request.Request(url, method=method, headers=headers, data=data)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    except urllib.error.HTTPError as failed:
        return failed.code, {k.lower(): v for k, v in failed.headers.items()}, failed.read()


def test_put_get_delete_bucket_cors(s3):
    bucket = new_bucket(s3)
    assert error_of(s3.get_bucket_cors, Bucket=bucket)["Error"]["Code"] == "NoSuchCORSConfiguration"
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == RULES
    s3.delete_bucket_cors(Bucket=bucket)
    failed = error_of(s3.get_bucket_cors, Bucket=bucket)
    assert (failed["ResponseMetadata"]["HTTPStatusCode"], failed["Error"]["Code"]) == (404, "NoSuchCORSConfiguration")
    s3.delete_bucket_cors(Bucket=bucket)  # nothing to delete: still 204


@pytest.mark.parametrize("rules, code, message", [
    ([{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}], "InvalidRequest",
     "Found unsupported HTTP method in CORS config. Unsupported method is PATCH"),
    ([{"AllowedOrigins": ["https://*.*.example.com"], "AllowedMethods": ["GET"]}], "InvalidRequest",
     'AllowedOrigin "https://*.*.example.com" can not have more than one wildcard.'),
    ([{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "AllowedHeaders": ["x-*-*"]}], "InvalidRequest",
     'AllowedHeader "x-*-*" can not have more than one wildcard.'),
    ([{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}] * 101, "MalformedXML", None),
])
def test_put_bucket_cors_validation(s3, rules, code, message):
    bucket = new_bucket(s3)
    failed = error_of(s3.put_bucket_cors, Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    assert (failed["ResponseMetadata"]["HTTPStatusCode"], failed["Error"]["Code"]) == (400, code)
    if message:
        assert failed["Error"]["Message"] == message
    assert error_of(s3.get_bucket_cors, Bucket=bucket)["Error"]["Code"] == "NoSuchCORSConfiguration"


def test_preflight(stack, s3):
    bucket = new_bucket(s3, RULES)
    url = f"{stack.endpoint_url}/{bucket}/photos/cat.png"
    status, headers, _ = send(url, "OPTIONS", {"Origin": "https://app.example.com",
                                               "Access-Control-Request-Method": "PUT",
                                               "Access-Control-Request-Headers": "Content-Type, X-Amz-Meta-Owner"})
    assert status == 200
    assert headers["access-control-allow-origin"] == "https://app.example.com"
    assert headers["access-control-allow-methods"] == "PUT, POST"
    assert headers["access-control-allow-headers"] == "content-type, x-amz-meta-owner"
    assert headers["access-control-expose-headers"] == "ETag, x-amz-version-id"
    assert headers["access-control-max-age"] == "600"
    assert headers["access-control-allow-credentials"] == "true"
    assert headers["vary"] == "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
    # The second rule allows any origin to GET: "*", without credentials.
    status, headers, _ = send(url, "OPTIONS", {"Origin": "http://elsewhere", "Access-Control-Request-Method": "GET"})
    assert status == 200 and headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in headers


@pytest.mark.parametrize("headers, status, code", [
    ({"Origin": "https://app.example.com", "Access-Control-Request-Method": "DELETE"}, 403, "AccessForbidden"),
    ({"Origin": "https://example.com", "Access-Control-Request-Method": "PUT"}, 403, "AccessForbidden"),
    ({"Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT",
      "Access-Control-Request-Headers": "Authorization"}, 403, "AccessForbidden"),
    ({"Access-Control-Request-Method": "GET"}, 400, "BadRequest"),
    ({"Origin": "https://app.example.com"}, 400, "BadRequest"),
])
def test_preflight_refused(stack, s3, headers, status, code):
    bucket = new_bucket(s3, RULES)
    answer_status, answer_headers, body = send(f"{stack.endpoint_url}/{bucket}/k", "OPTIONS", headers)
    assert answer_status == status
    assert f"<Code>{code}</Code>".encode() in body
    assert "access-control-allow-origin" not in answer_headers


def test_preflight_without_cors_configuration(stack, s3):
    bucket = new_bucket(s3)
    status, _, body = send(f"{stack.endpoint_url}/{bucket}", "OPTIONS",
                           {"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"})
    assert status == 403
    assert b"CORSResponse: CORS is not enabled for this bucket." in body
    assert b"<ResourceType>BUCKET</ResourceType>" in body
    status, _, body = send(f"{stack.endpoint_url}/no-such-cors-bucket", "OPTIONS",
                           {"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"})
    assert status == 404 and b"<Code>NoSuchBucket</Code>" in body


def test_actual_requests_carry_cors_headers(stack, s3):
    bucket = new_bucket(s3, RULES)
    s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
    status, headers, body = send(get_url, "GET", {"Origin": "https://site.test"})
    assert (status, body) == (200, b"hello")
    assert headers["access-control-allow-origin"] == "*"
    assert headers["access-control-allow-methods"] == "GET, HEAD"
    assert headers["vary"].startswith("Origin")
    # Without Origin, or from an origin no rule allows for the method: no CORS headers.
    assert "access-control-allow-origin" not in send(get_url, "GET", {})[1]
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "up"})
    status, headers, _ = send(put_url, "PUT", {"Origin": "https://site.test"}, b"data")
    assert status == 200 and "access-control-allow-origin" not in headers
    status, headers, _ = send(put_url, "PUT", {"Origin": "https://app.example.com"}, b"data")
    assert status == 200
    assert headers["access-control-allow-origin"] == "https://app.example.com"
    assert headers["access-control-expose-headers"] == "ETag, x-amz-version-id"
    # An error answer carries them too, as S3's do.
    missing = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "missing"})
    status, headers, _ = send(missing, "GET", {"Origin": "https://site.test"})
    assert status == 404 and headers["access-control-allow-origin"] == "*"


def test_browser_upload_with_cors(stack, s3):
    bucket = new_bucket(s3, RULES)
    post = s3.generate_presigned_post(bucket, "from-browser.txt")
    response = requests.post(post["url"], data=post["fields"], files={"file": ("f", b"browser")},
                             headers={"Origin": "https://app.example.com"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert response.headers["Access-Control-Allow-Methods"] == "PUT, POST"


def test_delete_bucket_drops_its_cors(s3):
    bucket = new_bucket(s3, RULES)
    s3.delete_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=bucket)
    assert error_of(s3.get_bucket_cors, Bucket=bucket)["Error"]["Code"] == "NoSuchCORSConfiguration"


@pytest.mark.skipif(not AWS.exists(), reason="the AWS CLI is not installed in this environment")
def test_cors_through_the_aws_cli(stack, s3, tmp_path):
    bucket = new_bucket(s3)
    env = aws_cli_env(stack, tmp_path)

    def aws(*args: str, expect: int = 0) -> subprocess.CompletedProcess:
        done = subprocess.run([str(AWS), "s3api", *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == expect, done.stderr
        return done

    aws("put-bucket-cors", "--bucket", bucket, "--cors-configuration", json.dumps({"CORSRules": RULES}))
    assert json.loads(aws("get-bucket-cors", "--bucket", bucket).stdout)["CORSRules"] == RULES
    status, headers, _ = send(f"{stack.endpoint_url}/{bucket}/x", "OPTIONS",
                              {"Origin": "https://cli.example.com", "Access-Control-Request-Method": "POST"})
    assert status == 200 and headers["access-control-allow-origin"] == "https://cli.example.com"
    aws("delete-bucket-cors", "--bucket", bucket)
    assert "NoSuchCORSConfiguration" in aws("get-bucket-cors", "--bucket", bucket, expect=255).stderr
