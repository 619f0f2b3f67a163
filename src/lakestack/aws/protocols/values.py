"""Scalar conversions shared by every protocol: timestamps, blobs, numbers."""

from __future__ import annotations

import base64
import datetime as dt
from email.utils import format_datetime, parsedate_to_datetime

from botocore.utils import parse_timestamp

try:  # SIMD base64, ~5x the standard library: blobs (Kinesis records) are on the hot path
    import pybase64 as _b64
except ImportError:  # pragma: no cover
    _b64 = base64

UTC = dt.UTC


def to_datetime(value) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, UTC)
    text = str(value)
    try:
        return dt.datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text).astimezone(UTC)
    except (TypeError, ValueError):
        pass
    parsed = parse_timestamp(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_timestamp(value, fmt: str) -> str | float:
    """fmt is botocore's timestampFormat: iso8601, rfc822 or unixTimestamp."""
    when = to_datetime(value).astimezone(UTC)
    if fmt == "rfc822":
        return format_datetime(when, usegmt=True)
    if fmt == "unixTimestamp":
        return round(when.timestamp(), 3)
    # ISO 8601 with milliseconds, as AWS writes it.
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def b64encode(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return _b64.b64encode(data).decode()


def b64decode(text: str) -> bytes:
    return _b64.b64decode(text)


def parse_scalar(shape, text: str):
    """A scalar from its string form (query string, header, XML text)."""
    t = shape.type_name
    if t in ("integer", "long"):
        return int(text)
    if t in ("float", "double"):
        return float(text)
    if t == "boolean":
        if text.lower() not in ("true", "false"):
            raise ValueError(f"invalid boolean {text!r}")
        return text.lower() == "true"
    if t == "timestamp":
        return to_datetime(text)
    if t == "blob":
        return b64decode(text)
    return text


def scalar_text(shape, value, timestamp_format: str = "iso8601") -> str:
    t = shape.type_name
    if t == "boolean":
        return "true" if value else "false"
    if t == "timestamp":
        return str(format_timestamp(value, shape.serialization.get("timestampFormat", timestamp_format)))
    if t == "blob":
        return b64encode(value)
    if t in ("float", "double") and isinstance(value, float) and value.is_integer():
        return str(value)
    return str(value)
