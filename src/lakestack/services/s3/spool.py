"""Bytes into a temp file, hashed on the way, fsync'd before anyone is told about them.

Every write path (PutObject, UploadPart, copies, CompleteMultipartUpload) ends in a `Spooled`
file that the store then commits. The bytes pass through Python once: each chunk updates the
ETag's MD5 and the requested checksum, then goes to the file.
"""

from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from lakestack.services.s3 import checksums, errors

CHUNK = 1 << 20
COPY_CHUNK = 8 << 20
ASYNC_HASH_MIN = 64 * 1024
# Large bodies are flushed to disk as they arrive rather than all at the end: the final
# fdatasync of a 256 MiB PUT would otherwise wait ~0.1 s for writeback after the last byte.
EARLY_SYNC_EVERY = 16 << 20
_fdatasync = getattr(os, "fdatasync", os.fsync)
SMALL_FILE = 64 * 1024


class SyncLatency:
    """A moving average of how long the fsync of a small file takes: whether this disk is
    quick enough for small writes to wait for it on the event loop (see S3Provider)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def add(self, seconds: float) -> None:
        self.seconds += (seconds - self.seconds) * 0.2  # races lose a sample at worst


small_file_sync = SyncLatency()


@cache
def _hash_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=8, thread_name_prefix="lakestack-s3-hash")


@dataclass
class Spooled:
    rel: str  # temp path relative to home
    path: Path
    size: int
    md5_hex: str | None
    checksum_algorithm: str | None = None
    checksum: str | None = None  # base64 of the checksum's digest


class _Writer:
    """A temp file with its digests; removed unless `finish` is reached."""

    def __init__(self, rel: str, path: Path, md5: bool, algorithm: str | None, cipher=None):
        self.rel, self.path = rel, path
        # SSE-C (encryption.Encryptor): the digests describe the plaintext, the file holds its output.
        self.cipher = cipher
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        self.md5 = hashlib.md5() if md5 else None
        self.algorithm = algorithm
        self.checksum = checksums.new(algorithm) if algorithm else None
        self.size = 0
        self._hashing: list[Future] = []
        self._syncing: Future | None = None
        self._unsynced = 0

    def _hash(self, data) -> None:
        if self.md5 is not None:
            self.md5.update(data)
        if self.checksum is not None:
            self.checksum.update(data)

    def write(self, data, plain=None) -> None:
        """`plain`: what the digests describe when it is not `data` (SSE-C parts joined as they are)."""
        # MD5 (~700 MB/s) is the slowest step of a PUT. hashlib and zlib release the GIL on
        # big buffers, so hashing chunk n on a helper thread overlaps with writing it and with
        # receiving (and SigV4-hashing) chunk n+1: ~15% more PUT throughput for large objects.
        # One chunk in flight keeps the digests in order. `data` is immutable bytes.
        self._wait_for_hash()
        hashed = data if plain is None else plain
        if len(hashed) >= ASYNC_HASH_MIN and isinstance(hashed, bytes):
            # MD5 and the checksum each on their own thread, so they run side by side.
            pool = _hash_pool()
            self._hashing = [pool.submit(digest.update, hashed) for digest in (self.md5, self.checksum)
                             if digest is not None]
        else:
            self._hash(hashed)
        if self.cipher is not None:
            data = self.cipher.update(data)
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
        self.wrote(len(data))

    def wrote(self, count: int) -> None:
        """`count` more bytes are in the file (written here, or copied in by the kernel)."""
        self.size += count
        self._unsynced += count
        if self._unsynced >= EARLY_SYNC_EVERY and (self._syncing is None or self._syncing.done()):
            self._unsynced = 0
            self._syncing = _hash_pool().submit(_fdatasync, self.fd)

    def _wait_for_hash(self) -> None:
        hashing, self._hashing = self._hashing, []
        for future in hashing:
            future.result()

    def _wait_for_sync(self) -> None:
        syncing, self._syncing = self._syncing, None
        if syncing is not None:
            syncing.result()

    def finish(self) -> Spooled:
        self._wait_for_hash()
        self._wait_for_sync()
        started = time.perf_counter()
        _fdatasync(self.fd)
        if self.size <= SMALL_FILE:
            small_file_sync.add(time.perf_counter() - started)
        os.close(self.fd)
        self.fd = -1
        return Spooled(
            self.rel, self.path, self.size,
            self.md5.hexdigest() if self.md5 is not None else None,
            self.algorithm,
            checksums.encode(self.checksum.digest()) if self.checksum is not None else None,
        )

    def abort(self) -> None:
        for wait in (self._wait_for_hash, self._wait_for_sync):  # before the fd may close
            try:
                wait()
            except Exception:  # the digest and the file are being thrown away anyway
                pass
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def receive(reader, temp: tuple[str, Path], algorithm: str | None, limit: int, cipher=None) -> Spooled:
    """Stream a request body (a BodyReader, or None for an empty one) to a temp file."""
    writer = _Writer(*temp, md5=True, algorithm=algorithm, cipher=cipher)
    try:
        if reader is not None:
            read = getattr(reader, "read_chunk", None) or reader.read
            while True:
                chunk = read(CHUNK)
                if not chunk:
                    break
                writer.write(chunk)
                if writer.size > limit:
                    raise errors.entity_too_large(writer.size, limit)
        return writer.finish()
    except BaseException:
        writer.abort()
        raise


def copy_range(source, offset: int, length: int, temp: tuple[str, Path], md5: bool,
               algorithm: str | None, decrypt=None, cipher=None) -> Spooled:
    """Copy `length` bytes of an open file from `offset` into a temp file.

    Without digests to compute, the kernel copies (copy_file_range: no trip through Python,
    and a reflink on filesystems that support it). SSE-C: `decrypt(offset, data)` reads an
    encrypted source, `cipher` encrypts the copy.
    """
    writer = _Writer(*temp, md5=md5, algorithm=algorithm, cipher=cipher)
    try:
        src_fd = source.fileno()
        remaining = length
        position = offset
        if (not md5 and algorithm is None and decrypt is None and cipher is None
                and hasattr(os, "copy_file_range")):
            try:
                while remaining > 0:
                    copied = os.copy_file_range(src_fd, writer.fd, min(remaining, EARLY_SYNC_EVERY), position)
                    if copied == 0:
                        break
                    position += copied
                    remaining -= copied
                    writer.wrote(copied)
            except OSError:
                pass  # e.g. across filesystems on old kernels: fall back to read/write
        while remaining > 0:
            chunk = os.pread(src_fd, min(COPY_CHUNK, remaining), position)
            if not chunk:
                break
            writer.write(decrypt(position, chunk) if decrypt is not None else chunk)
            position += len(chunk)
            remaining -= len(chunk)
        if remaining:
            raise OSError(f"source file ended {remaining} bytes early")
        return writer.finish()
    except BaseException:
        writer.abort()
        raise


def concatenate(paths: list[Path], temp: tuple[str, Path], algorithm: str | None, decrypts=None) -> Spooled:
    """Join multipart parts into one temp file (hashing only when a full-object checksum is
    wanted; the multipart ETag comes from the parts' MD5s). SSE-C parts are joined as they are;
    `decrypts[i](offset, data)` gives part i's plaintext for the checksum."""
    writer = _Writer(*temp, md5=False, algorithm=algorithm)
    try:
        for index, path in enumerate(paths):
            with open(path, "rb") as part:
                size = os.fstat(part.fileno()).st_size
                if algorithm is None and hasattr(os, "copy_file_range"):
                    _kernel_copy(part.fileno(), writer, size)
                else:
                    offset = 0
                    while chunk := part.read(COPY_CHUNK):
                        writer.write(chunk, decrypts[index](offset, chunk) if decrypts else None)
                        offset += len(chunk)
        return writer.finish()
    except BaseException:
        writer.abort()
        raise


def _kernel_copy(src_fd: int, writer: _Writer, size: int) -> None:
    position = 0
    try:
        while position < size:
            copied = os.copy_file_range(src_fd, writer.fd, size - position, position)
            if copied == 0:
                break
            position += copied
            writer.wrote(copied)
    except OSError:
        pass
    while position < size:
        chunk = os.pread(src_fd, min(COPY_CHUNK, size - position), position)
        if not chunk:
            raise OSError("part file ended early")
        writer.write(chunk)
        position += len(chunk)


@dataclass
class Incoming:
    """A request body and what the client said about it."""

    reader: object | None
    expected_size: int | None = None  # Content-Length, or x-amz-decoded-content-length for aws-chunked
    trailer_names: list[str] = field(default_factory=list)  # x-amz-trailer
    context_trailers: dict = field(default_factory=dict)

    def trailers(self) -> dict[str, str]:
        found = getattr(self.reader, "trailers", None) or self.context_trailers or {}
        return {k.lower(): v for k, v in found.items()}


def receive_checked(incoming: Incoming, params: dict, temp: tuple[str, Path], limit: int,
                    default_algorithm: str | None = None, cipher=None) -> Spooled:
    """Spool a body and hold it to Content-MD5, the x-amz-checksum-* header or trailer, and the
    declared length. Raises BadDigest / InvalidDigest / InvalidRequest / IncompleteBody."""
    md5_expected = checksums.content_md5(params.get("ContentMD5"))
    algorithm, expected = checksums.supplied(params, incoming.trailer_names)
    algorithm = algorithm or default_algorithm
    if incoming.expected_size is not None and incoming.expected_size > limit:
        raise errors.entity_too_large(incoming.expected_size, limit)
    spooled = receive(incoming.reader, temp, algorithm, limit, cipher)
    try:
        if incoming.expected_size is not None and spooled.size < incoming.expected_size:
            raise errors.incomplete_body()
        if md5_expected is not None and md5_expected.hex() != spooled.md5_hex:
            raise errors.bad_digest_md5()
        if algorithm and expected is None:
            trailer = incoming.trailers().get(f"x-amz-checksum-{algorithm.lower()}")
            if trailer is not None:
                expected = checksums.decode_expected(algorithm, trailer)
        if expected is not None and expected != spooled.checksum:
            raise errors.bad_digest_checksum(algorithm)
    except BaseException:
        try:
            os.unlink(spooled.path)
        except FileNotFoundError:
            pass
        raise
    return spooled
