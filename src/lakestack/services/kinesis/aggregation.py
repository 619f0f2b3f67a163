"""KPL record aggregation: several user records packed into one Kinesis record.

Kinesis stores an aggregated record as sent; consumers (KCL, Lambda's event source
mapping, Firehose) unpack it. `deaggregate` is that unpacking, for lakestack's own
consumers; `aggregate` packs records the same way (for producers and tests).

    record data = magic F3 89 9A C2 | AggregatedRecord (protobuf) | MD5 of the protobuf

    AggregatedRecord { repeated string partition_key_table = 1;
                       repeated string explicit_hash_key_table = 2;
                       repeated Record records = 3; }
    Record { uint64 partition_key_index = 1; uint64 explicit_hash_key_index = 2;
             bytes data = 3; repeated Tag tags = 4; }

https://github.com/awslabs/amazon-kinesis-producer/blob/master/aggregation-format.md
The protobuf subset is small enough to read and write by hand.
"""

from __future__ import annotations

import hashlib

MAGIC = b"\xf3\x89\x9a\xc2"


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf: bytes):
    """(field number, wire type, value) of a protobuf message; value is int or bytes."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            length, i = _varint(buf, i)
            if i + length > len(buf):
                raise ValueError("truncated field")
            value, i = buf[i:i + length], i + length
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield number, wire, value


def is_aggregated(data: bytes) -> bool:
    return (len(data) > len(MAGIC) + 16 and data.startswith(MAGIC)
            and hashlib.md5(data[len(MAGIC):-16]).digest() == data[-16:])


def deaggregate(record: dict) -> list[dict]:
    """The user records inside a Kinesis record (as GetRecords returns it), each with the
    parent's SequenceNumber plus a SubSequenceNumber; a record that is not aggregated
    comes back alone, unchanged."""
    data = record["Data"]
    if not is_aggregated(data):
        return [record]
    body = data[len(MAGIC):-16]
    keys, hash_keys, packed = [], [], []
    for number, wire, value in _fields(body):
        if number == 1 and wire == 2:
            keys.append(value.decode())
        elif number == 2 and wire == 2:
            hash_keys.append(value.decode())
        elif number == 3 and wire == 2:
            packed.append(value)
    out = []
    for sub, raw in enumerate(packed):
        user = {k: v for k, v in record.items() if k not in ("Data", "PartitionKey")}
        user["SubSequenceNumber"] = sub
        for number, wire, value in _fields(raw):
            if number == 1 and wire == 0:
                user["PartitionKey"] = keys[value]
            elif number == 2 and wire == 0:
                user["ExplicitHashKey"] = hash_keys[value]
            elif number == 3 and wire == 2:
                user["Data"] = value
        user.setdefault("Data", b"")
        out.append(user)
    return out


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, value: bytes | int) -> bytes:
    if isinstance(value, int):
        return _encode_varint(number << 3) + _encode_varint(value)
    return _encode_varint(number << 3 | 2) + _encode_varint(len(value)) + value


def aggregate(records: list[tuple[str, bytes]]) -> bytes:
    """Pack (partition key, data) user records into one aggregated record's data."""
    keys: dict[str, int] = {}
    body = bytearray()
    packed = []
    for key, data in records:
        index = keys.setdefault(key, len(keys))
        packed.append(_field(1, index) + _field(3, data))
    for key in keys:
        body += _field(1, key.encode())
    for raw in packed:
        body += _field(3, raw)
    return MAGIC + bytes(body) + hashlib.md5(bytes(body)).digest()
