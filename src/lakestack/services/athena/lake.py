"""The lake as Athena's queries see it: S3 locations mapped to the plain files that hold the
objects, so DuckDB reads them in place, and writes that go through S3's PutObject.

Everything is done as the caller: listing a location needs s3:ListBucket, reading a file
s3:GetObject on its object, writing s3:PutObject — as on AWS, where Athena uses the
caller's credentials for S3.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlparse

from lakestack.aws.errors import AwsError
from lakestack.engines.sql.errors import DATA_ERROR, QueryError


@dataclass(frozen=True)
class LakeFile:
    uri: str
    path: str
    size: int


def split_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme not in ("s3", "s3a", "s3n") or not parsed.netloc:
        raise QueryError("INVALID_TABLE_PROPERTY", f"Invalid S3 location: {uri}")
    return parsed.netloc, parsed.path.lstrip("/")


def as_folder(uri: str) -> str:
    return uri if uri.endswith("/") else uri + "/"


def _hidden(relative: str) -> bool:
    # Hive and Athena skip files whose name starts with _ or . (_SUCCESS, .crc, …).
    return any(part.startswith(("_", ".")) for part in relative.split("/") if part)


class Lake:
    def __init__(self, stack, principal, region: str):
        self.stack = stack
        self.principal = principal
        self.region = region
        self.s3 = stack.provider("s3")

    def _allowed(self, action: str, resource: str) -> bool:
        return self.stack.authorizer.is_allowed(self.principal, action, resource, {})

    def _denied(self, action: str, resource: str) -> QueryError:
        return QueryError("PERMISSION_DENIED",
                          f"Access denied when reading {resource}: {self.principal.arn} is not authorized to "
                          f"perform: {action}", DATA_ERROR)

    def files(self, location: str, recursive: bool = True) -> list[LakeFile]:
        """The data files under a location (a folder), in key order."""
        bucket, prefix = split_uri(as_folder(location))
        if not self._allowed("s3:ListBucket", f"arn:aws:s3:::{bucket}"):
            raise self._denied("s3:ListBucket", f"s3://{bucket}")
        try:
            found = self.s3.local_paths(self.principal.account_id, bucket, prefix)
        except AwsError as error:
            if error.code == "NoSuchBucket":
                return []
            raise QueryError("PERMISSION_DENIED", f"Cannot read s3://{bucket}/{prefix}: {error.message}",
                             DATA_ERROR) from None
        files = []
        for key, path in sorted(found.items()):
            relative = key[len(prefix):]
            if not relative or key.endswith("/") or _hidden(relative):
                continue
            if not recursive and "/" in relative:
                continue
            if not self._allowed("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}"):
                raise self._denied("s3:GetObject", f"s3://{bucket}/{key}")
            try:
                size = os.path.getsize(path)
            except OSError:  # deleted since it was listed
                continue
            if size == 0:
                continue
            files.append(LakeFile(f"s3://{bucket}/{key}", path, size))
        return files

    def keys(self, location: str) -> list[str]:
        """Every key under a location, hidden files included (for emptiness checks)."""
        bucket, prefix = split_uri(as_folder(location))
        try:
            return sorted(self.s3.local_paths(self.principal.account_id, bucket, prefix))
        except AwsError:
            return []

    def put(self, uri: str, body, size: int | None = None, content_type: str | None = None) -> None:
        bucket, key = split_uri(uri)
        params = {"Bucket": bucket, "Key": key, "Body": body}
        if size is not None:
            params["ContentLength"] = size
        if content_type:
            params["ContentType"] = content_type
        self.stack.call("s3", "PutObject", params, self.principal, region=self.region)

    def put_file(self, uri: str, path: str, content_type: str | None = None) -> None:
        with open(path, "rb") as body:
            self.put(uri, body, os.path.getsize(path), content_type)

    def get(self, uri: str, start: int = 0) -> bytes:
        bucket, key = split_uri(uri)
        params = {"Bucket": bucket, "Key": key}
        if start:
            params["Range"] = f"bytes={start}-"
        try:
            output = self.stack.call("s3", "GetObject", params, self.principal, region=self.region)
        except AwsError as error:
            if error.code == "InvalidRange":
                return b""
            raise
        body = output.get("Body", b"")
        if isinstance(body, bytes | bytearray):
            return bytes(body)
        try:
            return body.read()
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    def delete(self, uri: str) -> None:
        bucket, key = split_uri(uri)
        self.stack.call("s3", "DeleteObject", {"Bucket": bucket, "Key": key}, self.principal, region=self.region)
