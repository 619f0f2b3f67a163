"""What Invoke accepts: payload sizes for synchronous and asynchronous invocations, JSON
payloads, and the base64 JSON ClientContext.
https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
"""

from __future__ import annotations

import base64
import json

from lakestack.services.awslambda import errors

MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD = 1024 * 1024


def check_size(payload: bytes, limit: int) -> None:
    if len(payload) > limit:
        raise errors.request_too_large(limit)


def check_json(payload: bytes) -> None:
    if not payload:
        return
    try:
        json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.invalid_content(f"Could not parse request body into json: Could not parse payload into json: "
                                     f"{exc}") from None


def client_context(text: str | None) -> dict | None:
    """The ClientContext header decoded (base64 JSON); None when absent or not an object."""
    if not text:
        return None
    try:
        data = json.loads(base64.b64decode(text))
    except (ValueError, TypeError):
        raise errors.invalid_parameter("Client context must be a valid Base64-encoded JSON object.") from None
    return data if isinstance(data, dict) else None
