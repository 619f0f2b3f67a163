"""Query results as Athena leaves them in S3, and read back for GetQueryResults.

- SELECT-like statements: `<id>.csv` (RFC 4180, header row, every value quoted, NULL as an
  empty unquoted field) and `<id>.csv.metadata` (the column metadata, in the protobuf
  layout Athena uses for that file).
- DDL and utility statements: `<id>.txt`, one line per row, fields separated by tabs.

GetQueryResults reads the object through S3 (as the caller, like Athena) and pages with a
token that is the byte offset of the next row.
"""

from __future__ import annotations

import base64
import io
import json

from lakestack.engines.sql.types import ColumnInfo

CHUNK = 4 << 20


class ChainedBody:
    """A header in front of a file, as one readable body for PutObject."""

    def __init__(self, head: bytes, file):
        self._head = io.BytesIO(head)
        self._file = file

    def read(self, n: int = -1) -> bytes:
        data = self._head.read(n)
        if n < 0:
            return data + self._file.read()
        if len(data) < n:
            data += self._file.read(n - len(data))
        return data


# --- the .metadata file: protobuf, field numbers as Athena writes them -----------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes | int | str | bool) -> bytes:
    if isinstance(payload, bool | int):
        return _varint(number << 3) + _varint(int(payload))
    data = payload.encode() if isinstance(payload, str) else payload
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def metadata_bytes(query_id: str, columns: list[ColumnInfo]) -> bytes:
    out = bytearray(_field(1, query_id))
    for column in columns:
        body = _field(1, "hive") + _field(4, column.name) + _field(5, column.name) + _field(6, column.type)
        if column.precision:
            body += _field(7, column.precision)
        if column.scale:
            body += _field(8, column.scale)
        body += _field(9, 3)  # Nullable: UNKNOWN
        if column.case_sensitive:
            body += _field(10, True)
        out += _field(4, body)
    return bytes(out)


# --- reading rows back -------------------------------------------------------------------


def parse_csv(data: bytes, limit: int, final: bool) -> tuple[list[list[str | None]], int]:
    """Up to `limit` records from the start of `data`: (rows, bytes consumed). A field that
    was quoted is text (possibly empty); an unquoted empty field is NULL. A record cut off at
    the end of `data` is left for the next read unless `final`."""
    rows: list[list[str | None]] = []
    pos, n = 0, len(data)
    while len(rows) < limit and pos < n:
        record: list[str | None] = []
        i = pos
        complete = False
        while True:
            if i < n and data[i] == 0x22:  # quoted field
                j = i + 1
                parts = []
                while True:
                    k = data.find(b'"', j)
                    if k < 0:
                        break
                    if k + 1 < n and data[k + 1] == 0x22:
                        parts.append(data[j:k + 1])
                        j = k + 2
                        continue
                    parts.append(data[j:k])
                    j = k + 1
                    break
                if k < 0:  # unterminated: need more bytes
                    break
                record.append(b"".join(parts).decode("utf-8", "replace"))
                i = j
            else:
                j = i
                while j < n and data[j] not in (0x2C, 0x0A, 0x0D):
                    j += 1
                if j >= n and not final:
                    break
                text = data[i:j].decode("utf-8", "replace")
                record.append(text if text else None)
                i = j
            if i < n and data[i] == 0x2C:
                i += 1
                continue
            if i < n and data[i] == 0x0D:
                i += 1
            if i < n and data[i] == 0x0A:
                i += 1
                complete = True
                break
            if i >= n and final:
                complete = True
                break
            break
        if not complete:
            break
        rows.append(record)
        pos = i
    return rows, pos


def parse_text(data: bytes, limit: int, final: bool) -> tuple[list[list[str | None]], int]:
    rows, pos = [], 0
    while len(rows) < limit and pos < len(data):
        end = data.find(b"\n", pos)
        if end < 0:
            if not final:
                break
            end = len(data)
        rows.append(data[pos:end].decode("utf-8", "replace").split("\t"))
        pos = min(end + 1, len(data))
    return rows, pos


def encode_token(offset: int, header_done: bool) -> str:
    return base64.urlsafe_b64encode(json.dumps([offset, header_done]).encode()).decode()


def decode_token(token: str) -> tuple[int, bool]:
    offset, header_done = json.loads(base64.urlsafe_b64decode(token.encode()))
    return int(offset), bool(header_done)
