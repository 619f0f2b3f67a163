"""HTTP Range requests on objects (one range; S3 ignores multi-range requests).

https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html#API_GetObject_RequestSyntax
https://www.rfc-editor.org/rfc/rfc9110#name-range-requests
"""

from __future__ import annotations

import re

from lakestack.services.s3 import errors

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def parse(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) inclusive, or None to send the whole object. Raises InvalidRange (416)
    when the range is well-formed but lies outside the object."""
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:  # unparseable or several ranges: answered with the whole object
        return None
    first_text, last_text = match.groups()
    if not first_text:
        if not last_text:
            return None
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise errors.invalid_range(header, size)
        return max(0, size - suffix), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if last_text and last < first:
        return None  # syntactically invalid: ignored, as RFC 9110 says
    if first >= size:
        raise errors.invalid_range(header, size)
    return first, min(last, size - 1)


def copy_source_range(header: str, size: int) -> tuple[int, int]:
    """x-amz-copy-source-range for UploadPartCopy: must be `bytes=first-last` inside the object."""
    match = _RANGE.fullmatch(header.strip())
    if match is None or not match.group(1) or not match.group(2):
        raise errors.invalid_argument("The x-amz-copy-source-range value must be of the form "
                                      "bytes=first-last where first and last are the zero-based offsets "
                                      "of the first and last bytes to copy",
                                      "x-amz-copy-source-range", header)
    first, last = int(match.group(1)), int(match.group(2))
    if first > last or last >= size:
        raise errors.invalid_argument(f"Range specified is not valid for source object of size: {size}",
                                      "x-amz-copy-source-range", header)
    return first, last
