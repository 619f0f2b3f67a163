"""What a request says about how it is signed (AuthInfo), SigV4 constants and timestamps."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

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


@lru_cache(maxsize=64)  # one value per second of requests
def _parse_amz_date(text: str) -> datetime:
    return datetime(*map(int, _AMZ_DATE(text).groups()), tzinfo=UTC)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _basic(moment: datetime) -> str:
    return _utc(moment).strftime("%Y%m%dT%H%M%SZ")


def _iso(moment: datetime) -> str:
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")
