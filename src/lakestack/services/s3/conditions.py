"""Conditional requests: If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since,
evaluated in RFC 7232's order, as S3 does.

GET/HEAD: https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html — a failed
If-Match or If-Unmodified-Since is 412; a matching If-None-Match or an unchanged
If-Modified-Since is 304. If-Match that holds makes If-Unmodified-Since irrelevant, and
If-None-Match present makes If-Modified-Since irrelevant.
CopyObject/UploadPartCopy's x-amz-copy-source-if-* headers answer 412 for every failure.
"""

from __future__ import annotations

import datetime as dt

from lakestack.services.s3 import errors

NOT_MODIFIED = "not-modified"


def etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    bare = etag.strip('"')
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate.strip('"') == bare:
            return True
    return False


def _seconds(value) -> int:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return int(value.timestamp())
    return int(value)


def check_read(params: dict, etag: str, last_modified: float) -> str | None:
    """None to proceed, NOT_MODIFIED for a 304; raises 412 PreconditionFailed."""
    modified = int(last_modified)  # HTTP dates have whole seconds
    if_match = params.get("IfMatch")
    if if_match is not None:
        if not etag_matches(if_match, etag):
            raise errors.precondition_failed("If-Match")
    elif params.get("IfUnmodifiedSince") is not None and modified > _seconds(params["IfUnmodifiedSince"]):
        raise errors.precondition_failed("If-Unmodified-Since")
    if_none_match = params.get("IfNoneMatch")
    if if_none_match is not None:
        if etag_matches(if_none_match, etag):
            return NOT_MODIFIED
    elif params.get("IfModifiedSince") is not None and modified <= _seconds(params["IfModifiedSince"]):
        return NOT_MODIFIED
    return None


def check_copy_source(params: dict, etag: str, last_modified: float) -> None:
    modified = int(last_modified)
    if_match = params.get("CopySourceIfMatch")
    if if_match is not None:
        if not etag_matches(if_match, etag):
            raise errors.precondition_failed("x-amz-copy-source-If-Match")
    elif (since := params.get("CopySourceIfUnmodifiedSince")) is not None and modified > _seconds(since):
        raise errors.precondition_failed("x-amz-copy-source-If-Unmodified-Since")
    if_none_match = params.get("CopySourceIfNoneMatch")
    if if_none_match is not None:
        if etag_matches(if_none_match, etag):
            raise errors.precondition_failed("x-amz-copy-source-If-None-Match")
    elif (since := params.get("CopySourceIfModifiedSince")) is not None and modified <= _seconds(since):
        raise errors.precondition_failed("x-amz-copy-source-If-Modified-Since")
