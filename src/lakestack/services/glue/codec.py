"""Catalog structures as JSON text in SQLite, round-tripping exactly.

Inputs arrive as the gateway parsed them: dicts, lists, strings, numbers, aware datetimes
(timestamps) and bytes (blobs, e.g. decimal statistics). JSON has neither of the last two,
so they are tagged; everything else is stored as given, which is what makes a storage
descriptor, SerDe info or parameter map come back byte-for-byte as it went in.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

_TS = "$ts"
_BLOB = "$b64"


def _default(value: Any):
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return {_TS: value.timestamp()}
    if isinstance(value, bytes | bytearray):
        return {_BLOB: base64.b64encode(bytes(value)).decode()}
    raise TypeError(f"cannot store {type(value).__name__}")


def _hook(obj: dict):
    if len(obj) == 1:
        if _TS in obj:
            return dt.datetime.fromtimestamp(obj[_TS], dt.UTC)
        if _BLOB in obj:
            return base64.b64decode(obj[_BLOB])
    return obj


def dumps(value: Any) -> str:
    return json.dumps(value, default=_default, separators=(",", ":"), ensure_ascii=False)


def loads(text: str | None) -> Any:
    if text is None:
        return None
    if _TS not in text and _BLOB not in text:
        return json.loads(text)  # nothing tagged: no per-object hook (GetTable's common case)
    return json.loads(text, object_hook=_hook)


def timestamp(seconds: float | None) -> dt.datetime | None:
    return None if seconds is None else dt.datetime.fromtimestamp(seconds, dt.UTC)
