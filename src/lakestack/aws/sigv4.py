"""Server-side AWS request authentication.

Checks what clients sign: SigV4 in the Authorization header, SigV4 presigned query strings,
S3's aws-chunked payloads (signed chunks, or unsigned chunks with a trailing checksum) and
S3's legacy SigV2 (header and presigned query). Every failure is the error the calling
service family answers, from one table (`auth_error`).

The gateway calls `parse_auth` first (cheap: it only reads headers and query, and tells the
signing region and service used for routing), then `verify` once it knows the protocol.

Specs:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
  https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html
  https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
  https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
  https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/RESTAuthentication.html (SigV2)
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import quote, unquote_to_bytes

from lakestack.aws.context import Credential
from lakestack.aws.errors import AwsError
from lakestack.aws.request import BodyReader, HttpRequest

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
_STREAMING = (STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER)
_MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # a SigV4 signing key is only valid for seven days
_MAX_CHUNK_LINE = 4096

_HEX64 = re.compile(r"[0-9a-fA-F]{64}\Z").match
_AMZ_DATE = re.compile(r"(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z\Z").match
_NEEDS_ENCODING = re.compile(r"[^A-Za-z0-9\-_.~]").search

# The sub-resources that S3 SigV2 signs, as botocore's HmacV1Auth lists them (the clients
# decide what they sign, so the server must agree with them, not with the longer doc list).
_S3_V2_SUBRESOURCES = frozenset(
    "accelerate acl cors defaultObjectAcl location logging partNumber policy requestPayment torrent "
    "versioning versionId versions website uploads uploadId response-content-type "
    "response-content-language response-expires response-cache-control response-content-disposition "
    "response-content-encoding delete lifecycle tagging restore storageClass notification replication "
    "analytics metrics inventory select select-type object-lock".split()
)


@dataclass
class AuthInfo:
    """How a request says it is signed, as far as headers and query tell."""

    access_key_id: str | None  # None for anonymous (no auth at all)
    region: str | None  # from the credential scope (None for SigV2 / anonymous)
    service: str | None  # signing name from the scope, e.g. "s3", "sts", "kinesis"
    kind: str  # "header-v4", "query-v4", "query-v2", "header-v2", "anonymous"
    content_sha256: str | None  # x-amz-content-sha256 value if any
    # What verify() needs beyond routing, parsed once here.
    signature: str | None = None
    signed_headers: list[str] = field(default_factory=list)
    amz_date: str | None = None  # the SigV4 timestamp as signed (yyyymmddThhmmssZ)
    scope: str | None = None  # date/region/service/aws4_request
    expires: str | None = None  # X-Amz-Expires (query-v4) or Expires (query-v2), as sent
    security_token: str | None = field(default=None, repr=False)
    # (error kind, message) when the auth is malformed. verify() raises it, because only
    # then is the service's protocol (and so the error's shape) known.
    problem: tuple[str, str] | None = None


# --- errors ----------------------------------------------------------------------------

_S3_SIGNATURE_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)
_SIGNATURE_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)
_INVALID_TOKEN = "The security token included in the request is invalid."

# kind -> (code, status, message) as S3 answers.
_S3_ERRORS = {
    "missing": ("AccessDenied", 403, "Access Denied"),
    "malformed_header": ("AuthorizationHeaderMalformed", 400, "The authorization header is malformed."),
    "malformed_query": ("AuthorizationQueryParametersError", 400, "Error parsing the query parameters."),
    "malformed_v2": ("InvalidArgument", 400, "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature"),
    "malformed_v2_query": ("AccessDenied", 403, "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"),
    "unsupported": ("InvalidArgument", 400, "Unsupported Authorization Type"),
    "bad_scope_date": ("AuthorizationHeaderMalformed", 400, "The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date."),
    "unknown_key": ("InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not exist in our records."),
    "bad_token": ("InvalidToken", 400, "The provided token is malformed or otherwise invalid."),
    "expired_token": ("ExpiredToken", 400, "The provided token has expired."),
    "bad_signature": ("SignatureDoesNotMatch", 403, _S3_SIGNATURE_MESSAGE),
    "skewed": ("RequestTimeTooSkewed", 403, "The difference between the request time and the current time is too large."),
    "expired_request": ("AccessDenied", 403, "Request has expired"),
    "not_yet_valid": ("AccessDenied", 403, "Request is not yet valid"),
    "payload_mismatch": ("XAmzContentSHA256Mismatch", 400, "The provided 'x-amz-content-sha256' header does not match what was computed."),
    "missing_content_sha256": ("InvalidRequest", 400, "Missing required header for this request: x-amz-content-sha256"),
    "bad_content_sha256": ("InvalidArgument", 400, "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value."),
    "incomplete_body": ("IncompleteBody", 400, "The request body terminated unexpectedly"),
}

# kind -> (query code, query status, json / rest-json code, message) for every other service.
# The json services answer 400 for all of them and the rest-json ones 403 (as Lambda does).
_INCOMPLETE = ("IncompleteSignature", 400, "IncompleteSignatureException", "The request signature does not conform to AWS standards.")
_BAD_KEY = ("InvalidClientTokenId", 403, "UnrecognizedClientException", _INVALID_TOKEN)
_BAD_SIGNATURE = ("SignatureDoesNotMatch", 403, "InvalidSignatureException", _SIGNATURE_MESSAGE)
_OTHER_ERRORS = {
    "missing": ("MissingAuthenticationToken", 403, "MissingAuthenticationTokenException", "Request is missing Authentication Token"),
    "malformed_header": _INCOMPLETE,
    "malformed_query": _INCOMPLETE,
    "malformed_v2": _INCOMPLETE,
    "malformed_v2_query": _INCOMPLETE,
    "unsupported": _INCOMPLETE,
    "bad_scope_date": _BAD_SIGNATURE,
    "unknown_key": _BAD_KEY,
    "bad_token": _BAD_KEY,
    "expired_token": ("ExpiredToken", 403, "ExpiredTokenException", "The security token included in the request is expired"),
    "bad_signature": _BAD_SIGNATURE,
    "skewed": _BAD_SIGNATURE,
    "expired_request": _BAD_SIGNATURE,
    "not_yet_valid": _BAD_SIGNATURE,
    "payload_mismatch": _BAD_SIGNATURE,
    "missing_content_sha256": _BAD_SIGNATURE,
    "bad_content_sha256": _BAD_SIGNATURE,
    "incomplete_body": ("IncompleteBody", 400, "IncompleteBody", "The request body terminated unexpectedly"),
}


def auth_error(kind: str, service_protocol: str, service: str | None = None, *, message: str | None = None,
               **s3_fields) -> AwsError:
    """The error a service answers for the authentication failure `kind` (a key of the
    tables above). The protocol family decides; S3 (rest-xml) has its own codes.

    `s3_fields` are the extra members S3 puts in its error document (AWSAccessKeyId,
    StringToSign, RequestTime, …); the other services have no such members.
    """
    if service_protocol == "rest-xml" or service == "s3":
        code, status, default = _S3_ERRORS[kind]
        if message and kind == "malformed_header":
            message = f"The authorization header is malformed; {message}"
        return AwsError(code, message or default, status, **s3_fields)
    query_code, query_status, json_code, default = _OTHER_ERRORS[kind]
    if service_protocol == "query":
        return AwsError(query_code, message or default, query_status)
    return AwsError(json_code, message or default, 403 if service_protocol == "rest-json" else 400)


# --- parsing -----------------------------------------------------------------------------


def parse_auth(http: HttpRequest) -> AuthInfo:
    """Find the signing scheme, key id, region and service. Never raises: a malformed
    signature is recorded in `problem` and raised by `verify` in the service's error shape."""
    headers = http.headers
    authorization = headers.get("authorization")
    if authorization:
        if authorization.startswith(ALGORITHM + " "):
            return _parse_v4_header(http, authorization)
        if authorization.startswith("AWS "):
            return _parse_v2_header(http, authorization)
        return AuthInfo(None, None, None, "header-v4", headers.get("x-amz-content-sha256"),
                        problem=("unsupported", "Unsupported Authorization Type"))
    qs = http.query_string
    # Substring tests first: parsing the query of every unsigned request would be waste.
    if "X-Amz-Credential=" in qs or "X-Amz-Signature=" in qs or "X-Amz-Algorithm=" in qs:
        return _parse_v4_query(http)
    if "AWSAccessKeyId=" in qs:
        return _parse_v2_query(http)
    return AuthInfo(None, None, None, "anonymous", headers.get("x-amz-content-sha256"))


def _parse_v4_header(http: HttpRequest, authorization: str) -> AuthInfo:
    headers = http.headers
    params = {}
    for part in authorization[len(ALGORITHM) + 1 :].split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            params[name] = value.strip()
    info = AuthInfo(None, None, None, "header-v4", headers.get("x-amz-content-sha256"),
                    signature=params.get("Signature"),
                    signed_headers=_signed_header_list(params.get("SignedHeaders", "")),
                    security_token=headers.get("x-amz-security-token"))
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if name not in params]
    if missing:
        info.problem = ("malformed_header", " ".join(
            f"Authorization header requires '{name}' parameter." for name in missing
        ) + f" Authorization={authorization}")
    _read_scope(info, params.get("Credential"), "malformed_header")
    amz_date = headers.get("x-amz-date")
    if amz_date is None and "date" in headers:
        # SigV4 allows the Date header instead; the string to sign then carries it in ISO form.
        try:
            amz_date = _basic(parsedate_to_datetime(headers["date"]))
        except (TypeError, ValueError):
            amz_date = ""
    _read_date(info, amz_date, "malformed_header")
    return info


def _parse_v4_query(http: HttpRequest) -> AuthInfo:
    query = http.query_dict
    info = AuthInfo(None, None, None, "query-v4", query.get("X-Amz-Content-Sha256"),
                    signature=query.get("X-Amz-Signature"),
                    signed_headers=_signed_header_list(query.get("X-Amz-SignedHeaders", "")),
                    expires=query.get("X-Amz-Expires"),
                    security_token=query.get("X-Amz-Security-Token"))
    required = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders")
    if any(name not in query for name in required):
        info.problem = ("malformed_query", "Query-string authentication version 4 requires the X-Amz-Algorithm, "
                        "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
                        "X-Amz-Expires parameters.")
    elif query["X-Amz-Algorithm"] != ALGORITHM:
        info.problem = ("malformed_query", f'X-Amz-Algorithm only supports "{ALGORITHM}"')
    _read_scope(info, query.get("X-Amz-Credential"), "malformed_query")
    if info.service == "s3":
        if info.expires is None:
            info.problem = info.problem or ("malformed_query", "Query-string authentication version 4 requires "
                                            "the X-Amz-Expires parameter.")
        # S3 presigned URLs cannot know the payload: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
        info.content_sha256 = info.content_sha256 or UNSIGNED_PAYLOAD
    _read_date(info, query.get("X-Amz-Date", ""), "malformed_query")
    return info


def _parse_v2_header(http: HttpRequest, authorization: str) -> AuthInfo:
    access_key, sep, signature = authorization[4:].strip().rpartition(":")
    info = AuthInfo(access_key or None, None, None, "header-v2", http.headers.get("x-amz-content-sha256"),
                    signature=signature, security_token=http.headers.get("x-amz-security-token"))
    if not sep or not access_key or not signature:
        info.problem = ("malformed_v2", "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature")
    return info


def _parse_v2_query(http: HttpRequest) -> AuthInfo:
    query = http.query_dict
    # A '+' of the base64 signature that the client left unencoded was decoded to ' '.
    signature = query.get("Signature", "").replace(" ", "+")
    token = next((v for k, v in query.items() if k.lower() == "x-amz-security-token"), None)
    info = AuthInfo(query.get("AWSAccessKeyId") or None, None, None, "query-v2", None,
                    signature=signature, expires=query.get("Expires"), security_token=token)
    if not (info.access_key_id and signature and info.expires):
        info.problem = ("malformed_v2_query", "Query-string authentication requires the Signature, Expires and "
                        "AWSAccessKeyId parameters")
    return info


def _signed_header_list(value: str) -> list[str]:
    return [name.strip().lower() for name in value.split(";") if name.strip()]


def _read_scope(info: AuthInfo, credential: str | None, kind: str) -> None:
    if credential is None:
        return
    parts = credential.split("/")
    info.access_key_id = parts[0] or None
    if len(parts) == 5:
        info.region, info.service = parts[2] or None, parts[3] or None
    if len(parts) != 5 or not parts[1].isdigit() or len(parts[1]) != 8 or parts[4] != "aws4_request":
        info.problem = info.problem or (kind, 'the Credential is mal-formed; expecting '
                                        '"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".')
        return
    info.scope = "/".join(parts[1:])


def _read_date(info: AuthInfo, amz_date: str | None, kind: str) -> None:
    if not amz_date:
        info.problem = info.problem or (kind, "Authorization header requires existence of either a "
                                        "'X-Amz-Date' or a 'Date' header.")
    elif not _AMZ_DATE(amz_date):
        info.problem = info.problem or (kind, "X-Amz-Date must be in the ISO8601 Long Format "
                                        "\"yyyyMMdd'T'HHmmss'Z'\"")
    else:
        info.amz_date = amz_date


# --- canonical forms -------------------------------------------------------------------


def canonical_request(http: HttpRequest, signed_headers: list[str], payload_hash: str, *,
                      s3: bool = False, presigned: bool = False, path: str | None = None) -> str:
    """The SigV4 canonical request of `http` as received."""
    if path is None:
        path = canonical_uri(http.raw_path, s3=s3)
    query = canonical_query(http.query_string, drop="X-Amz-Signature" if presigned else None)
    headers = http.headers
    # Trimall: values trimmed and inner whitespace runs collapsed to one space.
    lines = [f"{name}:{' '.join(headers.get(name, '').split())}" for name in signed_headers]
    return "\n".join([http.method.upper(), path, query, *lines, "", ";".join(signed_headers), payload_hash])


def canonical_uri(raw_path: str, *, s3: bool = False) -> str:
    """S3 signs the path as sent (each key character encoded once, no normalization); every
    other service signs the normalized path, URI-encoded once more (so %2F becomes %252F)."""
    if not raw_path:
        return "/"
    if s3:
        return raw_path
    return quote(_wire(_remove_dot_segments(raw_path)), safe="/~")


def canonical_query(query_string: str, drop: str | None = None) -> str:
    """Query parameters sorted by encoded name then value, each re-encoded per RFC 3986."""
    if not query_string:
        return ""
    pairs = []
    for part in query_string.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        name = _uri_encode(name)
        if name != drop:
            pairs.append((name, _uri_encode(value)))
    pairs.sort()
    return "&".join(f"{name}={value}" for name, value in pairs)


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    digest = hashlib.sha256(_wire(canonical)).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


@lru_cache(maxsize=1024)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The derived key: four HMACs, the same for a whole day, so cached."""
    key = _hmac(("AWS4" + secret).encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def s3_v2_resources(raw_path: str, bucket: str | None = None) -> list[str]:
    """The canonical resource paths a SigV2 signer may have used, likeliest first.

    `bucket` is the bucket of a virtual-hosted-style request, which the resource names
    although the path does not. A bare bucket is "/bucket/" (botocore signs its auth_path
    that way even when it sends "/bucket"), but a signer may also have signed the path as sent.
    """
    path = raw_path or "/"
    if bucket:
        path = f"/{bucket}{path}"
    if path.count("/") == 1 and len(path) > 1:
        return [path + "/", path]
    return [path]


def s3_v2_string_to_sign(http: HttpRequest, date_line: str, resource: str, *, presigned: bool = False) -> str:
    """S3's SigV2 string to sign, for the canonical resource path `resource`."""
    headers = http.headers
    amz = {name: value.strip() for name, value in headers.items() if name.startswith("x-amz-")}
    content_md5, content_type = headers.get("content-md5", ""), headers.get("content-type", "")
    if presigned:
        # A presigned URL carries the signed x-amz-* headers, Content-Type and Content-MD5 as
        # query parameters (botocore's HmacV1QueryAuth puts them there).
        for name, value in http.query:
            lname, value = name.lower(), value.encode("utf-8").decode("latin-1")  # see _wire
            if lname.startswith("x-amz-"):
                amz[lname] = value
            elif lname == "content-type":
                content_type = value
            elif lname == "content-md5":
                content_md5 = value
    amz_lines = "".join(f"{name}:{amz[name]}\n" for name in sorted(amz))
    subresources = []
    for part in http.query_string.split("&") if http.query_string else ():
        name, sep, value = part.partition("=")
        if name in _S3_V2_SUBRESOURCES:
            subresources.append((name, f"{name}={_unquote(value)}" if sep else name))
    if subresources:
        subresources.sort()
        resource += "?" + "&".join(text for _, text in subresources)
    return f"{http.method.upper()}\n{content_md5}\n{content_type}\n{date_line}\n{amz_lines}{resource}"


def _uri_encode(text: str) -> str:
    if not _NEEDS_ENCODING(text):
        return text
    # '+' in a query means a space (form encoding); SigV4 encodes a space as %20.
    return quote(unquote_to_bytes(_wire(text.replace("+", " "))), safe="-_.~")


def _unquote(text: str) -> str:
    """Percent-decoded, still in the latin-1 convention of `_wire`."""
    return unquote_to_bytes(_wire(text)).decode("latin-1")


def _wire(text: str) -> bytes:
    """The bytes a request string came from. The gateway decodes the wire as latin-1 (as
    ASGI servers do), which this reverses exactly; a string holding characters beyond
    latin-1 can only have been decoded as UTF-8."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _remove_dot_segments(path: str) -> str:
    # RFC 3986 5.2.4, plus the empty segments AWS also drops (botocore's normalize_url_path).
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    trailing = "/" if path.endswith("/") and segments else ""
    return "/" + "/".join(segments) + trailing


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


# --- verification ----------------------------------------------------------------------


@dataclass
class _Check:
    protocol: str
    now: datetime
    max_skew: int

    @property
    def s3(self) -> bool:
        return self.protocol == "rest-xml"

    def fail(self, kind: str, message: str | None = None, **s3_fields) -> AwsError:
        return auth_error(kind, self.protocol, message=message, **s3_fields)


def verify(http: HttpRequest, info: AuthInfo, credential: Credential | None, *, service_protocol: str,
           now: datetime, max_skew_seconds: int = 900, body: bytes | None = None,
           s3_bucket: str | None = None) -> BodyReader | None:
    """Check the request's signature against `credential` (None: unknown key).

    With `body` bytes (non-streaming services) the payload is checked here and None is
    returned. Otherwise the answer is a `PayloadReader` over `http.body` that checks the
    payload while it is read and raises at EOF at the latest, so a provider that reads to
    EOF before committing never commits a tampered payload. `s3_bucket` is the bucket of a
    virtual-hosted-style S3 request (SigV2 signs it; SigV4 does not need it).
    """
    check = _Check(service_protocol, _utc(now), max_skew_seconds)
    if info.problem:
        kind, message = info.problem
        raise check.fail(kind, message)
    if info.kind == "anonymous":
        if not check.s3:
            raise check.fail("missing")
        # S3 serves anonymous callers; the bucket policy decides.
        return None if body is not None else PayloadReader(http.body, _decoded_length(http))
    if info.kind in ("header-v2", "query-v2"):
        return _verify_v2(http, info, credential, check, body, s3_bucket)
    return _verify_v4(http, info, credential, check, body)


def _verify_v4(http: HttpRequest, info: AuthInfo, credential: Credential | None, check: _Check,
               body: bytes | None) -> BodyReader | None:
    amz_date, scope = info.amz_date, info.scope
    request_time = _parse_amz_date(amz_date)
    if info.kind == "query-v4" and info.expires is not None:
        _check_presign_window(info, request_time, check)
    else:
        _check_skew(amz_date, request_time, check)
    if scope[:8] != amz_date[:8]:
        raise check.fail("bad_scope_date", f"Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                         f"version of date from HTTP: '{scope[:8]}' != '{amz_date[:8]}', from '{amz_date}'.")
    _check_credential(info, credential, check)

    claimed = info.content_sha256 if info.kind == "query-v4" else http.headers.get("x-amz-content-sha256")
    if claimed is None and check.s3 and info.kind == "header-v4":
        raise check.fail("missing_content_sha256")
    if claimed is not None and claimed not in (UNSIGNED_PAYLOAD, *_STREAMING) and not _HEX64(claimed):
        raise check.fail("bad_content_sha256")
    data = body
    if claimed is None:
        # Other services sign the body's hash without sending it: the body must be read first.
        if data is None:
            data = _read_all(http.body)
        payload_hash = hashlib.sha256(data).hexdigest()
    else:
        payload_hash = claimed

    key = signing_key(credential.secret_access_key, scope[:8], info.region, info.service)
    canonical = canonical_request(http, info.signed_headers, payload_hash, s3=check.s3,
                                  presigned=info.kind == "query-v4")
    to_sign = string_to_sign(amz_date, scope, canonical)
    if not _signature_ok(key, to_sign, info.signature) and not (
            check.s3 and _reencoded_s3_path_ok(http, info, key, payload_hash)):
        raise _signature_mismatch(check, info, canonical, to_sign)

    if claimed is None:
        return None if body is not None else PayloadReader(_Bytes(data), _decoded_length(http))
    if claimed in _STREAMING:
        source = _Bytes(body) if body is not None else http.body
        chain = None
        if claimed != STREAMING_UNSIGNED_TRAILER:
            chain = _ChunkChain(key, amz_date, scope, info.signature, check)
        return AwsChunkedReader(source, _decoded_length(http), chain,
                                trailer_signed=claimed == STREAMING_SIGNED_TRAILER, check=check)
    if claimed == UNSIGNED_PAYLOAD:
        return None if body is not None else PayloadReader(http.body, _decoded_length(http))
    if body is not None:
        computed = hashlib.sha256(body).hexdigest()
        if computed != claimed.lower():
            raise _payload_mismatch(check, claimed, computed)
        return None
    return _Sha256CheckedReader(http.body, _decoded_length(http), claimed.lower(), check)


def _verify_v2(http: HttpRequest, info: AuthInfo, credential: Credential | None, check: _Check,
               body: bytes | None, bucket: str | None) -> BodyReader | None:
    if not check.s3:
        raise check.fail("unsupported")  # only S3 still accepts SigV2 among lakestack's services
    if info.kind == "query-v2":
        try:
            expires = datetime.fromtimestamp(int(info.expires), UTC)
        except (ValueError, OverflowError, OSError):
            raise check.fail("malformed_v2_query") from None
        if check.now > expires:
            raise check.fail("expired_request", Expires=_iso(expires), ServerTime=_iso(check.now))
        date_line = info.expires
    else:
        date_text = http.headers.get("x-amz-date") or http.headers.get("date")
        try:
            request_time = _utc(parsedate_to_datetime(date_text))
        except (TypeError, ValueError):
            raise check.fail("missing", "AWS authentication requires a valid Date or x-amz-date header") from None
        _check_skew(date_text, request_time, check)
        # With x-amz-date the Date line is empty; x-amz-date is signed among the x-amz- headers.
        date_line = "" if "x-amz-date" in http.headers else date_text
    _check_credential(info, credential, check)
    if bucket is None:
        from lakestack.aws.routing import s3_virtual_host_bucket  # the gateway's own rule

        bucket = s3_virtual_host_bucket(http.host)
    candidates = [s3_v2_string_to_sign(http, date_line, resource, presigned=info.kind == "query-v2")
                  for resource in s3_v2_resources(http.raw_path, bucket)]
    secret, provided = credential.secret_access_key.encode(), info.signature.encode()
    if not any(hmac.compare_digest(base64.b64encode(hmac.new(secret, _wire(to_sign), hashlib.sha1).digest()),
                                   provided) for to_sign in candidates):
        raise check.fail("bad_signature", AWSAccessKeyId=info.access_key_id, StringToSign=candidates[0],
                         SignatureProvided=info.signature)
    # SigV2 does not cover the payload; Content-MD5, if sent, is the provider's to check.
    return None if body is not None else PayloadReader(http.body, _decoded_length(http))


def _check_skew(date_text: str, request_time: datetime, check: _Check) -> None:
    now, skew = check.now, check.max_skew
    delta = (request_time - now).total_seconds()
    if abs(delta) <= skew:
        return
    if check.s3:
        raise check.fail("skewed", RequestTime=date_text, ServerTime=_iso(now),
                         MaxAllowedSkewMilliseconds=str(skew * 1000))
    window = timedelta(seconds=skew)
    if delta < 0:
        message = (f"Signature expired: {date_text} is now earlier than {_basic(now - window)} "
                   f"({_basic(now)} - {skew // 60} min.)")
    else:
        message = (f"Signature not yet current: {date_text} is still later than {_basic(now + window)} "
                   f"({_basic(now)} + {skew // 60} min.)")
    raise check.fail("skewed", message)


def _check_presign_window(info: AuthInfo, request_time: datetime, check: _Check) -> None:
    try:
        seconds = int(info.expires)
    except ValueError:
        raise check.fail("malformed_query", "X-Amz-Expires should be a number") from None
    if seconds < 0:
        raise check.fail("malformed_query", "X-Amz-Expires must be non-negative")
    if seconds > _MAX_PRESIGN_SECONDS:
        raise check.fail("malformed_query", "X-Amz-Expires must be less than a week (in seconds) that is; "
                         "604800 seconds")
    now = check.now
    if request_time - now > timedelta(seconds=check.max_skew):
        raise check.fail("not_yet_valid", None if check.s3 else f"Signature not yet current: {info.amz_date} is "
                         f"still later than {_basic(now + timedelta(seconds=check.max_skew))}")
    expires = request_time + timedelta(seconds=seconds)
    if now > expires:
        raise check.fail("expired_request", None if check.s3 else f"Signature expired: {info.amz_date} is now "
                         f"earlier than {_basic(now - timedelta(seconds=seconds))} ({_basic(now)} - {seconds} sec.)",
                         **{"X-Amz-Expires": str(seconds), "Expires": _iso(expires), "ServerTime": _iso(now)})


def _check_credential(info: AuthInfo, credential: Credential | None, check: _Check) -> None:
    if credential is None or not credential.active:
        raise check.fail("unknown_key", AWSAccessKeyId=info.access_key_id)
    token = info.security_token
    if credential.session_token:
        if not token:  # a temporary key without its token is no key at all
            raise check.fail("unknown_key", AWSAccessKeyId=info.access_key_id)
        if not hmac.compare_digest(token.encode(), credential.session_token.encode()):
            raise check.fail("bad_token")
    elif token:
        raise check.fail("bad_token")
    if credential.expiration is not None and _utc(credential.expiration) <= check.now:
        raise check.fail("expired_token")


def _signature_ok(key: bytes, to_sign: str, provided: str | None) -> bool:
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), (provided or "").encode())


def _reencoded_s3_path_ok(http: HttpRequest, info: AuthInfo, key: bytes, payload_hash: str) -> bool:
    """Clients may encode key characters differently from how they signed them (send '!' raw
    but sign %21); S3 compares against the key re-encoded the standard way, so accept that."""
    path = quote(unquote_to_bytes(_wire(http.raw_path)), safe="/~")
    if not http.raw_path or path == http.raw_path:
        return False
    canonical = canonical_request(http, info.signed_headers, payload_hash, s3=True,
                                  presigned=info.kind == "query-v4", path=path)
    return _signature_ok(key, string_to_sign(info.amz_date, info.scope, canonical), info.signature)


def _signature_mismatch(check: _Check, info: AuthInfo, canonical: str, to_sign: str) -> AwsError:
    if check.s3:
        return check.fail("bad_signature", AWSAccessKeyId=info.access_key_id, StringToSign=to_sign,
                          SignatureProvided=info.signature, CanonicalRequest=canonical)
    # The other services tell what they signed, which is how users debug their signers.
    return check.fail("bad_signature", f"{_SIGNATURE_MESSAGE}\n\nThe Canonical String for this request should "
                      f"have been\n'{canonical}'\n\nThe String-to-Sign should have been\n'{to_sign}'\n")


def _payload_mismatch(check: _Check, claimed: str, computed: str) -> AwsError:
    return check.fail("payload_mismatch", ClientComputedContentSHA256=claimed, S3ComputedContentSHA256=computed)


def _read_all(body: BodyReader) -> bytes:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return body.read()
    # A blocking read of an ASGI body on the event loop's own thread would wait forever.
    raise RuntimeError("sigv4.verify must read this body: pass body= or call it from a worker thread")


def _decoded_length(http: HttpRequest) -> int | None:
    value = http.headers.get("x-amz-decoded-content-length")
    return int(value) if value and value.isdigit() else None


def _parse_amz_date(text: str) -> datetime:
    return datetime(*map(int, _AMZ_DATE(text).groups()), tzinfo=UTC)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _basic(moment: datetime) -> str:
    return _utc(moment).strftime("%Y%m%dT%H%M%SZ")


def _iso(moment: datetime) -> str:
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- payload readers -------------------------------------------------------------------


class PayloadReader(BodyReader):
    """The payload as the provider should read it, once the request is authenticated.

    `trailers` holds the aws-chunked trailing headers (e.g. x-amz-checksum-crc32), complete
    once read() has reached EOF; `decoded_content_length` is x-amz-decoded-content-length.
    """

    def __init__(self, source: BodyReader, decoded_content_length: int | None = None) -> None:
        super().__init__()
        self._source = source
        self.trailers: dict[str, str] = {}
        self.decoded_content_length = decoded_content_length

    def _next_chunk(self) -> bytes:
        return self._source.read_chunk()


class _Bytes(BodyReader):
    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._data = data

    def _next_chunk(self) -> bytes:
        data, self._data = self._data, b""
        return data


class _Sha256CheckedReader(PayloadReader):
    """Hashes as the provider reads; at EOF the payload must match x-amz-content-sha256."""

    def __init__(self, source: BodyReader, decoded_content_length: int | None, expected: str,
                 check: _Check) -> None:
        super().__init__(source, decoded_content_length)
        self._hash = hashlib.sha256()
        self._expected = expected
        self._check = check

    def _next_chunk(self) -> bytes:
        chunk = self._source.read_chunk()
        if chunk:
            self._hash.update(chunk)
            return chunk
        computed = self._hash.hexdigest()
        if computed != self._expected:
            raise _payload_mismatch(self._check, self._expected, computed)
        return b""


class _ChunkChain:
    """The signature chain of a signed aws-chunked payload: each chunk's signature signs
    its data and the previous signature, starting from the request's (seed) signature."""

    def __init__(self, key: bytes, amz_date: str, scope: str, seed: str, check: _Check) -> None:
        self._key = key
        self._head = f"{amz_date}\n{scope}\n"
        self._previous = seed
        self._check = check
        self._hash = hashlib.sha256()

    def begin(self) -> None:
        self._hash = hashlib.sha256()

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def check_chunk(self, provided: str) -> None:
        self._previous = self._verify(
            f"AWS4-HMAC-SHA256-PAYLOAD\n{self._head}{self._previous}\n{EMPTY_SHA256}\n{self._hash.hexdigest()}",
            provided)

    def check_trailer(self, canonical_trailers: bytes, provided: str) -> None:
        digest = hashlib.sha256(canonical_trailers).hexdigest()
        self._verify(f"AWS4-HMAC-SHA256-TRAILER\n{self._head}{self._previous}\n{digest}", provided)

    def _verify(self, to_sign: str, provided: str) -> str:
        expected = hmac.new(self._key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), provided.encode()):
            raise self._check.fail("bad_signature", StringToSign=to_sign, SignatureProvided=provided)
        return expected


class AwsChunkedReader(PayloadReader):
    """Decodes `Content-Encoding: aws-chunked` framing while the provider reads:

        <hex size>[;chunk-signature=<sig>]\\r\\n<data>\\r\\n … 0[;chunk-signature=<sig>]\\r\\n
        [<trailer name>:<value>\\r\\n …][x-amz-trailer-signature:<sig>\\r\\n]\\r\\n

    Chunk data is passed on as it arrives (hashed incrementally, never buffered whole); a
    bad chunk signature raises when that chunk's last byte is read, before EOF.
    """

    def __init__(self, source: BodyReader, decoded_content_length: int | None, chain: _ChunkChain | None, *,
                 trailer_signed: bool, check: _Check) -> None:
        super().__init__(source, decoded_content_length)
        self._chain = chain
        self._trailer_signed = trailer_signed
        self._check = check
        self._raw = bytearray()  # received but not yet decoded
        self._left = 0  # data bytes still to come in the current chunk
        self._chunk_signature = ""
        self._decoded = 0
        self._done = False

    def _next_chunk(self) -> bytes:
        while not self._done:
            if self._left:
                data = self._take(self._left)
                self._left -= len(data)
                self._decoded += len(data)
                if self._chain:
                    self._chain.update(data)
                if not self._left:
                    if self._chain:
                        self._chain.check_chunk(self._chunk_signature)
                    if self._line() != b"":  # the CRLF closing the chunk's data
                        raise self._incomplete()
                return data
            size = self._chunk_header()
            if size:
                self._left = size
            else:
                # The final, empty chunk has no data CRLF of its own: the trailer section
                # (possibly empty) follows, ended by a blank line.
                if self._chain:
                    self._chain.check_chunk(self._chunk_signature)
                self._read_trailers()
                self._done = True
        return b""

    def _chunk_header(self) -> int:
        line = self._line()
        if line is None:
            raise self._incomplete()
        size_text, _, extension = line.partition(b";")
        try:
            size = int(size_text, 16)
        except ValueError:
            raise self._incomplete() from None
        if size < 0:
            raise self._incomplete()
        if self._chain:
            name, _, signature = extension.partition(b"=")
            if name.strip() != b"chunk-signature":
                raise self._check.fail("bad_signature", "The chunk has no chunk-signature.")
            self._chunk_signature = signature.strip().decode("latin-1")
            self._chain.begin()
        return size

    def _read_trailers(self) -> None:
        canonical = bytearray()
        trailer_signature = None
        while True:
            line = self._line()
            if not line:  # the blank line ending the trailers, or EOF (some clients omit it)
                break
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep:
                raise self._incomplete()
            name, value = name.strip().lower(), value.strip()
            if name == "x-amz-trailer-signature":
                trailer_signature = value
            else:
                self.trailers[name] = value
                canonical += f"{name}:{value}\n".encode("latin-1")
        if self._trailer_signed:
            if trailer_signature is None:
                raise self._check.fail("bad_signature", "The trailer has no x-amz-trailer-signature.")
            self._chain.check_trailer(bytes(canonical), trailer_signature)
        if self.decoded_content_length is not None and self._decoded != self.decoded_content_length:
            raise self._check.fail("incomplete_body", "You did not provide the number of bytes specified by the "
                                   "x-amz-decoded-content-length HTTP header")

    def _take(self, n: int) -> bytes:
        """Up to `n` (at least one) bytes of chunk data."""
        if self._raw:
            data = bytes(self._raw[:n])
            del self._raw[:n]
            return data
        chunk = self._source.read_chunk()
        if not chunk:
            raise self._incomplete()
        if len(chunk) <= n:
            return chunk  # the common case: no copy
        self._raw += memoryview(chunk)[n:]
        return chunk[:n]

    def _line(self) -> bytes | None:
        """The next line without its CRLF; None at EOF."""
        while True:
            end = self._raw.find(b"\n")
            if end >= 0:
                line = bytes(self._raw[:end])
                del self._raw[: end + 1]
                return line[:-1] if line.endswith(b"\r") else line
            if len(self._raw) > _MAX_CHUNK_LINE:
                raise self._incomplete()
            chunk = self._source.read_chunk()
            if not chunk:
                if not self._raw:
                    return None
                line = bytes(self._raw)
                self._raw.clear()
                return line
            self._raw += chunk

    def _incomplete(self) -> AwsError:
        return self._check.fail("incomplete_body")
