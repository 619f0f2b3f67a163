"""Request authentication against the public AWS SigV4 test suite, AWS's published chunked
upload example, and requests signed by real botocore clients and signers."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from lakestack.aws import sigv4
from lakestack.aws.context import Credential, Principal
from lakestack.aws.errors import AwsError
from lakestack.aws.request import BodyReader, BytesBody, HttpRequest

UTC = dt.UTC
SUITE = Path(__file__).parent.parent / "data" / "aws4_testsuite"
SUITE_KEY, SUITE_SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_NOW = dt.datetime(2015, 8, 30, 12, 36, tzinfo=UTC)
AK, SK = "AKIALAKESTACKTEST001", "lakestack/secret+key/for/unit/tests0000"
ROOT = Principal(account_id="000000000000", arn="arn:aws:iam::000000000000:root", user_id="000000000000",
                 kind="root")


def credential(key: str = AK, secret: str = SK, **kwargs) -> Credential:
    return Credential(access_key_id=key, secret_access_key=secret, principal=ROOT, **kwargs)


def now() -> dt.datetime:
    return dt.datetime.now(UTC)


def check(http: HttpRequest, cred: Credential | None, protocol: str, *, at: dt.datetime | None = None,
          body: bytes | None = None, **kwargs):
    info = sigv4.parse_auth(http)
    return sigv4.verify(http, info, cred, service_protocol=protocol, now=at or now(), body=body, **kwargs)


def fails(code: str, status: int, http: HttpRequest, cred: Credential | None, protocol: str, **kwargs) -> AwsError:
    with pytest.raises(AwsError) as caught:
        reader = check(http, cred, protocol, **kwargs)
        if reader is not None:
            reader.read()
    assert (caught.value.code, caught.value.status) == (code, status), caught.value.message
    return caught.value


class Trickle(BodyReader):
    """A body arriving in small network pieces, as a slow upload does."""

    def __init__(self, data: bytes, size: int = 7) -> None:
        super().__init__()
        self._pieces = [data[i : i + size] for i in range(0, len(data), size)]

    def _next_chunk(self) -> bytes:
        return self._pieces.pop(0) if self._pieces else b""


# --- the AWS SigV4 test suite (see tests/data/aws4_testsuite/README.md) ------------------


def parse_raw_request(raw: bytes) -> HttpRequest:
    """An HTTP/1.1 request file, decoded as the gateway decodes the wire (latin-1), with
    duplicate headers joined by ',' and folded lines unfolded, as the gateway does."""
    head, _, body = raw.partition(b"\n\n")
    lines = head.decode("latin-1").split("\n")
    method, target = lines[0].split(" ", 1)
    target = target.rsplit(" ", 1)[0]  # keeps a raw space of the path (normalize-path/get-space)
    path, _, query = target.partition("?")
    headers: dict[str, str] = {}
    last = ""
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            headers[last] += " " + line.strip()
            continue
        name, _, value = line.partition(":")
        last = name.strip().lower()
        headers[last] = f"{headers[last]},{value.strip()}" if last in headers else value.strip()
    return HttpRequest(method, path, query, headers, BytesBody(body))


def suite_cases() -> list[str]:
    return sorted(str(p.parent.relative_to(SUITE)) for p in SUITE.rglob("*.sreq"))


def load_case(case: str):
    folder = SUITE / case
    name = folder.name
    # .sreq is the request as signed (it carries any X-Amz-Security-Token); .authz is the
    # authoritative Authorization value (the .sreq of get-vanilla-with-session-token is stale).
    http = parse_raw_request((folder / f"{name}.sreq").read_bytes())
    http.headers["authorization"] = (folder / f"{name}.authz").read_text()
    return (http, (folder / f"{name}.creq").read_text(), (folder / f"{name}.sts").read_text(),
            http.body.read())


def test_suite_is_vendored():
    assert len(suite_cases()) >= 30


@pytest.mark.parametrize("case", suite_cases())
def test_aws4_testsuite(case):
    http, creq, sts, body = load_case(case)
    info = sigv4.parse_auth(http)
    assert (info.kind, info.access_key_id, info.region, info.service) == ("header-v4", SUITE_KEY, "us-east-1",
                                                                         "service")
    canonical = sigv4.canonical_request(http, info.signed_headers, hashlib.sha256(body).hexdigest())
    assert canonical == creq
    assert sigv4.string_to_sign(info.amz_date, info.scope, canonical) == sts
    cred = credential(SUITE_KEY, SUITE_SECRET, session_token=http.headers.get("x-amz-security-token"))
    assert sigv4.verify(http, info, cred, service_protocol="json", now=SUITE_NOW, body=body) is None


@pytest.mark.parametrize("case", ["get-vanilla-query-order-key-case", "post-x-www-form-urlencoded"])
def test_aws4_testsuite_with_wrong_secret(case):
    http, _, _, body = load_case(case)
    error = fails("SignatureDoesNotMatch", 403, http, credential(SUITE_KEY, "wrong"), "query", at=SUITE_NOW,
                  body=body)
    assert "The Canonical String for this request should have been" in error.message


def test_aws4_testsuite_tampered_header_and_body():
    http, _, _, body = load_case("post-x-www-form-urlencoded")
    fails("InvalidSignatureException", 400, http, credential(SUITE_KEY, SUITE_SECRET), "json", at=SUITE_NOW,
          body=body + b"&Param2=value2")
    http.headers["content-type"] = "application/json"
    fails("InvalidSignatureException", 403, http, credential(SUITE_KEY, SUITE_SECRET), "rest-json",
          at=SUITE_NOW, body=body)


# --- requests signed by botocore ----------------------------------------------------------


def to_http(prepared) -> HttpRequest:
    """A botocore prepared request as the gateway would receive it."""
    url = urlsplit(prepared.url)
    headers: dict[str, str] = {}
    for name, value in prepared.headers.items():
        headers[name.lower()] = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    headers.setdefault("host", url.netloc)
    body = prepared.body or b""
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    return HttpRequest(prepared.method, url.path, url.query, headers, BytesBody(body))


class Captured(Exception):
    pass


def client(service: str, endpoint: str = "http://127.0.0.1:4566", token: str | None = None, **config):
    session = boto3.session.Session(aws_access_key_id=AK, aws_secret_access_key=SK, aws_session_token=token,
                                    region_name="eu-west-1")
    return session.client(service, endpoint_url=endpoint, config=Config(**config) if config else None)


def capture(api, operation: str, **params) -> HttpRequest:
    """The request a real client sends for `operation`, stopped just before the wire."""
    seen = []

    def before_send(request, **_):
        seen.append(request)
        raise Captured

    api.meta.events.register_first("before-send", before_send)
    with pytest.raises(Captured):
        getattr(api, operation)(**params)
    return to_http(seen[0])


def test_query_protocol_sts_body_signed():
    http = capture(client("sts"), "get_caller_identity")
    info = sigv4.parse_auth(http)
    assert (info.kind, info.access_key_id, info.region, info.service) == ("header-v4", AK, "eu-west-1", "sts")
    body = http.body.read()
    assert check(http, credential(), "query", body=body) is None
    fails("SignatureDoesNotMatch", 403, http, credential(), "query", body=body.replace(b"2011", b"2012"))
    fails("SignatureDoesNotMatch", 403, http, credential(secret="wrong"), "query", body=body)
    fails("InvalidClientTokenId", 403, http, None, "query", body=body)
    fails("InvalidClientTokenId", 403, http, credential(active=False), "query", body=body)


def test_empty_region_in_the_credential_scope_is_verified():
    # boto3.client("iam", region_name="") signs the scope "<date>//iam/aws4_request".
    session = boto3.session.Session(aws_access_key_id=AK, aws_secret_access_key=SK, region_name="")
    http = capture(session.client("iam", endpoint_url="http://127.0.0.1:4566"), "list_users")
    info = sigv4.parse_auth(http)
    assert "//iam/aws4_request" in info.scope and info.region is None
    body = http.body.read()
    assert check(http, credential(), "query", body=body) is None
    fails("SignatureDoesNotMatch", 403, http, credential(secret="wrong"), "query", body=body)


def test_body_read_from_the_stream_when_not_given():
    http = capture(client("kinesis"), "list_streams")
    reader = check(http, credential(), "json")
    assert b"{" in reader.read()


def test_json_protocol_errors():
    http = capture(client("kinesis"), "put_record", StreamName="s", Data=b"x" * 100, PartitionKey="p")
    body = http.body.read()
    assert check(http, credential(), "json", body=body) is None
    fails("UnrecognizedClientException", 400, http, None, "json", body=body)
    fails("InvalidSignatureException", 400, http, credential(secret="nope"), "json", body=body)
    http.headers["x-amz-target"] = "Kinesis_20131202.DeleteStream"
    fails("InvalidSignatureException", 400, http, credential(), "json", body=body)


def test_rest_json_path_is_double_encoded():
    # Lambda escapes ':' in the function name (%3A); SigV4 signs the path escaped again (%253A).
    http = capture(client("lambda"), "get_function", FunctionName="arn:aws:lambda:eu-west-1:000000000000:function:f")
    assert "%3A" in http.raw_path
    assert "%253A" in sigv4.canonical_uri(http.raw_path)
    assert check(http, credential(), "rest-json", body=b"") is None
    fails("UnrecognizedClientException", 403, http, None, "rest-json", body=b"")
    fails("InvalidSignatureException", 403, http, credential(secret="x"), "rest-json", body=b"")


def test_sigv4_with_date_header_instead_of_x_amz_date():
    request = AWSRequest("POST", "https://sts.eu-west-1.amazonaws.com/", data=b"Action=GetCallerIdentity",
                         headers={"Date": "Thu, 01 Jan 1970 00:00:00 GMT"})
    SigV4Auth(Credentials(AK, SK), "sts", "eu-west-1").add_auth(request)
    http = to_http(request.prepare())
    assert "x-amz-date" not in http.headers
    assert check(http, credential(), "query", body=b"Action=GetCallerIdentity") is None


S3_KEY = "dir/a b+c!~(é)*.txt"


def test_s3_put_object_hex_payload_hash_checked_while_reading():
    http = capture(client("s3"), "put_object", Bucket="bucket1", Key=S3_KEY, Body=b"hello lake" * 1000)
    assert http.headers["x-amz-content-sha256"] == hashlib.sha256(b"hello lake" * 1000).hexdigest()
    payload = http.body.read()
    http.body = Trickle(payload, 1000)
    reader = check(http, credential(), "rest-xml")
    assert reader.read() == payload and reader.trailers == {}
    http.body = Trickle(payload[:-1] + b"!", 1000)
    reader = check(http, credential(), "rest-xml")
    assert len(reader.read(5000)) == 5000  # the mismatch is only known at EOF
    with pytest.raises(AwsError) as caught:
        reader.read()
    assert caught.value.code == "XAmzContentSHA256Mismatch" and caught.value.status == 400
    http.body = BytesBody(payload)
    fails("XAmzContentSHA256Mismatch", 400, http, credential(), "rest-xml", body=payload + b"!")
    fails("SignatureDoesNotMatch", 403, http, credential(secret="x"), "rest-xml")
    fails("InvalidAccessKeyId", 403, http, None, "rest-xml")


def test_s3_path_is_signed_as_sent():
    http = capture(client("s3"), "get_object", Bucket="bucket1", Key=S3_KEY)
    assert sigv4.canonical_uri(http.raw_path, s3=True) == http.raw_path
    assert check(http, credential(), "rest-xml") is not None
    http.raw_path = http.raw_path.replace("a%20b", "a%20c")
    error = fails("SignatureDoesNotMatch", 403, http, credential(), "rest-xml")
    assert error.message.startswith("The request signature we calculated does not match")
    assert error.fields["AWSAccessKeyId"] == AK and "CanonicalRequest" in error.fields


def test_s3_path_encoded_differently_from_the_signer():
    # A client that sent '!' and '*' raw but signed them %-encoded (S3 compares re-encoded).
    request = AWSRequest("GET", "http://127.0.0.1:4566/bucket1/a%21b%2Ac", headers={
        "X-Amz-Content-SHA256": sigv4.EMPTY_SHA256})
    signer = SigV4Auth(Credentials(AK, SK), "s3", "us-east-1")
    signer._normalize_url_path = lambda path: path  # as S3SigV4Auth
    signer.add_auth(request)
    http = to_http(request.prepare())
    http.raw_path = "/bucket1/a!b*c"
    assert check(http, credential(), "rest-xml") is not None


def test_s3_requires_x_amz_content_sha256():
    http = capture(client("s3"), "get_object", Bucket="bucket1", Key="k")
    http.headers["x-amz-content-sha256"] = "not-a-hash"
    fails("InvalidArgument", 400, http, credential(), "rest-xml")
    del http.headers["x-amz-content-sha256"]
    fails("InvalidRequest", 400, http, credential(), "rest-xml")


def test_s3_streaming_unsigned_payload_trailer_from_botocore():
    payload = bytes(range(256)) * 300
    http = capture(client("s3", "https://s3.localhost:4566"), "put_object", Bucket="bucket1", Key="k",
                   Body=payload)
    assert http.headers["x-amz-content-sha256"] == sigv4.STREAMING_UNSIGNED_TRAILER
    wire = http.body.read()
    http.body = Trickle(wire, 333)
    reader = check(http, credential(), "rest-xml")
    assert reader.decoded_content_length == len(payload)
    assert reader.read() == payload
    crc = base64.b64encode(zlib.crc32(payload).to_bytes(4, "big")).decode()
    assert reader.trailers == {"x-amz-checksum-crc32": crc}
    http.body = BytesBody(wire[:-40])
    fails("IncompleteBody", 400, http, credential(), "rest-xml")


# AWS's published example: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
EXAMPLE_SIGNATURES = [
    (65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"),
    (1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"),
    (0, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"),
]


def aws_streaming_example(corrupt: bool = False) -> HttpRequest:
    wire = bytearray()
    for size, signature in EXAMPLE_SIGNATURES:
        data = bytearray(b"a" * size)
        if corrupt and size == 1024:
            data[10:11] = b"b"
        wire += f"{size:x};chunk-signature={signature}\r\n".encode() + data + b"\r\n"
    headers = {
        "host": "s3.amazonaws.com",
        "x-amz-date": "20130524T000000Z",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
        "x-amz-decoded-content-length;x-amz-storage-class,"
        "Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
        "x-amz-content-sha256": sigv4.STREAMING_SIGNED,
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": "66560",
        "content-length": "66824",
    }
    assert len(wire) == 66824
    return HttpRequest("PUT", "/examplebucket/chunkObject.txt", "", headers, Trickle(bytes(wire), 4000))


EXAMPLE_CREDENTIAL = credential("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
EXAMPLE_NOW = dt.datetime(2013, 5, 24, 0, 5, tzinfo=UTC)


def test_s3_signed_chunks_aws_example():
    reader = check(aws_streaming_example(), EXAMPLE_CREDENTIAL, "rest-xml", at=EXAMPLE_NOW)
    assert reader.decoded_content_length == 66560
    assert reader.read() == b"a" * 66560


def test_s3_signed_chunks_tampered_chunk_fails_before_eof():
    reader = check(aws_streaming_example(corrupt=True), EXAMPLE_CREDENTIAL, "rest-xml", at=EXAMPLE_NOW)
    assert reader.read(65536) == b"a" * 65536
    with pytest.raises(AwsError) as caught:
        reader.read(1024)
    assert (caught.value.code, caught.value.status) == ("SignatureDoesNotMatch", 403)


def signed_stream(payload: bytes, *, trailer: bool, chunk: int = 8192, tamper: str = "",
                  declared: int | None = None) -> HttpRequest:
    """A signed aws-chunked upload: the seed signed by botocore, the chunks per the spec."""
    mode = sigv4.STREAMING_SIGNED_TRAILER if trailer else sigv4.STREAMING_SIGNED
    headers = {"X-Amz-Content-SHA256": mode, "Content-Encoding": "aws-chunked",
               "X-Amz-Decoded-Content-Length": str(len(payload) if declared is None else declared)}
    if trailer:
        headers["X-Amz-Trailer"] = "x-amz-checksum-crc32"
    request = AWSRequest("PUT", "http://127.0.0.1:4566/bucket1/streamed", headers=headers)
    signer = SigV4Auth(Credentials(AK, SK), "s3", "eu-west-1")
    signer.add_auth(request)
    http = to_http(request.prepare())
    info = sigv4.parse_auth(http)
    key = sigv4.signing_key(SK, info.scope[:8], "eu-west-1", "s3")
    head = f"{info.amz_date}\n{info.scope}\n"
    previous = info.signature
    wire = bytearray()
    for start in [*range(0, len(payload), chunk), len(payload)]:
        data = payload[start : start + chunk]
        to_sign = f"AWS4-HMAC-SHA256-PAYLOAD\n{head}{previous}\n{sigv4.EMPTY_SHA256}\n"
        previous = hmac.new(key, (to_sign + hashlib.sha256(data).hexdigest()).encode(), "sha256").hexdigest()
        if tamper == "chunk" and start == chunk:
            data = b"X" + data[1:]
        wire += f"{len(data):x};chunk-signature={previous}\r\n".encode() + data
        wire += b"\r\n" if data else b""
    if trailer:
        crc = base64.b64encode(zlib.crc32(payload).to_bytes(4, "big")).decode()
        canonical = f"x-amz-checksum-crc32:{crc}\n"
        to_sign = f"AWS4-HMAC-SHA256-TRAILER\n{head}{previous}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        signature = hmac.new(key, to_sign.encode(), "sha256").hexdigest()
        if tamper == "trailer":
            canonical = "x-amz-checksum-crc32:AAAAAA==\n"
        wire += canonical.replace("\n", "\r\n").encode() + f"x-amz-trailer-signature:{signature}\r\n".encode()
    wire += b"\r\n"
    http.body = Trickle(bytes(wire), 1500)
    return http


@pytest.mark.parametrize("trailer", [False, True])
def test_s3_signed_chunks(trailer):
    payload = bytes(range(251)) * 100
    reader = check(signed_stream(payload, trailer=trailer), credential(), "rest-xml")
    assert reader.read() == payload
    if trailer:
        assert reader.trailers == {
            "x-amz-checksum-crc32": base64.b64encode(zlib.crc32(payload).to_bytes(4, "big")).decode()}


@pytest.mark.parametrize(("trailer", "tamper"), [(False, "chunk"), (True, "chunk"), (True, "trailer")])
def test_s3_signed_chunks_tampered(trailer, tamper):
    http = signed_stream(bytes(range(251)) * 100, trailer=trailer, tamper=tamper)
    fails("SignatureDoesNotMatch", 403, http, credential(), "rest-xml")


def test_s3_signed_chunks_wrong_decoded_length():
    http = signed_stream(b"z" * 20000, trailer=False, declared=20001)
    fails("IncompleteBody", 400, http, credential(), "rest-xml")


def test_s3_presigned_v4():
    s3 = client("s3", signature_version="s3v4")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "bucket1", "Key": S3_KEY}, ExpiresIn=600)
    http = url_request(url)
    info = sigv4.parse_auth(http)
    assert (info.kind, info.access_key_id, info.region, info.service, info.content_sha256) == (
        "query-v4", AK, "eu-west-1", "s3", sigv4.UNSIGNED_PAYLOAD)
    assert check(http, credential(), "rest-xml") is not None
    fails("AccessDenied", 403, http, credential(), "rest-xml", at=now() + dt.timedelta(seconds=700))
    fails("AccessDenied", 403, http, credential(), "rest-xml", at=now() - dt.timedelta(hours=1))
    fails("SignatureDoesNotMatch", 403, http, credential(secret="x"), "rest-xml")
    tampered = url_request(url.replace("bucket1", "bucket2"))
    fails("SignatureDoesNotMatch", 403, tampered, credential(), "rest-xml")
    week = url_request(url.replace("X-Amz-Expires=600", "X-Amz-Expires=604801"))
    fails("AuthorizationQueryParametersError", 400, week, credential(), "rest-xml")


def test_s3_presigned_v4_expired_message():
    s3 = client("s3", signature_version="s3v4")
    http = url_request(s3.generate_presigned_url("get_object", Params={"Bucket": "bucket1", "Key": "k"},
                                                 ExpiresIn=60))
    error = fails("AccessDenied", 403, http, credential(), "rest-xml", at=now() + dt.timedelta(minutes=5))
    assert error.message == "Request has expired" and error.fields["X-Amz-Expires"] == "60"


def test_presigned_v4_other_service():
    request = AWSRequest("GET", "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15")
    SigV4QueryAuth(Credentials(AK, SK, "session-token"), "sts", "eu-west-1", expires=60).add_auth(request)
    http = to_http(request.prepare())
    cred = credential(session_token="session-token")
    assert sigv4.parse_auth(http).security_token == "session-token"
    assert check(http, cred, "query", body=b"") is None
    fails("SignatureDoesNotMatch", 403, http, cred, "query", body=b"", at=now() + dt.timedelta(minutes=2))
    fails("InvalidClientTokenId", 403, http, credential(session_token="other"), "query", body=b"")


def test_s3_presigned_with_session_token():
    s3 = client("s3", token="tok/en+value==", signature_version="s3v4")
    http = url_request(s3.generate_presigned_url("get_object", Params={"Bucket": "bucket1", "Key": "k"}))
    assert check(http, credential(session_token="tok/en+value=="), "rest-xml") is not None
    fails("InvalidToken", 400, http, credential(session_token="another"), "rest-xml")
    fails("InvalidToken", 400, http, credential(), "rest-xml")


def url_request(url: str, method: str = "GET") -> HttpRequest:
    parts = urlsplit(url)
    return HttpRequest(method, parts.path, parts.query, {"host": parts.netloc})


# --- SigV2 (S3 only) ---------------------------------------------------------------------------


def test_default_boto3_presigned_url_is_sigv2_and_verifies():
    s3 = client("s3")
    url = s3.generate_presigned_url("get_object", Params={
        "Bucket": "bucket1", "Key": S3_KEY, "ResponseContentDisposition": 'attachment; filename="x y.txt"'})
    http = url_request(url)
    info = sigv4.parse_auth(http)
    assert (info.kind, info.access_key_id, info.region, info.service) == ("query-v2", AK, None, None)
    assert check(http, credential(), "rest-xml") is not None
    fails("SignatureDoesNotMatch", 403, http, credential(secret="x"), "rest-xml")
    fails("AccessDenied", 403, http, credential(), "rest-xml", at=now() + dt.timedelta(hours=2))
    # response-* overrides are signed sub-resources; other parameters are not.
    fails("SignatureDoesNotMatch", 403, url_request(url.replace("attachment", "inline")), credential(),
          "rest-xml")
    assert check(url_request(url + "&x-id=GetObject"), credential(), "rest-xml") is not None


def test_sigv2_presigned_put_with_metadata_and_token():
    s3 = client("s3", token="token-1")
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "bucket1", "Key": "k", "Metadata": {"a": "b"},
                                                          "ContentType": "text/plain"})
    http = url_request(url, "PUT")
    http.headers["content-type"] = "text/plain"
    assert check(http, credential(session_token="token-1"), "rest-xml") is not None
    fails("InvalidToken", 400, http, credential(session_token="token-2"), "rest-xml")


@pytest.mark.parametrize(("operation", "params"), [
    ("create_multipart_upload", {"Bucket": "bucket1", "Key": S3_KEY}),
    ("upload_part", {"Bucket": "bucket1", "Key": "k", "PartNumber": 2, "UploadId": "u/1", "Body": b"part"}),
    ("put_object_tagging", {"Bucket": "bucket1", "Key": "k", "Tagging": {"TagSet": [{"Key": "a", "Value": "b"}]}}),
    ("get_bucket_location", {"Bucket": "bucket1"}),
    ("delete_objects", {"Bucket": "bucket1", "Delete": {"Objects": [{"Key": "a"}]}}),
    ("put_object_acl", {"Bucket": "bucket1", "Key": "k", "ACL": "private"}),
    ("put_object", {"Bucket": "bucket1", "Key": "k", "Body": b"x", "Metadata": {"m": "v"}}),
])
def test_sigv2_header_subresources(operation, params):
    http = capture(client("s3", signature_version="s3"), operation, **params)
    assert http.headers["authorization"].startswith("AWS ")
    assert check(http, credential(), "rest-xml", body=http.body.read()) is None
    http.raw_path += "x"
    fails("SignatureDoesNotMatch", 403, http, credential(), "rest-xml", body=b"")


def test_sigv2_header_virtual_host_and_skew():
    http = capture(client("s3", "http://s3.localhost:4566", signature_version="s3", s3={"addressing_style": "virtual"}),
                   "get_object", Bucket="bucket1", Key="a/b c")
    assert http.host == "bucket1.s3.localhost:4566"
    assert check(http, credential(), "rest-xml") is not None  # the bucket from the gateway's Host rule
    assert check(http, credential(), "rest-xml", s3_bucket="bucket1") is not None
    fails("SignatureDoesNotMatch", 403, http, credential(), "rest-xml", s3_bucket="bucket2")
    fails("RequestTimeTooSkewed", 403, http, credential(), "rest-xml", at=now() + dt.timedelta(minutes=20))
    fails("InvalidAccessKeyId", 403, http, None, "rest-xml")


def test_sigv2_only_for_s3():
    http = capture(client("s3", signature_version="s3"), "list_buckets")
    fails("IncompleteSignature", 400, http, credential(), "query", body=b"")


# --- clock, keys, tokens, missing and malformed auth ---------------------------------------


def test_clock_skew_per_service():
    http = capture(client("sts"), "get_caller_identity")
    body = http.body.read()
    late = now() + dt.timedelta(minutes=16)
    error = fails("SignatureDoesNotMatch", 403, http, credential(), "query", body=body, at=late)
    assert error.message.startswith("Signature expired: ") and error.message.endswith(" - 15 min.)")
    error = fails("SignatureDoesNotMatch", 403, http, credential(), "query", body=body,
                  at=now() - dt.timedelta(minutes=16))
    assert error.message.startswith("Signature not yet current: ")
    fails("InvalidSignatureException", 400, http, credential(), "json", body=body, at=late)
    assert check(http, credential(), "query", body=body, at=now() + dt.timedelta(minutes=14)) is None
    fails("SignatureDoesNotMatch", 403, http, credential(), "query", body=body, at=now() + dt.timedelta(minutes=6),
          max_skew_seconds=300)
    s3 = capture(client("s3"), "list_buckets")
    error = fails("RequestTimeTooSkewed", 403, s3, credential(), "rest-xml", at=late)
    assert error.fields["MaxAllowedSkewMilliseconds"] == "900000"


def test_temporary_credentials():
    sts = capture(client("sts", token="the-token"), "get_caller_identity")
    s3 = capture(client("s3", token="the-token"), "list_buckets")
    body = sts.body.read()
    temporary = credential(session_token="the-token", expiration=now() + dt.timedelta(hours=1))
    assert check(sts, temporary, "query", body=body) is None
    assert check(s3, temporary, "rest-xml") is not None
    other = credential(session_token="other-token")
    fails("InvalidClientTokenId", 403, sts, other, "query", body=body)
    fails("UnrecognizedClientException", 400, sts, other, "json", body=body)
    fails("InvalidToken", 400, s3, other, "rest-xml")
    expired = credential(session_token="the-token", expiration=now() - dt.timedelta(seconds=1))
    fails("ExpiredToken", 403, sts, expired, "query", body=body)
    fails("ExpiredTokenException", 400, sts, expired, "json", body=body)
    fails("ExpiredTokenException", 403, sts, expired, "rest-json", body=body)
    error = fails("ExpiredToken", 400, s3, expired, "rest-xml")
    assert error.message == "The provided token has expired."
    # A temporary key used without its token is unknown; a token with a long-term key is invalid.
    fails("InvalidAccessKeyId", 403, capture(client("s3"), "list_buckets"), temporary, "rest-xml")
    fails("InvalidToken", 400, s3, credential(), "rest-xml")


def test_missing_authentication():
    http = HttpRequest("POST", "/", "", {"host": "localhost:4566"}, BytesBody(b"Action=GetCallerIdentity"))
    info = sigv4.parse_auth(http)
    assert (info.kind, info.access_key_id, info.service) == ("anonymous", None, None)
    error = fails("MissingAuthenticationToken", 403, http, None, "query", body=b"")
    assert error.message == "Request is missing Authentication Token"
    fails("MissingAuthenticationTokenException", 400, http, None, "json", body=b"")
    fails("MissingAuthenticationTokenException", 403, http, None, "rest-json", body=b"")
    anonymous_get = HttpRequest("GET", "/bucket1/k", "", {"host": "localhost:4566"}, BytesBody(b"data"))
    assert check(anonymous_get, None, "rest-xml").read() == b"data"


@pytest.mark.parametrize(("authorization", "problem"), [
    ("AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/sts/aws4_request, SignedHeaders=host", "'Signature'"),
    ("AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/sts, SignedHeaders=host, Signature=ab", "Credential"),
    ("AWS4-HMAC-SHA256 Credential=AK/2015/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=ab",
     "Credential"),
    ("AWS4-ECDSA-P256-SHA256 Credential=AK/20150830/sts/aws4_request, SignedHeaders=host, Signature=ab",
     "Unsupported"),
])
def test_malformed_authorization_header(authorization, problem):
    http = HttpRequest("POST", "/", "", {"host": "h", "x-amz-date": "20150830T123600Z",
                                         "authorization": authorization})
    info = sigv4.parse_auth(http)  # never raises: the error's shape depends on the protocol
    assert info.problem and problem in info.problem[1]
    fails("IncompleteSignature", 400, http, credential(), "query", at=SUITE_NOW, body=b"")
    fails("IncompleteSignatureException", 400, http, credential(), "json", at=SUITE_NOW, body=b"")
    code = "InvalidArgument" if "Unsupported" in problem else "AuthorizationHeaderMalformed"
    fails(code, 400, http, credential(), "rest-xml", at=SUITE_NOW)


def test_routing_fields_from_malformed_credential():
    http = HttpRequest("POST", "/", "", {"host": "h", "authorization":
                                         "AWS4-HMAC-SHA256 Credential=AKX/20150830/ap-south-1/kinesis/aws4_request"})
    info = sigv4.parse_auth(http)
    assert (info.access_key_id, info.region, info.service) == ("AKX", "ap-south-1", "kinesis")
    assert info.problem[0] == "malformed_header"


def test_scope_date_must_match_request_date():
    http, _, _, body = load_case("get-vanilla")
    http.headers["authorization"] = http.headers["authorization"].replace("20150830", "20150829")
    error = fails("SignatureDoesNotMatch", 403, http, credential(SUITE_KEY, SUITE_SECRET), "query", at=SUITE_NOW,
                  body=body)
    assert "Date in Credential scope does not match" in error.message
    fails("AuthorizationHeaderMalformed", 400, http, credential(SUITE_KEY, SUITE_SECRET), "rest-xml",
          at=SUITE_NOW)


def test_security_token_not_in_repr():
    http = capture(client("s3", token="very-secret-token"), "list_buckets")
    assert "very-secret-token" not in repr(sigv4.parse_auth(http))


def test_signing_key_is_cached():
    sigv4.signing_key.cache_clear()
    http = capture(client("sts"), "get_caller_identity")
    body = http.body.read()
    for _ in range(3):
        check(http, credential(), "query", body=body)
    assert sigv4.signing_key.cache_info().hits == 2


@pytest.mark.parametrize(("kind", "protocol", "expected"), [
    ("unknown_key", "rest-xml", ("InvalidAccessKeyId", 403)),
    ("unknown_key", "query", ("InvalidClientTokenId", 403)),
    ("unknown_key", "json", ("UnrecognizedClientException", 400)),
    ("unknown_key", "rest-json", ("UnrecognizedClientException", 403)),
    ("bad_signature", "rest-xml", ("SignatureDoesNotMatch", 403)),
    ("bad_signature", "json", ("InvalidSignatureException", 400)),
    ("skewed", "rest-xml", ("RequestTimeTooSkewed", 403)),
    ("expired_token", "query", ("ExpiredToken", 403)),
    ("missing", "query", ("MissingAuthenticationToken", 403)),
])
def test_auth_error_table(kind, protocol, expected):
    error = sigv4.auth_error(kind, protocol)
    assert (error.code, error.status) == expected and error.message


def test_reading_the_body_on_the_event_loop_is_refused_not_hung():
    http = capture(client("kinesis"), "list_streams")

    async def on_loop():
        return check(http, credential(), "json")

    with pytest.raises(RuntimeError, match="worker thread"):
        asyncio.run(on_loop())
