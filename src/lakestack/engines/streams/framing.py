"""How a record is laid out in a segment file: length + CRC framing.

    frame  = u32 body length | u32 CRC32(body) | body
    body   = u64 position | i64 arrival ms | u16 partition-key length | key (UTF-8) | data

The CRC tells a torn or corrupted tail from a whole record at recovery, and the position
inside the body lets recovery check that frames follow each other without a gap.
"""

from __future__ import annotations

import struct
import zlib

from lakestack.engines.streams import StoredRecord

HEADER = struct.Struct("<II")
BODY = struct.Struct("<QqH")
OVERHEAD = HEADER.size + BODY.size


def encode(records: list[tuple[str, bytes]], first_position: int, timestamp_ms: int,
           start_offset: int) -> tuple[list[bytes], list[int]]:
    """The frames of `records` as parts to join, and the file offset each frame starts at."""
    parts: list[bytes] = []
    offsets: list[int] = []
    offset = start_offset
    position = first_position
    for key, data in records:
        raw_key = key.encode()
        head = BODY.pack(position, timestamp_ms, len(raw_key)) + raw_key
        length = len(head) + len(data)
        # CRC over head then data without concatenating them (data may be megabytes).
        parts.append(HEADER.pack(length, zlib.crc32(data, zlib.crc32(head))))
        parts.append(head)
        parts.append(data)
        offsets.append(offset)
        offset += HEADER.size + length
        position += 1
    return parts, offsets


class CorruptFrame(Exception):
    pass


def decode_at(buf, offset: int) -> tuple[StoredRecord, int]:
    """The record whose frame starts at `offset` in `buf`, and the offset after it.
    Raises CorruptFrame if the frame is incomplete or its CRC does not match."""
    if offset + HEADER.size > len(buf):
        raise CorruptFrame("truncated header")
    length, crc = HEADER.unpack_from(buf, offset)
    start = offset + HEADER.size
    end = start + length
    if length < BODY.size or end > len(buf):
        raise CorruptFrame("truncated body")
    with memoryview(buf)[start:end] as body:  # released even when raising (buf may be an mmap to close)
        if zlib.crc32(body) != crc:
            raise CorruptFrame("checksum mismatch")
        position, timestamp, key_length = BODY.unpack_from(body)
        key_end = BODY.size + key_length
        if key_end > length:
            raise CorruptFrame("bad key length")
        key = bytes(body[BODY.size:key_end]).decode()
        return StoredRecord(position, timestamp, key, bytes(body[key_end:])), end
