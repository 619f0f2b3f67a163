"""Checking a signature, the clock, presign windows and credentials (`verify`)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote_to_bytes

from lakestack.aws.context import Credential
from lakestack.aws.request import BodyReader, HttpRequest
from lakestack.aws.sigv4.canonical import (
    _wire,
    canonical_request,
    s3_v2_resources,
    s3_v2_string_to_sign,
    signing_key,
    string_to_sign,
)
from lakestack.aws.sigv4.errors import _Check, _payload_mismatch, _signature_mismatch
from lakestack.aws.sigv4.info import (
    _HEX64,
    _MAX_PRESIGN_SECONDS,
    _STREAMING,
    STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    UNSIGNED_PAYLOAD,
    AuthInfo,
    _basic,
    _iso,
    _parse_amz_date,
    _utc,
)
from lakestack.aws.sigv4.payload import (
    AwsChunkedReader,
    PayloadReader,
    _Bytes,
    _ChunkChain,
    _Sha256CheckedReader,
)


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

    # An empty region or service in the scope (boto3's region_name="") is parsed as None for
    # routing, but was signed as the empty string.
    key = signing_key(credential.secret_access_key, scope[:8], info.region or "", info.service or "")
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
        # x-amz-date, when sent, is the request's date even if empty (then it is invalid, not
        # a reason to fall back to Date). A date before the epoch is no valid date either: S3
        # answers AccessDenied, not RequestTimeTooSkewed (s3-tests' *_bad_date_*_aws2).
        date_text = http.headers["x-amz-date"] if "x-amz-date" in http.headers else http.headers.get("date")
        try:
            request_time = _utc(parsedate_to_datetime(date_text))
            if request_time.year < 1970:
                raise ValueError(date_text)
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
        # A 400 AuthorizationQueryParametersError on S3, as MinIO, Ozone and NooBaa reproduce
        # it (s3-tests' *_x_amz_expires_out_*_range expect a 403).
        raise check.fail("malformed_query", "X-Amz-Expires must be less than a week (in seconds); that is, the "
                         "given X-Amz-Expires must be less than 604800 seconds")
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
    expected = hmac.digest(key, to_sign.encode(), "sha256").hex()  # one-shot: OpenSSL's HMAC in C
    provided = provided or ""
    return provided.isascii() and hmac.compare_digest(expected, provided)


def _reencoded_s3_path_ok(http: HttpRequest, info: AuthInfo, key: bytes, payload_hash: str) -> bool:
    """Clients may encode key characters differently from how they signed them (send '!' raw
    but sign %21); S3 compares against the key re-encoded the standard way, so accept that."""
    path = quote(unquote_to_bytes(_wire(http.raw_path)), safe="/~")
    if not http.raw_path or path == http.raw_path:
        return False
    canonical = canonical_request(http, info.signed_headers, payload_hash, s3=True,
                                  presigned=info.kind == "query-v4", path=path)
    return _signature_ok(key, string_to_sign(info.amz_date, info.scope, canonical), info.signature)


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
