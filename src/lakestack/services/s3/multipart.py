"""Multipart uploads: parts are files under `<home>/multipart/<upload id>/<part number>`;
CompleteMultipartUpload joins them (in the kernel when it can) into a temp file and commits
it like a PutObject.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass

from lakestack.aws.errors import AwsError
from lakestack.services.s3 import checksums, conditions, encryption, errors, objects, ranges, spool, tagging
from lakestack.services.s3.buckets import Buckets, canonical_user_id, owner
from lakestack.services.s3.listing import url_encode
from lakestack.services.s3.objects import ObjectRecord, Objects
from lakestack.services.s3.store import MULTIPART_DIR, S3Store

MAX_PART_SIZE = 5 * 1024**3
MAX_PART_NUMBER = 10000
MAX_LIST = 1000
# Hashes cannot be combined across parts, so only CRCs have FULL_OBJECT multipart checksums;
# CRC64NVME has nothing else.
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
_TYPES = {
    "CRC32": ("COMPOSITE", {"COMPOSITE", "FULL_OBJECT"}),
    "CRC32C": ("COMPOSITE", {"COMPOSITE", "FULL_OBJECT"}),
    "CRC64NVME": ("FULL_OBJECT", {"FULL_OBJECT"}),
}


@dataclass
class Upload:
    upload_id: str
    bucket: str
    key: str
    initiated: float
    initiator_arn: str | None
    initiator_id: str | None
    owner_account: str
    headers: dict
    metadata: dict
    checksum_algorithm: str | None
    checksum_type: str | None
    tags: list[dict] | None = None  # x-amz-tagging, for the object
    sse: dict | None = None  # SSE-C: the upload's salt and key check (encryption.seal)
    lock: dict | None = None  # the x-amz-object-lock-* headers it was created with (object_lock.py)

    @classmethod
    def from_row(cls, row) -> Upload:
        stored = json.loads(row["headers"])
        return cls(row["upload_id"], row["bucket"], row["key"], row["initiated"], row["initiator_arn"],
                   row["initiator_id"], row["owner_account"], stored.get("headers", {}),
                   stored.get("metadata", {}), row["checksum_algorithm"], row["checksum_type"],
                   stored.get("tags"), stored.get("sse"), stored.get("lock"))

    def data_key(self, customer_key: encryption.CustomerKey | None) -> bytes | None:
        """The key a part is encrypted with (None for an upload without SSE-C); a part must send
        the upload's customer key."""
        if self.sse is None:
            encryption.check_plain(customer_key)
            return None
        if customer_key is None:
            raise errors.invalid_request("The multipart upload initiate requested encryption. Subsequent part "
                                         "requests must include the appropriate encryption parameters.")
        try:
            return encryption.unseal(self.sse, customer_key)
        except AwsError:
            raise errors.invalid_request("The provided encryption parameters did not match the ones used "
                                         "originally.") from None

    @property
    def initiated_at(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.initiated, dt.UTC)

    def initiator(self) -> dict:
        # "If the principal is an AWS account, it provides the Canonical User ID. If the
        # principal is an IAM User, it provides a user ARN value."
        # https://docs.aws.amazon.com/AmazonS3/latest/API/API_Initiator.html
        if self.initiator_arn and not self.initiator_arn.endswith(":root"):
            return {"ID": self.initiator_arn, "DisplayName": self.initiator_id or self.owner_account}
        return {"ID": canonical_user_id(self.owner_account), "DisplayName": self.owner_account}

    def describe(self) -> dict:
        out = {"UploadId": self.upload_id, "Key": self.key, "Initiated": self.initiated_at,
               "StorageClass": self.headers.get("StorageClass", "STANDARD"),
               "Owner": owner(self.owner_account), "Initiator": self.initiator()}
        if self.checksum_algorithm:
            out["ChecksumAlgorithm"] = self.checksum_algorithm
            out["ChecksumType"] = self.checksum_type
        return out


def _part_cipher(upload: Upload, customer_key: encryption.CustomerKey | None) -> encryption.Encryptor | None:
    """A part of an SSE-C upload is its own CTR stream, with an IV of its own."""
    data_key = upload.data_key(customer_key)
    return encryption.Encryptor(data_key, encryption.new_iv()) if data_key is not None else None


def _iv(cipher: encryption.Encryptor | None) -> str | None:
    return base64.b64encode(cipher.iv).decode() if cipher is not None else None


def part_number(value) -> int:
    if value is None or not 1 <= value <= MAX_PART_NUMBER:
        raise errors.invalid_part_number(value)
    return value


class Multipart:
    def __init__(self, store: S3Store, buckets: Buckets, objects_: Objects):
        self.store = store
        self.buckets = buckets
        self.objects = objects_

    def _upload_lock(self, upload_id: str):
        # Serializes a part's commit+rename with Abort/Complete removing the upload directory.
        return self.store.key_lock("\x00upload", upload_id)

    # -- CreateMultipartUpload / AbortMultipartUpload ------------------------------------

    def create(self, account_id: str, principal, bucket: str, key: str, params: dict,
               lock: dict | None = None, customer_key: encryption.CustomerKey | None = None,
               owner_account: str | None = None) -> Upload:
        """`owner_account`: whose the object will be, when not the bucket owner's (`account_id`)."""
        self.buckets.require(account_id, bucket)
        owner_account = owner_account or account_id
        objects.check_key(key)
        metadata = objects.check_metadata(params.get("Metadata"))
        headers = objects.stored_headers(params)
        tags = tagging.from_header(params.get("Tagging"))
        sse = encryption.seal(customer_key)[0] if customer_key is not None else None
        algorithm = checksums.normalize_algorithm(params.get("ChecksumAlgorithm"))
        checksum_type = params.get("ChecksumType")
        if checksum_type and not algorithm:
            raise errors.invalid_request("The x-amz-checksum-type header can only be used with the "
                                         "x-amz-checksum-algorithm header.")
        if algorithm:
            default, allowed = _TYPES.get(algorithm, ("COMPOSITE", {"COMPOSITE"}))
            checksum_type = checksum_type or default
            if checksum_type not in allowed:
                raise errors.invalid_request(f"The {checksum_type} checksum type cannot be used with the "
                                             f"{algorithm.lower()} checksum algorithm.")
        upload = Upload(
            secrets.token_urlsafe(48), bucket, key, objects.now(),
            getattr(principal, "arn", None), getattr(principal, "user_id", None), owner_account,
            headers, metadata, algorithm, checksum_type, tags, sse, lock,
        )
        stored = {"headers": headers, "metadata": metadata}
        stored.update({name: value for name, value in (("tags", tags), ("sse", sse), ("lock", lock)) if value})
        with self.store.transaction() as db:
            if not self.buckets.exists_in(db, bucket):
                raise errors.no_such_bucket(bucket)
            db.execute(
                "INSERT INTO uploads (upload_id, bucket, key, initiated, initiator_arn, initiator_id, owner_account,"
                " headers, checksum_algorithm, checksum_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (upload.upload_id, bucket, key, upload.initiated, upload.initiator_arn, upload.initiator_id,
                 owner_account, json.dumps(stored), algorithm, checksum_type),
            )
        return upload

    def require(self, account_id: str, bucket: str, key: str, upload_id: str | None) -> Upload:
        self.buckets.require(account_id, bucket)
        row = self.store.db.query_one("SELECT * FROM uploads WHERE upload_id = ?", (upload_id or "",))
        if row is None or row["bucket"] != bucket or row["key"] != key:
            raise errors.no_such_upload(upload_id or "")
        return Upload.from_row(row)

    def abort(self, account_id: str, bucket: str, key: str, upload_id: str) -> None:
        upload = self.require(account_id, bucket, key, upload_id)
        with self._upload_lock(upload.upload_id):
            with self.store.transaction() as db:
                if db.execute("DELETE FROM uploads WHERE upload_id = ?", (upload.upload_id,)).rowcount == 0:
                    raise errors.no_such_upload(upload_id)
            shutil.rmtree(self.store.upload_dir(upload.upload_id), ignore_errors=True)

    # -- UploadPart / UploadPartCopy ------------------------------------------------------

    def upload_part(self, account_id: str, bucket: str, key: str, params: dict,
                    incoming: spool.Incoming, customer_key: encryption.CustomerKey | None = None) -> dict:
        number = part_number(params.get("PartNumber"))
        upload = self.require(account_id, bucket, key, params.get("UploadId"))
        cipher = _part_cipher(upload, customer_key)
        supplied, _ = checksums.supplied(params, incoming.trailer_names)
        if upload.checksum_algorithm and supplied and supplied != upload.checksum_algorithm:
            raise errors.invalid_request(
                f"Checksum Type mismatch occurred, expected checksum Type: {upload.checksum_algorithm.lower()}, "
                f"actual checksum Type: {supplied.lower()}")
        spooled = spool.receive_checked(incoming, params, self.store.new_temp(), MAX_PART_SIZE,
                                        default_algorithm=upload.checksum_algorithm, cipher=cipher)
        # Only the upload's own algorithm is kept for the part; another one was still verified.
        value = spooled.checksum if spooled.checksum_algorithm == upload.checksum_algorithm else None
        etag = f'"{cipher.etag(spooled.md5_hex) if cipher is not None else spooled.md5_hex}"'
        self._commit_part(upload, number, spooled, etag, value, _iv(cipher))
        out = {"ETag": etag, **encryption.write_headers(customer_key)}
        if spooled.checksum:
            out[checksums.member(spooled.checksum_algorithm)] = spooled.checksum
        return out

    def upload_part_copy(self, account_id: str, bucket: str, key: str, params: dict,
                         source_key: encryption.CustomerKey | None = None,
                         customer_key: encryption.CustomerKey | None = None) -> dict:
        number = part_number(params.get("PartNumber"))
        upload = self.require(account_id, bucket, key, params.get("UploadId"))
        cipher = _part_cipher(upload, customer_key)
        src_bucket, src_key, src_version = objects.parse_copy_source(params["CopySource"])
        source, file = self.objects.open_source(account_id, src_bucket, src_key, src_version)
        try:
            decrypt = objects.source_cipher(source, source_key)
            conditions.check_copy_source(params, source.etag, source.last_modified)
            first, last = 0, source.size - 1
            if params.get("CopySourceRange"):
                first, last = ranges.copy_source_range(params["CopySourceRange"], source.size)
            spooled = spool.copy_range(file, first, last - first + 1, self.store.new_temp(), md5=True,
                                       algorithm=upload.checksum_algorithm, decrypt=decrypt, cipher=cipher)
        finally:
            file.close()
        etag = f'"{cipher.etag(spooled.md5_hex) if cipher is not None else spooled.md5_hex}"'
        modified = self._commit_part(upload, number, spooled, etag, spooled.checksum, _iv(cipher))
        result = {"ETag": etag, "LastModified": dt.datetime.fromtimestamp(modified, dt.UTC)}
        if spooled.checksum:
            result[checksums.member(upload.checksum_algorithm)] = spooled.checksum
        out = {"CopyPartResult": result, **encryption.write_headers(customer_key)}
        if source.version_id not in (None, "null"):
            out["CopySourceVersionId"] = source.version_id
        return out

    def _commit_part(self, upload: Upload, number: int, spooled: spool.Spooled, etag: str,
                     checksum_value: str | None, sse_iv: str | None = None) -> float:
        store = self.store
        rel = f"{MULTIPART_DIR}/{upload.upload_id}/{number}"
        final = store.abspath(rel)
        modified = objects.now()
        committed = False
        try:
            with self._upload_lock(upload.upload_id):
                with store.transaction() as db:
                    if db.execute("SELECT 1 FROM uploads WHERE upload_id = ?", (upload.upload_id,)).fetchone() is None:
                        raise errors.no_such_upload(upload.upload_id)
                    db.execute(
                        "INSERT OR REPLACE INTO parts (upload_id, part_number, size, etag, last_modified,"
                        " checksum_value, path, sse_iv) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (upload.upload_id, number, spooled.size, etag, modified, checksum_value, rel, sse_iv),
                    )
                    pending = store.add_pending(db, spooled.rel, rel)
                committed = True
                store.make_parents(final)
                store.rename(spooled.path, final)
            store.settle(final.parent, pending)
        finally:
            if not committed:
                store.discard(spooled.path)
        return modified

    # -- CompleteMultipartUpload ----------------------------------------------------------

    def complete(self, account_id: str, bucket: str, key: str, params: dict,
                 lock_rows: Callable | None = None, customer_key: encryption.CustomerKey | None = None) -> ObjectRecord:
        """`lock_rows(upload)`: the Object Lock rows the new version is stored with (Objects.commit's
        `after_rows`), from the upload's x-amz-object-lock-* headers and the bucket's default."""
        try:
            upload = self.require(account_id, bucket, key, params.get("UploadId"))
        except AwsError as error:
            if error.code == "NoSuchUpload" and (done := self._completed(bucket, key, params.get("UploadId"))):
                return done
            raise
        # SSE-C: the key is "required only when the object was created using a checksum algorithm"
        # (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html); one sent must match.
        if upload.sse is None or customer_key is not None or upload.checksum_algorithm:
            upload.data_key(customer_key)
        objects.check_write_conditions(params)
        requested = (params.get("MultipartUpload") or {}).get("Parts") or []
        if not requested:
            raise errors.malformed_xml()
        stored = {row["part_number"]: row for row in self.store.db.query(
            "SELECT part_number, size, etag, checksum_value, path, sse_iv FROM parts WHERE upload_id = ?",
            (upload.upload_id,))}
        algorithm = upload.checksum_algorithm
        # The whole object's checksum, when the client sends one, is verified (BadDigest).
        whole_member = next((m for m in checksums.ALL_MEMBERS if params.get(m) is not None), None)
        whole = params[whole_member] if whole_member else None
        whole_algorithm = whole_member[len("Checksum"):] if whole_member else None
        if algorithm and whole_algorithm and whole_algorithm != algorithm:
            raise errors.invalid_request(f"Checksum Type mismatch occurred, expected checksum Type: "
                                         f"{algorithm.lower()}, actual checksum Type: {whole_algorithm.lower()}")
        # S3 checks the order first, then each part, then the sizes.
        previous = 0
        for part in requested:
            number = part.get("PartNumber")
            if number is None or part.get("ETag") is None:
                raise errors.malformed_xml()
            if number <= previous:
                raise errors.invalid_part_order(upload.upload_id)
            previous = number
        chosen = []
        for part in requested:
            number = part["PartNumber"]
            row = stored.get(number)
            if row is None or row["etag"].strip('"') != part["ETag"].strip().strip('"'):
                raise errors.invalid_part(upload.upload_id, number, part["ETag"])
            if algorithm:
                given = part.get(checksums.member(algorithm))
                if given is None and upload.checksum_type == "COMPOSITE" and whole is None:
                    raise errors.invalid_request(
                        f"The upload was created using a {algorithm.lower()} checksum. The complete request must "
                        f"include the checksum for each part. It was missing for part {number} in the request.")
                if given is not None and given != row["checksum_value"]:
                    raise errors.invalid_part(upload.upload_id, number, part["ETag"])
            chosen.append(row)
        for row, part in zip(chosen[:-1], requested, strict=False):
            if row["size"] < errors.MIN_PART_SIZE:
                raise errors.entity_too_small(row["size"], part["PartNumber"], part["ETag"])
        total = sum(row["size"] for row in chosen)
        if params.get("MpuObjectSize") is not None and params["MpuObjectSize"] != total:
            raise errors.invalid_request(f"The provided 'x-amz-mp-object-size' header value "
                                         f"{params['MpuObjectSize']} does not match what was computed: {total}")
        composite = None
        if algorithm and upload.checksum_type == "COMPOSITE":
            composite = checksums.composite(algorithm, [row["checksum_value"] for row in chosen])
            if whole is not None and whole not in (composite, composite.rpartition("-")[0]):
                raise errors.bad_digest_checksum(algorithm)
        full_object = algorithm if upload.checksum_type == "FULL_OBJECT" else None
        if algorithm is None and whole_algorithm:
            full_object = checksums.normalize_algorithm(whole_algorithm)  # verified over the object, and kept
        decrypts = None
        if upload.sse is not None and full_object:  # a full-object checksum describes the plaintext
            data_key = upload.data_key(customer_key)
            decrypts = [functools.partial(encryption.decrypt, data_key, base64.b64decode(row["sse_iv"]))
                        for row in chosen]
        spooled = spool.concatenate([self.store.abspath(row["path"]) for row in chosen], self.store.new_temp(),
                                    full_object, decrypts)
        record = ObjectRecord(
            bucket, key, spooled.size, checksums.multipart_etag([row["etag"].strip('"') for row in chosen]),
            objects.now(), dict(upload.headers), dict(upload.metadata),
            parts=[row["size"] for row in chosen], tags=upload.tags,
            part_details=[[row["part_number"], row["checksum_value"] if algorithm else None] for row in chosen],
        )
        if upload.sse is not None:
            record.sse = dict(upload.sse, ivs=[row["sse_iv"] for row in chosen])
        if full_object:
            if whole is not None and whole != spooled.checksum:
                self.store.discard(spooled.path)
                raise errors.bad_digest_checksum(full_object)
            record.checksum_algorithm, record.checksum_value, record.checksum_type = (
                full_object, spooled.checksum, "FULL_OBJECT")
        elif composite:
            record.checksum_algorithm, record.checksum_type, record.checksum_value = algorithm, "COMPOSITE", composite

        def finish_upload(db):
            if db.execute("DELETE FROM uploads WHERE upload_id = ?", (upload.upload_id,)).rowcount == 0:
                raise errors.no_such_upload(upload.upload_id)
            db.execute("DELETE FROM completed_uploads WHERE bucket = ? AND key = ?", (bucket, key))
            db.execute("INSERT INTO completed_uploads (upload_id, bucket, key, etag, last_modified)"
                       " VALUES (?, ?, ?, ?, ?)", (upload.upload_id, bucket, key, record.etag, record.last_modified))

        self.objects.commit(record, spooled, params, in_transaction=finish_upload,
                            after_rows=lock_rows(upload) if lock_rows is not None else None)
        with self._upload_lock(upload.upload_id):
            shutil.rmtree(self.store.upload_dir(upload.upload_id), ignore_errors=True)
        return record

    def _completed(self, bucket: str, key: str, upload_id: str | None) -> ObjectRecord | None:
        """The object a completed upload made, if it is still the key's current object: S3
        answers a retried CompleteMultipartUpload with 200 and the same ETag then."""
        row = self.store.db.query_one("SELECT bucket, key, etag, last_modified FROM completed_uploads"
                                      " WHERE upload_id = ?", (upload_id or "",))
        if row is None or (row["bucket"], row["key"]) != (bucket, key):
            return None
        current = self.objects.lookup(bucket, key)
        if current is None or (current.etag, current.last_modified) != (row["etag"], row["last_modified"]):
            return None
        return current

    # -- ListParts / ListMultipartUploads -------------------------------------------------

    def list_parts(self, account_id: str, bucket: str, key: str, params: dict) -> dict:
        upload = self.require(account_id, bucket, key, params.get("UploadId"))
        marker = params.get("PartNumberMarker") or 0
        max_parts = params.get("MaxParts")
        max_parts = MAX_LIST if max_parts is None else max(0, min(max_parts, MAX_LIST))
        rows = self.store.db.query(
            "SELECT part_number, size, etag, last_modified, checksum_value FROM parts"
            " WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?",
            (upload.upload_id, marker, max_parts + 1))
        truncated = len(rows) > max_parts
        rows = rows[:max_parts]
        parts = []
        for row in rows:
            part = {"PartNumber": row["part_number"], "LastModified": dt.datetime.fromtimestamp(
                row["last_modified"], dt.UTC), "ETag": row["etag"], "Size": row["size"]}
            if upload.checksum_algorithm and row["checksum_value"]:
                part[checksums.member(upload.checksum_algorithm)] = row["checksum_value"]
            parts.append(part)
        out = {
            "Bucket": bucket, "Key": key, "UploadId": upload.upload_id, "PartNumberMarker": marker,
            "MaxParts": max_parts, "IsTruncated": truncated, "Parts": parts,
            "Initiator": upload.initiator(), "Owner": owner(upload.owner_account),
            "StorageClass": upload.headers.get("StorageClass", "STANDARD"),
        }
        if rows:
            out["NextPartNumberMarker"] = rows[-1]["part_number"]
        if upload.checksum_algorithm:
            out["ChecksumAlgorithm"] = upload.checksum_algorithm
            out["ChecksumType"] = upload.checksum_type
        return out

    def list_uploads(self, account_id: str, bucket: str, params: dict) -> dict:
        """Uploads in key order, then by initiation time; Delimiter rolls keys up like a listing."""
        self.buckets.require(account_id, bucket)
        prefix = params.get("Prefix") or ""
        delimiter = params.get("Delimiter") or ""
        key_marker = params.get("KeyMarker")
        id_marker = params.get("UploadIdMarker") if key_marker else None
        max_uploads = params.get("MaxUploads")
        max_uploads = MAX_LIST if max_uploads is None else max(0, min(max_uploads, MAX_LIST))
        rows = self.store.db.query("SELECT * FROM uploads WHERE bucket = ? ORDER BY key, initiated, upload_id",
                                   (bucket,))
        uploads = [Upload.from_row(r) for r in rows if r["key"].startswith(prefix)]
        if key_marker is not None:
            same = [u.upload_id for u in uploads if u.key == key_marker]
            keep = set(same[same.index(id_marker) + 1:]) if id_marker in same else set()
            uploads = [u for u in uploads if u.key > key_marker or u.upload_id in keep]
        listed, prefixes, truncated = [], [], False
        last_key = last_id = None
        for upload in uploads:
            common = None
            if delimiter:
                index = upload.key.find(delimiter, len(prefix))
                if index >= 0:
                    common = upload.key[: index + len(delimiter)]
            if common is not None and (common in prefixes or (key_marker is not None and common <= key_marker)):
                continue
            if len(listed) + len(prefixes) >= max_uploads:
                truncated = True
                break
            if common is not None:
                prefixes.append(common)
                last_key, last_id = common, None
            else:
                listed.append(upload.describe())
                last_key, last_id = upload.key, upload.upload_id
        out = {
            "Bucket": bucket, "KeyMarker": key_marker or "", "UploadIdMarker": id_marker or "",
            "MaxUploads": max_uploads, "IsTruncated": truncated, "Uploads": listed,
            "CommonPrefixes": [{"Prefix": p} for p in prefixes] or None,
            "Prefix": prefix or None, "Delimiter": delimiter or None,
        }
        if truncated:
            out["NextKeyMarker"] = last_key
            out["NextUploadIdMarker"] = last_id or ""
        if params.get("EncodingType") == "url":
            out["EncodingType"] = "url"
            for upload in listed:
                upload["Key"] = url_encode(upload["Key"])
            for name in ("KeyMarker", "NextKeyMarker", "Prefix", "Delimiter"):
                if out.get(name):
                    out[name] = url_encode(out[name])
            for common in out["CommonPrefixes"] or []:
                common["Prefix"] = url_encode(common["Prefix"])
        return out
