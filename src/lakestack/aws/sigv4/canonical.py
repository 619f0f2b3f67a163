"""The canonical request, string to sign and signing key of SigV4, and SigV2's string to sign."""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache
from urllib.parse import quote, unquote_to_bytes

from lakestack.aws.request import HttpRequest
from lakestack.aws.sigv4.info import _NEEDS_ENCODING, _S3_V2_SUBRESOURCES, ALGORITHM


def canonical_request(http: HttpRequest, signed_headers: list[str], payload_hash: str, *,
                      s3: bool = False, presigned: bool = False, path: str | None = None) -> str:
    """The SigV4 canonical request of `http` as received."""
    if path is None:
        path = canonical_uri(http.raw_path, s3=s3)
    query = canonical_query(http.query_string, drop="X-Amz-Signature" if presigned else None)
    headers = http.headers
    # Trimall: values trimmed and inner whitespace runs collapsed to one space. HTTP/2 clients
    # (the AWS SDK for JavaScript v3's NodeHttp2Handler) sign the `:authority` pseudo-header
    # instead of `host`; an HTTP/2 server hands its value over as `host` (RFC 9113 §8.3.1).
    lines = [f"{name}:{' '.join(headers.get('host' if name == ':authority' else name, '').split())}"
             for name in signed_headers]
    return "\n".join([http.method.upper(), path, query, *lines, "", ";".join(signed_headers), payload_hash])


def canonical_uri(raw_path: str, *, s3: bool = False) -> str:
    """S3 signs the path as sent (each key character encoded once, no normalization); every
    other service signs the normalized path, URI-encoded once more (so %2F becomes %252F)."""
    if not raw_path or raw_path == "/":  # every JSON and query protocol call
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
