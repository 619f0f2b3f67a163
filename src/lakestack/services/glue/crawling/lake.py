"""The crawler's view of the lake: S3 reached through S3's public operations, as the
crawler's role, so a role that may not read a bucket cannot crawl it.

Objects are listed a thousand at a time and read with ranged GETs: a text file's first
megabyte, or for Parquet and ORC whatever the footer reader seeks to.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

from lakestack.aws.context import Principal
from lakestack.aws.errors import AwsError
from lakestack.services.glue.crawling.formats import FIRST_READ, HEAD_BYTES, Sample

# Columnar formats keep their schema in a footer: their first bytes only identify them.
_COLUMNAR_MAGIC = (b"PAR1", b"ORC")


@dataclass(frozen=True)
class LakeObject:
    bucket: str
    key: str
    size: int
    modified: float


def parse_s3_path(path: str) -> tuple[str, str]:
    """(bucket, key prefix ending in '/' or '') of an include path such as s3://bucket/folder."""
    if not path.startswith("s3://"):
        raise ValueError(f"not an S3 path: {path}")
    bucket, _, prefix = path[5:].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {path}")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return bucket, prefix


def _body_bytes(body) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    try:
        return body.read()
    finally:
        body.close()


class Lake:
    def __init__(self, stack, principal: Principal, region: str):
        self.stack = stack
        self.principal = principal
        self.region = region
        self._paths: dict[str, dict[str, str]] = {}  # bucket → key → file, for objects read in place

    def locate(self, bucket: str, prefix: str) -> None:
        """Learn where S3 keeps the files of the objects under `prefix` (one index query)."""
        try:
            found = self.stack.provider("s3").local_paths(self.principal.account_id, bucket, prefix)
        except AwsError:
            return  # another account's bucket: every read goes through GetObject
        self._paths.setdefault(bucket, {}).update(found)

    def _s3(self, operation: str, params: dict) -> dict:
        return self.stack.call("s3", operation, params, self.principal, region=self.region)

    def list(self, bucket: str, prefix: str):
        """Every object under the prefix, in key order."""
        token = None
        while True:
            params = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": 1000}
            if token:
                params["ContinuationToken"] = token
            page = self._s3("ListObjectsV2", params)
            for item in page.get("Contents") or ():
                yield LakeObject(bucket, item["Key"], item["Size"], item["LastModified"].timestamp())
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return

    def read_range(self, obj: LakeObject, first: int, last: int) -> bytes:
        params = {"Bucket": obj.bucket, "Key": obj.key}
        if first > 0 or last < obj.size - 1:
            params["Range"] = f"bytes={first}-{last}"
        return _body_bytes(self._s3("GetObject", params).get("Body"))

    def sample(self, obj: LakeObject) -> Sample:
        """The start of an object, read from its file in place when S3 keeps it as one
        (after the same s3:GetObject check a GET makes), else with a ranged GET."""
        path = self._local_path(obj)
        if path is not None:
            try:
                head = _read_head(path, obj.size)
                return Sample(obj.key, obj.size, head, lambda: open(path, "rb"), path=path)
            except FileNotFoundError:  # deleted or replaced since it was listed: ask S3 itself
                pass
        head = self.read_range(obj, 0, min(obj.size, HEAD_BYTES) - 1) if obj.size else b""
        return Sample(obj.key, obj.size, head, lambda: LakeFile(self, obj, head))

    def _local_path(self, obj: LakeObject):
        arn = f"arn:aws:s3:::{obj.bucket}/{obj.key}"
        # The check Stack.call would make for GetObject, so reading in place grants nothing more.
        if not self.stack.authorizer.is_allowed(self.principal, "s3:GetObject", arn, {}):
            raise AwsError("AccessDenied", f"{self.principal.arn} is not authorized to perform: s3:GetObject on "
                           f"resource: {arn}", status=403)
        return self._paths.get(obj.bucket, {}).get(obj.key)


def _read_head(path: str, size: int) -> bytes:
    """The start of a file: enough to recognise a columnar file, else the text sample."""
    fd = os.open(path, os.O_RDONLY)
    try:
        head = os.read(fd, FIRST_READ)
        if not head.startswith(_COLUMNAR_MAGIC):
            while len(head) < min(size, HEAD_BYTES):
                chunk = os.read(fd, HEAD_BYTES - len(head))
                if not chunk:
                    break
                head += chunk
        return head
    finally:
        os.close(fd)


class LakeFile(io.RawIOBase):
    """A seekable, read-only file over one object, for pyarrow's footer readers. The first
    megabyte is already in hand; anything else is a ranged GET."""

    def __init__(self, lake: Lake, obj: LakeObject, head: bytes):
        super().__init__()
        self._lake = lake
        self._obj = obj
        self._head = head
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def size(self) -> int:
        return self._obj.size

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._obj.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, n: int = -1) -> bytes:
        end = self._obj.size if n is None or n < 0 else min(self._obj.size, self._pos + n)
        if end <= self._pos:
            return b""
        if end <= len(self._head):
            data = self._head[self._pos:end]
        else:
            data = self._lake.read_range(self._obj, self._pos, end - 1)
        self._pos += len(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)
