"""AWS event streams (`application/vnd.amazon.eventstream`): the binary framing that
SubscribeToShard, S3 SelectObjectContent, Transcribe streaming and friends answer with.

A message is a prelude (total length, headers length, CRC32 of those 8 bytes), the
headers, the payload, and a CRC32 of everything before it. Header values here are
strings (type 7), which is all the response side needs (`:message-type`, `:event-type`,
`:exception-type`, `:content-type`, `:error-code`, `:error-message`).

https://docs.aws.amazon.com/AmazonS3/latest/API/RESTSelectObjectAppendix.html
"""

from __future__ import annotations

import struct
import zlib

CONTENT_TYPE = "application/vnd.amazon.eventstream"
_STRING = 7
_PRELUDE = struct.Struct(">II")


def _headers(headers: dict[str, str]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        out += bytes([len(raw_name)]) + raw_name + bytes([_STRING]) + struct.pack(">H", len(raw_value)) + raw_value
    return bytes(out)


def encode_message(headers: dict[str, str], payload: bytes = b"") -> bytes:
    encoded_headers = _headers(headers)
    total = _PRELUDE.size + 4 + len(encoded_headers) + len(payload) + 4
    prelude = _PRELUDE.pack(total, len(encoded_headers))
    head = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded_headers + payload
    return head + struct.pack(">I", zlib.crc32(head))


def event(event_type: str, payload: bytes, content_type: str = "application/json") -> bytes:
    return encode_message({":message-type": "event", ":event-type": event_type, ":content-type": content_type},
                          payload)


def exception(code: str, payload: bytes, content_type: str = "application/json") -> bytes:
    """A modeled error event (the stream's union names it); clients raise it as that error."""
    return encode_message({":message-type": "exception", ":exception-type": code, ":content-type": content_type},
                          payload)


def error(code: str, message: str) -> bytes:
    """An unmodeled error: the stream ends with it."""
    return encode_message({":message-type": "error", ":error-code": code, ":error-message": message})
