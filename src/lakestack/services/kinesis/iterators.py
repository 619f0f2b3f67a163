"""Shard iterators: opaque, signed, expiring after five minutes.

An iterator carries the stream (name and incarnation id), the shard, the position to read
from and when it was issued, signed with a key kept in kinesis.db so a forged or mangled
iterator is refused ("Invalid ShardIterator.") and iterators survive a restart.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass

from lakestack.services.kinesis import errors

TTL_MS = 5 * 60 * 1000
_VERSION = 1
_HEAD = struct.Struct(">BQ16sI16sB")  # version, issued ms, stream id, shard index, position, name length
_MAC = 16


@dataclass(frozen=True)
class Position:
    stream_id: str
    stream_name: str
    shard_index: int
    position: int
    issued_ms: int


class Iterators:
    def __init__(self, key: bytes):
        self._key = key

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:_MAC]

    def issue(self, stream_id: str, stream_name: str, shard_index: int, position: int, now_ms: int) -> str:
        name = stream_name.encode()
        body = _HEAD.pack(_VERSION, now_ms, bytes.fromhex(stream_id), shard_index, position.to_bytes(16, "big"),
                          len(name)) + name
        return base64.b64encode(body + self._mac(body)).decode()

    def open(self, token: str) -> Position:
        """Raises InvalidArgumentException unless this is an iterator we issued."""
        try:
            raw = base64.b64decode(token, validate=True)
        except (binascii.Error, ValueError):
            raise errors.invalid_iterator() from None
        if len(raw) < _HEAD.size + _MAC:
            raise errors.invalid_iterator()
        body, mac = raw[:-_MAC], raw[-_MAC:]
        if not hmac.compare_digest(mac, self._mac(body)):
            raise errors.invalid_iterator()
        version, issued, stream_id, shard_index, position, name_length = _HEAD.unpack_from(body)
        if version != _VERSION or len(body) != _HEAD.size + name_length:
            raise errors.invalid_iterator()
        return Position(stream_id.hex(), body[_HEAD.size:].decode(), shard_index, int.from_bytes(position, "big"),
                        issued)

    @staticmethod
    def check_fresh(position: Position, now_ms: int) -> None:
        if now_ms - position.issued_ms > TTL_MS:
            raise errors.expired_iterator(position.issued_ms, now_ms, TTL_MS)

    @staticmethod
    def peek_stream_name(token: str) -> str | None:
        """The stream an iterator names, unverified (to name the IAM resource before the call)."""
        try:
            raw = base64.b64decode(token, validate=True)
            name_length = _HEAD.unpack_from(raw)[5]
            return raw[_HEAD.size:_HEAD.size + name_length].decode()
        except (binascii.Error, ValueError, struct.error, UnicodeDecodeError):
            return None
