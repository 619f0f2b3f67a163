"""Objects: PutObject, GetObject/HeadObject, DeleteObject(s), CopyObject — S3's rules on top
of the store's durable write path (store.py) and the key → file layout (keys.py)."""

from __future__ import annotations

import base64
import datetime as dt
import email.errors
import email.header
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import unquote

from lakestack.aws.errors import AwsError
from lakestack.aws.protocols.values import to_datetime
from lakestack.services.s3 import checksums, conditions, encryption, errors, keys, ranges, spool, tagging
from lakestack.services.s3.buckets import Buckets
from lakestack.services.s3.store import S3Store

log = logging.getLogger("lakestack.s3")

MAX_PUT_SIZE = 5 * 1024**3
MAX_METADATA_BYTES = 2048
DEFAULT_CONTENT_TYPE = "binary/octet-stream"
INLINE_BODY = 256 * 1024

# Request/response members stored with an object → their column in `objects`.
HEADER_COLUMNS = {
    "ContentType": "content_type",
    "ContentEncoding": "content_encoding",
    "ContentDisposition": "content_disposition",
    "ContentLanguage": "content_language",
    "CacheControl": "cache_control",
    "Expires": "expires",
    "WebsiteRedirectLocation": "website_redirect",
    "StorageClass": "storage_class",
}
COLUMNS = ("bucket, key, size, etag, last_modified, " + ", ".join(HEADER_COLUMNS.values())
           + ", metadata, checksum_algorithm, checksum_value, checksum_type, parts, lake, path, version_id"
           + ", tags, sse, part_details")
_UPSERT = (f"INSERT OR REPLACE INTO objects ({COLUMNS}) VALUES ("
           + ", ".join("?" * len(COLUMNS.split(", "))) + ")")
# GetObject's response-* query parameters → the response header member they replace.
OVERRIDES = {
    "ResponseContentType": "ContentType",
    "ResponseContentDisposition": "ContentDisposition",
    "ResponseContentEncoding": "ContentEncoding",
    "ResponseContentLanguage": "ContentLanguage",
    "ResponseCacheControl": "CacheControl",
    "ResponseExpires": "Expires",
}


@dataclass
class ObjectRecord:
    bucket: str
    key: str
    size: int
    etag: str
    last_modified: float
    headers: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    checksum_algorithm: str | None = None
    checksum_value: str | None = None
    checksum_type: str | None = None
    parts: list[int] | None = None  # part sizes, for multipart objects
    lake: bool = False
    path: str = ""
    version_id: str | None = None  # None: written with versioning never enabled (see versioning.py)
    tags: list[dict] | None = None  # object tagging (tagging.py)
    sse: dict | None = None  # SSE-C: how the file is encrypted (encryption.py); None: a plain file
    part_details: list | None = None  # multipart: [part number, checksum or None] per part

    @classmethod
    def from_row(cls, row) -> ObjectRecord:
        return cls(
            row["bucket"], row["key"], row["size"], row["etag"], row["last_modified"],
            {m: row[c] for m, c in HEADER_COLUMNS.items() if row[c] is not None},
            json.loads(row["metadata"]) if row["metadata"] else {},
            row["checksum_algorithm"], row["checksum_value"], row["checksum_type"],
            json.loads(row["parts"]) if row["parts"] else None,
            bool(row["lake"]), row["path"], row["version_id"],
            json.loads(row["tags"]) if row["tags"] else None,
            json.loads(row["sse"]) if row["sse"] else None,
            json.loads(row["part_details"]) if row["part_details"] else None,
        )

    def row_values(self) -> tuple:
        return (
            self.bucket, self.key, self.size, self.etag, self.last_modified,
            *(self.headers.get(m) for m in HEADER_COLUMNS),
            json.dumps(self.metadata) if self.metadata else None,
            self.checksum_algorithm, self.checksum_value, self.checksum_type,
            json.dumps(self.parts) if self.parts else None,
            int(self.lake), self.path, self.version_id,
            json.dumps(self.tags) if self.tags else None,
            json.dumps(self.sse) if self.sse else None,
            json.dumps(self.part_details) if self.part_details else None,
        )

    @property
    def modified(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.last_modified, dt.UTC)


def now() -> float:
    return round(time.time(), 3)


def stored_headers(params: dict) -> dict[str, str]:
    """The content headers a write stores, from its params."""
    headers = {m: params[m] for m in HEADER_COLUMNS if params.get(m) is not None}
    encoding = headers.get("ContentEncoding")
    if encoding is not None:
        # aws-chunked describes this request's framing, not the object; the rest is kept as
        # sent ("deflate, gzip" stays "deflate, gzip").
        if "aws-chunked" in encoding:
            encoding = ",".join(e for e in encoding.split(",") if e.strip() not in ("", "aws-chunked")).strip()
        if encoding:
            headers["ContentEncoding"] = encoding
        else:
            del headers["ContentEncoding"]
    if "Expires" in headers:
        headers["Expires"] = format_datetime(to_datetime(headers["Expires"]), usegmt=True)
    if headers.get("StorageClass") == "STANDARD":
        del headers["StorageClass"]
    headers.setdefault("ContentType", DEFAULT_CONTENT_TYPE)
    return headers


def check_key(key: str) -> None:
    size = len(keys.key_bytes(key))
    if size > keys.MAX_KEY_BYTES:
        raise errors.key_too_long(size)


def metadata_text(value: str) -> str:
    """A user metadata value as the text S3 stores. Headers arrive decoded as latin-1, so the
    UTF-8 bytes clients send (botocore does) are read again as UTF-8; RFC 2047 encoded-words
    are decoded, as S3 does before storing (UsingMetadata.html, "user-defined metadata")."""
    if value.isascii():
        if "=?" not in value:
            return value
        try:
            return str(email.header.make_header(email.header.decode_header(value)))
        except (LookupError, ValueError, email.errors.HeaderParseError):
            return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value  # already text (a call from another service), or latin-1 bytes


def _rfc2047(value: str) -> str:
    """S3 answers a non-ASCII metadata value RFC 2047-encoded, as UTF-8 in base64."""
    return f"=?UTF-8?B?{base64.b64encode(value.encode('utf-8')).decode()}?="


def check_metadata(metadata: dict | None) -> dict[str, str]:
    metadata = {k.lower(): metadata_text(v) for k, v in (metadata or {}).items()}
    size = sum(len(k.encode()) + len(v.encode()) for k, v in metadata.items())
    if size > MAX_METADATA_BYTES:
        raise errors.metadata_too_large(size)
    return metadata


def describe(record: ObjectRecord, checksum_mode: bool = False) -> dict:
    """The response headers GetObject/HeadObject answer for an object."""
    out: dict = {
        "ETag": record.etag,
        "LastModified": record.modified,
        "ContentLength": record.size,
        "AcceptRanges": "bytes",
        "ServerSideEncryption": "AES256",  # S3 encrypts every object at rest by default
    }
    out.update(record.headers)
    if record.version_id is not None:
        out["VersionId"] = record.version_id
    if record.metadata:
        out["Metadata"] = {k: v if v.isascii() else _rfc2047(v) for k, v in record.metadata.items()}
    if record.tags:
        out["TagCount"] = len(record.tags)
    if checksum_mode:
        out.update(checksum_fields(record))
    return out


def checksum_fields(record: ObjectRecord) -> dict:
    if not record.checksum_value:
        return {}
    return {checksums.member(record.checksum_algorithm): record.checksum_value,
            "ChecksumType": record.checksum_type or "FULL_OBJECT"}


class FileBody:
    """An open object file (or a slice of it) that the gateway reads in chunks and closes."""

    def __init__(self, file, offset: int, length: int):
        self._file = file
        self.offset = offset
        self.length = length
        self._remaining = length
        if offset:
            file.seek(offset)

    def read(self, n: int = -1) -> bytes:
        if self._remaining <= 0:
            return b""
        n = self._remaining if n is None or n < 0 else min(n, self._remaining)
        data = self._file.read(n)
        self._remaining -= len(data)
        return data

    def fileno(self) -> int:
        return self._file.fileno()

    def close(self) -> None:
        self._file.close()


def parse_copy_source(value: str) -> tuple[str, str, str | None]:
    """x-amz-copy-source: `bucket/key` or `/bucket/key`, URL-encoded, maybe `?versionId=…`:
    (bucket, key, version id or None)."""
    path, _, query = value.partition("?")
    path = unquote(path).lstrip("/")
    bucket, _, key = path.partition("/")
    if not bucket or not key:
        raise errors.invalid_argument("Invalid copy source object key", "x-amz-copy-source", value)
    version = None
    if query:
        version = dict(p.partition("=")[::2] for p in query.split("&")).get("versionId")
        if version is not None:
            version = unquote(version)
            if not valid_version_id(version):
                raise errors.invalid_argument("Invalid version id specified", "x-amz-copy-source", value)
    return bucket, key, version


def valid_version_id(value: str) -> bool:
    """The ids lakestack hands out (versioning.new_version_id), or "null"."""
    return value == "null" or (len(value) == 32 and value.replace("-", "a").replace("_", "a").isalnum()
                               and value.isascii())


class VersioningChanged(AwsError):
    """A write or delete found the bucket's versioning status other than when it chose its path:
    it is redone on the other path (raised under the bucket's layout lock, before any change)."""

    def __init__(self):
        super().__init__("VersioningChanged", "the bucket's versioning status changed", 500)


class Objects:
    def __init__(self, store: S3Store, buckets: Buckets):
        from lakestack.services.s3.object_lock import ObjectLock
        from lakestack.services.s3.versioning import Versioning  # it builds on this module

        self.store = store
        self.buckets = buckets
        self.versioning = Versioning(self)
        self.object_lock = ObjectLock(store, buckets)

    # -- reading -----------------------------------------------------------------------

    def lookup(self, bucket: str, key: str) -> ObjectRecord | None:
        row = self.store.db.query_one(f"SELECT {COLUMNS} FROM objects WHERE bucket = ? AND key = ?",
                                      (bucket, key))
        return ObjectRecord.from_row(row) if row is not None else None

    def open(self, account_id: str, bucket: str, key: str, with_file: bool = True, version_id: str | None = None):
        """(record, open file or None). Holding the key lock while reading the row and opening
        the file means we never pair a new row with an old file (or a missing one).
        `version_id`: that version of the key instead of the current one (versioning.py)."""
        found = self.buckets.require(account_id, bucket)
        if version_id is not None:
            return self.versioning.open(bucket, key, version_id, with_file)
        with self.store.key_lock(bucket, key):
            record = self.lookup(bucket, key)
            if record is None:
                if found.versioning is not None:
                    raise self.versioning.no_current_object(bucket, key)
                raise errors.no_such_key(key)
            file = self.open_file(record) if with_file else None
        return record, file

    def open_file(self, record: ObjectRecord):
        """The record's file, opened under its key's lock."""
        try:
            file = open(self.store.abspath(record.path), "rb", buffering=0)
        except FileNotFoundError:
            # The lake file was removed behind S3's back (the layout is open to other tools).
            log.warning("s3://%s/%s is indexed but its file %s is gone", record.bucket, record.key, record.path)
            raise errors.no_such_key(record.key) from None
        size = os.fstat(file.fileno()).st_size
        if size != record.size:
            log.warning("s3://%s/%s was changed outside S3 (%d bytes, indexed %d)", record.bucket, record.key, size,
                        record.size)
            record.size = size
            record.checksum_value = None  # describes bytes that are no longer there
        return file

    def read(self, account_id: str, bucket: str, key: str, params: dict, head: bool,
             customer_key: encryption.CustomerKey | None = None) -> tuple[dict, int]:
        """GetObject / HeadObject: (output, HTTP status). `customer_key`: the request's SSE-C key."""
        record, file = self.open(account_id, bucket, key, with_file=not head, version_id=params.get("VersionId"))
        try:
            cipher = None
            if record.sse is not None:
                data_key = encryption.unseal(record.sse, customer_key)
                cipher = encryption.ObjectCipher(data_key, record.sse, record.parts, record.size)
            else:
                encryption.check_plain(customer_key)
            output, status, span = self._answer(record, params)
            if cipher is not None and status != 304:
                output.pop("ServerSideEncryption", None)
                output.update(customer_key.response())
            if file is not None and span is not None and cipher is not None:
                offset, length = span
                if length <= INLINE_BODY:
                    output["Body"] = cipher.decrypt_at(offset, os.pread(file.fileno(), length, offset))
                else:
                    output["Body"] = encryption.DecryptedBody(file, cipher, offset, length)
                    file = None  # the body owns it now
            elif file is not None and span is not None:
                offset, length = span
                if length <= INLINE_BODY:
                    # Small bodies go out in one piece: cheaper than the gateway's chunked reads.
                    output["Body"] = os.pread(file.fileno(), length, offset)
                else:
                    output["Body"] = FileBody(file, offset, length)
                    file = None  # the body owns it now
            return output, status
        finally:
            if file is not None:
                file.close()

    def _answer(self, record: ObjectRecord, params: dict) -> tuple[dict, int, tuple[int, int] | None]:
        if conditions.check_read(params, record.etag, record.last_modified) == conditions.NOT_MODIFIED:
            # 304 carries the validators and no body.
            return {"ETag": record.etag, "LastModified": record.modified}, 304, None
        whole = params.get("ChecksumMode") == "ENABLED"
        output = describe(record)
        part_number = params.get("PartNumber")
        if part_number is not None:
            if params.get("Range") is not None:
                raise errors.invalid_request("Cannot specify both Range header and partNumber query parameter")
            first, last, count = self._part_span(record, part_number)
            output["PartsCount"] = count
            if record.parts is None:  # partNumber=1 of a plain object is the object
                span, status = (0, record.size), 200
                output.update(checksum_fields(record) if whole else {})
            else:
                span, status = (first, last - first + 1), 206
                output["ContentRange"] = f"bytes {first}-{last}/{record.size}"
                output["ContentLength"] = last - first + 1
                # A part's answer carries the checksum it was uploaded with.
                if whole and record.part_details and record.checksum_algorithm:
                    part_checksum = record.part_details[part_number - 1][1]
                    if part_checksum:
                        output[checksums.member(record.checksum_algorithm)] = part_checksum
                        output["ChecksumType"] = record.checksum_type or "FULL_OBJECT"
        else:
            wanted = ranges.parse(params.get("Range"), record.size)
            if wanted is None:
                span, status = (0, record.size), 200
                # A checksum describes the whole object, so only whole answers carry it.
                output.update(checksum_fields(record) if whole else {})
            else:
                first, last = wanted
                span, status = (first, last - first + 1), 206
                output["ContentRange"] = f"bytes {first}-{last}/{record.size}"
                output["ContentLength"] = last - first + 1
        for param, header in OVERRIDES.items():
            if params.get(param) is not None:
                output[header] = params[param]
        return output, status, span

    @staticmethod
    def _part_span(record: ObjectRecord, part_number: int) -> tuple[int, int, int]:
        sizes = record.parts or [record.size]
        if part_number < 1 or part_number > len(sizes):
            raise AwsError("InvalidPartNumber", "The requested partnumber is not satisfiable", 416,
                           PartNumberRequested=part_number, ActualPartCount=len(sizes))
        first = sum(sizes[: part_number - 1])
        return first, first + sizes[part_number - 1] - 1, len(sizes)

    # -- writing -----------------------------------------------------------------------

    def put(self, account_id: str, bucket: str, key: str, params: dict, incoming: spool.Incoming,
            after_rows: Callable | None = None, customer_key: encryption.CustomerKey | None = None) -> ObjectRecord:
        self.buckets.require(account_id, bucket)
        check_key(key)
        metadata = check_metadata(params.get("Metadata"))
        headers = stored_headers(params)
        tags = tagging.from_header(params.get("Tagging"))
        check_write_conditions(params)
        sse, cipher = new_encryption(customer_key)
        spooled = spool.receive_checked(incoming, params, self.store.new_temp(), MAX_PUT_SIZE, cipher=cipher)
        etag = cipher.etag(spooled.md5_hex) if cipher is not None else spooled.md5_hex
        record = ObjectRecord(
            bucket, key, spooled.size, f'"{etag}"', now(), headers, metadata,
            spooled.checksum_algorithm, spooled.checksum, "FULL_OBJECT" if spooled.checksum else None,
            tags=tags, sse=sse,
        )
        self.commit(record, spooled, params, after_rows=after_rows)
        return record

    def commit(self, record: ObjectRecord, spooled: spool.Spooled, conditions_from: dict | None = None,
               in_transaction: Callable | None = None, after_rows: Callable | None = None) -> None:
        """Make a spooled file the object's bytes: its row and a pending rename commit (in a
        group with concurrent writes, see commits.py), then the rename.

        `conditions_from`: params with a conditional write's If-Match / If-None-Match.
        `in_transaction(db)`: more work that must commit atomically with the object row; it runs
        with the write's checks, so it may raise only before it changes anything.
        `after_rows(db, record)`: rows that go with the version once its id is chosen (Object Lock).
        """
        bucket = self.buckets.get(record.bucket)
        versioned = bucket is not None and bucket.versioning is not None
        try:
            while True:
                kind = self.versioning.write if versioned else _ObjectWrite
                write = kind(self, record, spooled, conditions_from or {}, in_transaction)
                write.after_rows = after_rows
                try:
                    self.store.committer.submit(write)
                    return
                except VersioningChanged:
                    versioned = not versioned
        finally:
            if not write.committed:
                self.store.discard(spooled.path)

    def delete(self, account_id: str, bucket: str, key: str, if_match: str | None = None) -> None:
        """DeleteObject: 204 whether or not the key existed, unless an If-Match condition fails."""
        self.buckets.require(account_id, bucket)
        failed = self.delete_keys(bucket, [key], {key: if_match} if if_match is not None else None)
        if failed:
            raise failed[key]

    def delete_keys(self, bucket: str, key_list: list[str],
                    if_match: dict[str, str] | None = None) -> dict[str, AwsError]:
        """Remove rows in one transaction, then their files (pruning emptied directories).

        `if_match` holds S3's conditional deletes, {key: ETag or "*"}: a key whose object is
        missing (NoSuchKey) or has another ETag (PreconditionFailed) is kept, and its error
        returned. https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-deletes.html
        """
        store = self.store
        failed: dict[str, AwsError] = {}
        with store.key_locks(bucket, key_list), store.layout_lock(bucket):
            found = self.buckets.get(bucket)
            if found is not None and found.versioning is not None:
                raise VersioningChanged()
            removed: list[tuple[str, int]] = []
            with store.transaction() as db:
                for key in dict.fromkeys(key_list):
                    row = db.execute("SELECT path, etag FROM objects WHERE bucket = ? AND key = ?",
                                     (bucket, key)).fetchone()
                    condition = if_match.get(key) if if_match else None
                    if condition is not None:
                        if row is None:
                            failed[key] = errors.no_such_key(key)
                            continue
                        if not conditions.etag_matches(condition, row["etag"]):
                            failed[key] = errors.precondition_failed("If-Match")
                            continue
                    if row is None:
                        continue
                    db.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
                    removed.append((row["path"], store.add_pending(db, row["path"], None, bucket, key)))
            for path, pending_id in removed:
                file = store.abspath(path)
                store.remove_file(file, store.bucket_dir(bucket))
                store.settle(file.parent, pending_id)
        return failed

    # -- copying -----------------------------------------------------------------------

    def open_source(self, account_id: str, bucket: str, key: str, version_id: str | None):
        """A copy's source (CopyObject, UploadPartCopy): a delete marker cannot be one.
        The source is read as its bucket owner's: the caller has been authorized for
        s3:GetObject on it (S3Provider.authorization), by its own policies and, from another
        account, by the source bucket's policy or ACLs as well."""
        source_bucket = self.buckets.get(bucket)
        if source_bucket is not None:
            account_id = source_bucket.account_id
        try:
            return self.open(account_id, bucket, key, version_id=version_id)
        except AwsError as error:
            if error.code == "MethodNotAllowed":
                raise errors.invalid_request("The source of a copy request may not specifically refer to a delete "
                                             "marker by version id.") from None
            raise

    def copy(self, account_id: str, bucket: str, key: str, params: dict,
             after_rows: Callable | None = None, source_key: encryption.CustomerKey | None = None,
             customer_key: encryption.CustomerKey | None = None) -> tuple[ObjectRecord, ObjectRecord]:
        """CopyObject: (new record, source record). `source_key`, `customer_key`: the SSE-C keys
        of the source and of the copy."""
        self.buckets.require(account_id, bucket)
        check_key(key)
        src_bucket, src_key, src_version = parse_copy_source(params["CopySource"])
        source, file = self.open_source(account_id, src_bucket, src_key, src_version)
        try:
            decrypt = source_cipher(source, source_key)
            conditions.check_copy_source(params, source.etag, source.last_modified)
            replace = (params.get("MetadataDirective") or "COPY") == "REPLACE"
            if ((src_bucket, src_key) == (bucket, key) and src_version is None and not replace
                    and not _changes_attributes(params, source)):
                raise errors.copy_onto_itself()
            if replace:
                headers, metadata = stored_headers(params), check_metadata(params.get("Metadata"))
            else:
                headers, metadata = dict(source.headers), dict(source.metadata)
                for name in ("StorageClass", "WebsiteRedirectLocation"):
                    if params.get(name):
                        headers[name] = params[name]
                if headers.get("StorageClass") == "STANDARD":
                    del headers["StorageClass"]
            if (params.get("TaggingDirective") or "COPY") == "REPLACE":
                tags = tagging.from_header(params.get("Tagging"))
            else:
                tags = list(source.tags) if source.tags else None
            check_write_conditions(params)
            sse, cipher = new_encryption(customer_key)
            algorithm = checksums.normalize_algorithm(params.get("ChecksumAlgorithm")) or source.checksum_algorithm
            reuse = (algorithm == source.checksum_algorithm and source.checksum_type == "FULL_OBJECT"
                     and source.checksum_value is not None)
            # A multipart source's ETag is not an MD5 of its bytes (nor an SSE-C object's); the copy's must be.
            need_md5 = source.parts is not None or source.sse is not None or cipher is not None
            spooled = spool.copy_range(file, 0, source.size, self.store.new_temp(), md5=need_md5,
                                       algorithm=None if reuse else algorithm, decrypt=decrypt, cipher=cipher)
        finally:
            file.close()
        if cipher is not None:
            etag = f'"{cipher.etag(spooled.md5_hex)}"'
        else:
            etag = f'"{spooled.md5_hex}"' if need_md5 else source.etag
        record = ObjectRecord(bucket, key, spooled.size, etag, now(), headers, metadata, tags=tags, sse=sse)
        if algorithm:
            record.checksum_algorithm = algorithm
            record.checksum_value = source.checksum_value if reuse else spooled.checksum
            record.checksum_type = "FULL_OBJECT"
        self.commit(record, spooled, params, after_rows=after_rows)
        return record, source


def _changes_attributes(params: dict, source: ObjectRecord) -> bool:
    """Copying an object onto itself is allowed when it changes one of these."""
    storage = params.get("StorageClass")
    return bool(
        (storage and storage != source.headers.get("StorageClass", "STANDARD"))
        or params.get("WebsiteRedirectLocation")
        or params.get("ServerSideEncryption")
        or params.get("SSEKMSKeyId")
        or params.get("SSECustomerAlgorithm")  # a new customer key, or none for an SSE-C source
        or source.sse is not None
    )


def new_encryption(customer_key: encryption.CustomerKey | None) -> tuple[dict | None, encryption.Encryptor | None]:
    """(what a new object stores about its SSE-C encryption, the cipher to write it with)."""
    if customer_key is None:
        return None, None
    sse, data_key = encryption.seal(customer_key)
    cipher = encryption.Encryptor(data_key, encryption.new_iv())
    sse["iv"] = base64.b64encode(cipher.iv).decode()
    return sse, cipher


def source_cipher(source: ObjectRecord, source_key: encryption.CustomerKey | None):
    """How to read a copy's source: `decrypt(offset, data)` for an SSE-C source, else None."""
    if source.sse is None:
        encryption.check_plain(source_key)
        return None
    data_key = encryption.unseal(source.sse, source_key)
    return encryption.ObjectCipher(data_key, source.sse, source.parts, source.size).decrypt_at


def check_write_conditions(params: dict) -> None:
    """Conditional writes (PutObject, CopyObject, CompleteMultipartUpload) support
    `If-None-Match: *` and `If-Match: <etag>` only; S3 answers another If-None-Match 501.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html"""
    none_match = params.get("IfNoneMatch")
    if none_match is not None and none_match.strip() != "*":
        raise AwsError("NotImplemented", "A header you provided implies functionality that is not implemented",
                       501, Header="If-None-Match")


class _ObjectWrite:
    """One object write as the group committer drives it (under the key's and bucket's locks)."""

    after_rows: Callable | None = None

    def __init__(self, objects_: Objects, record: ObjectRecord, spooled: spool.Spooled, conditions_from: dict,
                 in_transaction: Callable | None):
        self.objects, self.store = objects_, objects_.store
        self.record, self.spooled = record, spooled
        self.bucket, self.key = record.bucket, record.key
        self.conditions_from, self.in_transaction = conditions_from, in_transaction
        self.committed = False
        self.final: Path | None = None
        self.old_path: str | None = None
        self.pending_ids: tuple[int | None, int | None] = (None, None)

    def prepare(self) -> None:
        record, store = self.record, self.store
        record.path, record.lake = keys.choose_relpath(store.home, self.bucket, self.key, record.sse is None)
        self.final = store.abspath(record.path)
        store.make_parents(self.final)

    def check(self, db) -> None:
        bucket, key = self.bucket, self.key
        # Under the bucket's layout lock, where CreateBucket and DeleteBucket change the cache
        # too, the cache agrees with the table.
        found = self.objects.buckets.get(bucket)
        if found is None:
            raise errors.no_such_bucket(bucket)
        if found.versioning is not None:
            raise VersioningChanged()
        old = db.execute("SELECT path FROM objects WHERE bucket = ? AND key = ?", (bucket, key)).fetchone()
        self.old_path = old["path"] if old is not None and old["path"] != self.record.path else None
        _check_existing(self.conditions_from, key, db, bucket)
        if self.in_transaction is not None:
            self.in_transaction(db)

    def write_rows(self, db) -> None:
        store = self.store
        db.execute(_UPSERT, self.record.row_values())
        if self.after_rows is not None:
            self.after_rows(db, self.record)
        rename_id = store.add_pending(db, self.spooled.rel, self.record.path)
        old_id = store.add_pending(db, self.old_path, None, self.bucket, self.key) if self.old_path else None
        self.pending_ids = (rename_id, old_id)

    def finish(self) -> None:
        # Committed: from here on recovery would finish the job after a crash.
        self.store.rename(self.spooled.path, self.final)

    def cleanup(self) -> None:
        # After every rename of the group, so pruning a folder cannot pull one from under it.
        store = self.store
        if self.old_path is not None:
            store.remove_file(store.abspath(self.old_path), store.bucket_dir(self.bucket))
        store.settle(self.final.parent, *self.pending_ids)


def _check_existing(params: dict, key: str, db, bucket: str) -> None:
    """A conditional write's test against the current object, inside the commit."""
    if params.get("IfNoneMatch") is None and params.get("IfMatch") is None:
        return
    row = db.execute("SELECT etag FROM objects WHERE bucket = ? AND key = ?", (bucket, key)).fetchone()
    if params.get("IfNoneMatch") is not None and row is not None:
        raise errors.precondition_failed("If-None-Match")
    if params.get("IfMatch") is not None:
        if row is None:
            raise errors.no_such_key(key)
        if not conditions.etag_matches(params["IfMatch"], row["etag"]):
            raise errors.precondition_failed("If-Match")
