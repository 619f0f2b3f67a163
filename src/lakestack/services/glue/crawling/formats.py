"""Recognising a file's format and reading its schema: one function per classifier.

Each classifier looks at a `Sample` of a file (its first megabyte, and for Parquet and ORC
a random-access view for the footer) and answers a `Detected` with a certainty: 1.0 when
it is sure, 0.0 when the file is not its format, something between for a partial match
(grok). Built-in classifiers follow Glue's documented behaviour:
https://docs.aws.amazon.com/glue/latest/dg/add-classifier.html#classifier-built-in
"""

from __future__ import annotations

import bz2
import csv
import io
import json
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from lakestack.services.glue.crawling import schema as types
from lakestack.services.glue.crawling.grok import compile_grok
from lakestack.services.glue.crawling.jsonpath import parse_json_path, select

HEAD_BYTES = 1 << 20  # Glue reads the first megabyte of text files
FIRST_READ = 64 << 10  # enough to tell a columnar file (schema in its footer) from text
MAX_RECORDS = 1000  # … or the first 1,000 records, whichever comes first
CSV_DELIMITERS = (",", "|", "\t", ";", "\x01")
HEADER_CELL_LIMIT = 150


@dataclass
class Sample:
    """What a classifier may look at. `head` is the start of the (compressed) object;
    `text` its decoded, decompressed start. `open_file()` gives a seekable file over the
    whole object for formats whose schema lives in a footer."""

    key: str
    size: int
    head: bytes
    open_file: Callable[[], object]
    path: str | None = None  # the object's file, when S3 keeps it as a plain file
    compression: str = "none"
    data: bytes = b""  # decompressed head
    consumed: int = 0  # compressed bytes that produced `data`
    complete: bool = False  # `data` is the whole (decompressed) object
    _text: str | None = None

    @property
    def text(self) -> str | None:
        if self._text is None:
            try:
                self._text = self.data.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                if exc.start < len(self.data) - 4:
                    self._text = ""  # not text at all
                else:  # a multi-byte character cut off by the sample's end
                    self._text = self.data[:exc.start].decode("utf-8-sig")
        return self._text or None

    def estimate_records(self, counted: int, bytes_counted: int) -> int:
        """Records in the whole object, from `counted` records in its first `bytes_counted`
        decompressed bytes."""
        if self.complete or counted == 0:
            return counted
        compressed_seen = self.consumed if self.compression != "none" else bytes_counted
        if compressed_seen <= 0:
            return counted
        return max(counted, round(counted * self.size / compressed_seen))


@dataclass
class Detected:
    classification: str
    columns: tuple  # ((name, Type), …)
    records: int
    certainty: float = 1.0
    # Format details the storage descriptor needs (delimiter, header, json path, …).
    options: dict = field(default_factory=dict)

    def compatibility(self, compression: str) -> tuple:
        """Files may share a table only when this key is equal."""
        keep = ("delimiter", "header", "serde", "json_path", "grok", "row_tag")
        return (self.classification, compression, tuple((k, self.options.get(k)) for k in keep))


# -- compression ----------------------------------------------------------------------------

def decompress(sample: Sample) -> None:
    """Detect GZIP/BZIP2 by magic number and fill `data` with the decompressed start."""
    head = sample.head
    whole = len(head) >= sample.size
    if head[:2] == b"\x1f\x8b":
        sample.compression = "gzip"
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        try:
            sample.data = inflater.decompress(head, HEAD_BYTES * 8)
        except zlib.error:
            sample.data = b""
        sample.consumed = len(head) - len(inflater.unconsumed_tail)
        sample.complete = whole and inflater.eof
    elif head[:3] == b"BZh":
        sample.compression = "bzip2"
        try:
            decompressor = bz2.BZ2Decompressor()
            sample.data = decompressor.decompress(head, HEAD_BYTES * 8)
            sample.consumed = len(head) - len(decompressor.unused_data)
            sample.complete = whole and decompressor.eof
        except OSError:
            sample.data = b""
    else:
        sample.data = head
        sample.consumed = len(head)
        sample.complete = whole


def _lines(sample: Sample) -> list[str]:
    text = sample.text or ""
    lines = text.splitlines()
    if not sample.complete and lines and not text.endswith(("\n", "\r")):
        lines.pop()  # the sample cut the last line short
    return lines


# -- columnar formats ------------------------------------------------------------------------

def parquet(sample: Sample) -> Detected | None:
    head = sample.head
    if head[:4] != b"PAR1" or sample.compression != "none":
        return None
    metadata = _parquet_metadata(_random_access(sample))
    return Detected("parquet", schema_of_parquet(metadata), metadata.num_rows)


def _parquet_metadata(source):
    import pyarrow as pa
    import pyarrow.parquet as pq

    reader_class = getattr(pq, "ParquetReader", None)
    if reader_class is not None and isinstance(source, pa.BufferReader):
        # The footer parser without ParquetFile's Python set-up: half the cost per small file.
        reader = reader_class()
        reader.open(source)
        return reader.metadata
    return pq.read_metadata(source)


_PARQUET_SCHEMAS: dict[tuple, tuple] = {}


def schema_of_parquet(metadata) -> tuple:
    # Files of one dataset share a schema; converting it once per distinct schema instead of
    # once per file is most of a large crawl's CPU time saved.
    schema = metadata.schema
    # str() of a ParquetSchema starts with the object's address: key on the rest, plus the
    # Arrow schema pyarrow writers embed (it decides units, time zones and dictionary types).
    key = (str(schema).partition("\n")[2], (metadata.metadata or {}).get(b"ARROW:schema"))
    found = _PARQUET_SCHEMAS.get(key)
    if found is None:
        found = types.from_arrow_schema(schema.to_arrow_schema())
        if len(_PARQUET_SCHEMAS) > 1024:
            _PARQUET_SCHEMAS.clear()
        _PARQUET_SCHEMAS[key] = found
    return found


def orc(sample: Sample) -> Detected | None:
    if sample.head[:3] != b"ORC" or sample.compression != "none":
        return None
    import pyarrow.orc as po

    reader = po.ORCFile(_random_access(sample))
    return Detected("orc", types.from_arrow_schema(reader.schema), reader.nrows)


def _random_access(sample: Sample):
    import pyarrow as pa

    if len(sample.head) >= sample.size:
        return pa.BufferReader(sample.head)
    if sample.path is not None:
        return sample.path  # pyarrow reads the footer straight from the file
    return sample.open_file()


def avro(sample: Sample) -> Detected | None:
    data = sample.data if sample.compression != "none" else sample.head
    if data[:4] != b"Obj\x01":
        return None
    import fastavro

    buffer = io.BytesIO(data)
    try:
        reader = fastavro.block_reader(buffer)
    except Exception:  # not a readable Avro header after all
        return None
    schema = reader.writer_schema
    records = 0
    try:
        for block in reader:
            records += block.num_records
    except Exception:  # a block cut short by the sample's end: count what was read
        pass
    records = sample.estimate_records(records, buffer.tell())
    columns = tuple((f["name"].lower(), _avro_type(f["type"])) for f in schema.get("fields", []))
    return Detected("avro", columns, records, options={"avro_schema": json.dumps(schema)})


def _avro_type(t) -> types.Type:
    if isinstance(t, list):
        branches = [b for b in t if b != "null"]
        if len(branches) == 1:
            return _avro_type(branches[0])
        return "string"  # Hive's uniontype is rarely readable by engines; Glue reads as string
    if isinstance(t, dict):
        logical = t.get("logicalType")
        if logical == "decimal":
            return f"decimal({t.get('precision', 38)},{t.get('scale', 0)})"
        if logical == "date":
            return "date"
        if logical in ("timestamp-millis", "timestamp-micros", "local-timestamp-millis", "local-timestamp-micros"):
            return "timestamp"
        kind = t.get("type")
        if kind == "record":
            return ("struct", tuple((f["name"], _avro_type(f["type"])) for f in t.get("fields", [])))
        if kind == "array":
            return ("array", _avro_type(t["items"]))
        if kind == "map":
            return ("map", "string", _avro_type(t["values"]))
        if kind == "enum":
            return "string"
        if kind == "fixed":
            return "binary"
        return _avro_type(kind)
    return {"int": "int", "long": "bigint", "float": "float", "double": "double", "boolean": "boolean",
            "string": "string", "bytes": "binary", "null": types.NULL}.get(t, "string")


# -- JSON ------------------------------------------------------------------------------------

_decoder = json.JSONDecoder()


def _documents(text: str, limit: int) -> tuple[list, int, bool]:
    """Up to `limit` JSON documents from the start of `text` (JSON Lines, or documents one
    after another), the characters they span, and whether parsing stopped on bad input."""
    docs, pos, end = [], 0, len(text)
    while len(docs) < limit:
        while pos < end and text[pos] in " \t\r\n":
            pos += 1
        if pos >= end:
            break
        try:
            value, pos = _decoder.raw_decode(text, pos)
        except ValueError:
            return docs, pos, True
        docs.append(value)
    return docs, pos, False


def _record_columns(records: list[dict]) -> tuple:
    fields: tuple = ()
    for record in records:
        fields = types.merge_fields(fields, types.from_python(record)[1])
    # Top-level names are case-insensitive in the catalog (Hive); nested ones keep their case.
    merged: dict = {}
    for name, t in fields:
        key = name.lower()
        merged[key] = types.merge(merged[key], t) if key in merged else t
    return tuple(merged.items())


def json_builtin(sample: Sample) -> Detected | None:
    text = sample.text
    if not text or text.lstrip()[:1] not in ("{", "["):
        return None
    docs, span, broken = _documents(text, MAX_RECORDS)
    if not docs:
        return None
    if isinstance(docs[0], list):
        # A top-level array is one record with one column, as Glue's built-in JSON
        # classifier reads it; a custom classifier with JsonPath `$[*]` reads its elements.
        element: types.Type = types.NULL
        for item in docs[0]:
            element = types.merge(element, types.from_python(item))
        return Detected("json", (("array", ("array", element)),), sample.estimate_records(len(docs), span))
    records = [d for d in docs if isinstance(d, dict)]
    if len(records) != len(docs):
        return None
    return Detected("json", _record_columns(records), sample.estimate_records(len(records), span))


def json_custom(sample: Sample, json_path: str) -> Detected | None:
    text = sample.text
    if not text or text.lstrip()[:1] not in ("{", "["):
        return None
    steps = parse_json_path(json_path)
    docs, span, _ = _documents(text, MAX_RECORDS)
    records = []
    for doc in docs:
        records.extend(r for r in select(doc, steps) if isinstance(r, dict))
    if not records:
        return None
    return Detected("json", _record_columns(records), sample.estimate_records(len(records), span),
                    options={"json_path": json_path})


# -- CSV ------------------------------------------------------------------------------------

_INTEGER = re.compile(r"[-+]?\d+")
_DOUBLE = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
_BIGINT_LIMIT = 1 << 63


def _cell_type(value: str) -> types.Type:
    if value == "":
        return types.NULL
    if _INTEGER.fullmatch(value) and -_BIGINT_LIMIT <= int(value) < _BIGINT_LIMIT:
        return "bigint"
    if _DOUBLE.fullmatch(value):
        return "double"
    if value.lower() in ("true", "false"):
        return "boolean"
    return "string"


def _merge_cell(a: types.Type, b: types.Type) -> types.Type:
    if a == types.NULL:
        return b
    if b == types.NULL or a == b:
        return a
    if {a, b} == {"bigint", "double"}:
        return "double"
    return "string"


def _rows(lines: list[str], delimiter: str, quote: str) -> list[list[str]]:
    reader = csv.reader(lines, delimiter=delimiter, quotechar=quote or '"', quoting=csv.QUOTE_MINIMAL if quote
                        else csv.QUOTE_NONE, strict=False)
    try:
        return [row for row in reader if row and any(cell.strip() for cell in row)]
    except csv.Error:
        return []


def _is_quoted(lines: list[str], delimiter: str, quote: str) -> bool:
    pattern = re.compile(f"(?:^|{re.escape(delimiter)})\\s*{re.escape(quote)}")
    return any(pattern.search(line) for line in lines[:MAX_RECORDS])


def _column_types(rows: list[list[str]], width: int, trim: bool) -> list[types.Type]:
    found: list[types.Type] = [types.NULL] * width
    for row in rows:
        for i, cell in enumerate(row[:width]):
            found[i] = _merge_cell(found[i], _cell_type(cell.strip() if trim else cell))
    return found


def _looks_like_header(first: list[str], data_types: list[types.Type], trim: bool) -> bool:
    """Glue's documented heuristics: every header cell parses as a string, is short (the
    last may be empty, for a trailing delimiter), and the data rows are different: at
    least one column is not a string."""
    for i, cell in enumerate(first):
        value = cell.strip() if trim else cell
        last = i == len(first) - 1
        if value == "" and not last:
            return False
        if value and _cell_type(value) != "string":
            return False
        if not last and len(value) >= HEADER_CELL_LIMIT:
            return False
    return any(t not in ("string", types.NULL) for t in data_types)


def _header_names(cells: list[str], width: int) -> list[str]:
    names, seen = [], set()
    for i in range(width):
        name = cells[i].strip().lower() if i < len(cells) else ""
        if not name:
            name = f"col{i}"
        base, n = name, 1
        while name in seen:
            name = f"{base}_{n}"
            n += 1
        seen.add(name)
        names.append(name)
    return names


def csv_detect(sample: Sample, delimiters=CSV_DELIMITERS, quote: str = '"', contains_header: str = "UNKNOWN",
               header: list[str] | None = None, allow_single_column: bool = False, trim: bool = True,
               serde: str | None = None) -> Detected | None:
    lines = [line for line in _lines(sample)[: MAX_RECORDS + 1]]
    if not lines:
        return None
    for delimiter in delimiters:
        rows = _rows(lines, delimiter, quote)
        if len(rows) < 2:
            continue
        width = len(rows[0])
        if width < 2 and not allow_single_column:
            continue
        # Every row must split into the same number of columns (a ragged last column is the
        # trailing-delimiter case the header rule allows).
        if any(len(r) != width for r in rows):
            continue
        quoted = bool(quote) and _is_quoted(lines, delimiter, quote)
        if contains_header == "PRESENT":
            has_header = True
        elif contains_header == "ABSENT":
            has_header = False
        else:
            has_header = _looks_like_header(rows[0], _column_types(rows[1:], width, trim), trim)
        data = rows[1:] if has_header else rows
        column_types = _column_types(data, width, trim)
        if header:
            names = _header_names(list(header), width)
        elif has_header:
            names = _header_names(rows[0], width)
        else:
            names = [f"col{i}" for i in range(width)]
        chosen_serde = serde if serde in ("OpenCSVSerDe", "LazySimpleSerDe") else (
            "OpenCSVSerDe" if quoted else "LazySimpleSerDe")
        records = sample.estimate_records(len(data), sum(len(line) + 1 for line in lines))
        return Detected("csv", tuple(zip(names, column_types, strict=True)), records, options={
            "delimiter": delimiter, "quote": quote or '"', "header": has_header, "quoted": quoted,
            "serde": chosen_serde})
    return None


# -- custom text classifiers ----------------------------------------------------------------

def grok_detect(sample: Sample, classification: str, pattern: str, custom: str) -> Detected | None:
    lines = [line for line in _lines(sample)[:MAX_RECORDS] if line.strip()]
    if not lines:
        return None
    grok = compile_grok(pattern, custom)
    matched = sum(1 for line in lines if grok.match(line) is not None)
    if matched == 0:
        return None
    columns = tuple((column, kind) for _, column, kind in grok.fields)
    columns = tuple(dict(columns).items())  # one column per field name
    records = sample.estimate_records(len(lines), sum(len(line) + 1 for line in lines))
    return Detected(classification, columns, records, certainty=matched / len(lines),
                    options={"grok": pattern, "grok_custom": custom})


def xml_detect(sample: Sample, classification: str, row_tag: str) -> Detected | None:
    import xml.etree.ElementTree as ElementTree

    text = sample.text
    if not text or not text.lstrip().startswith("<") or not row_tag:
        return None
    parser = ElementTree.XMLPullParser(events=("end",))
    fields: tuple = ()
    rows = 0
    try:
        parser.feed(text)
        for _, element in parser.read_events():
            if element.tag != row_tag:
                continue
            rows += 1
            record: dict = {f"_{k}": v for k, v in element.attrib.items()}
            for child in element:
                record[child.tag] = (child.text or "").strip()
            row_types = tuple((k.lower(), _cell_type(v) if isinstance(v, str) else "string")
                              for k, v in record.items())
            fields = types.merge_fields(fields, row_types)
            if rows >= MAX_RECORDS:
                break
    except ElementTree.ParseError:
        pass
    if rows == 0:
        return None
    return Detected(classification, fields, sample.estimate_records(rows, len(text)), options={"row_tag": row_tag})
