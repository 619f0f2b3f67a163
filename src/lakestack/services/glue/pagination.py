"""Opaque NextTokens: the position after the last item returned, base64 JSON."""

from __future__ import annotations

import base64
import binascii
import json

from lakestack.services.glue.errors import invalid_input


def encode(position) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode()


def decode(token: str | None):
    """The position a token stands for, or None for the first page."""
    if not token:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid_input("Invalid pagination token") from None


def page_size(params: dict, default: int, maximum: int) -> int:
    size = params.get("MaxResults") or default
    return max(1, min(size, maximum))
