"""The embedded stream log: per-shard append-only segment files on local disk.

    <root>/<account>/<region>/<stream>/<shard>/00000000000000000001.seg   frames (framing.py)
                                              /00000000000000000001.idx   index of a sealed segment
                                              /00000000000000000042.tail  index of the active one

A segment is named after the position of its first record. The active (last) segment
takes appends; at `segment_bytes` it is sealed: fsync'd, closed, and its index (the file
offset and arrival time of every record) written beside it. Sealed segments are never
modified again and are deleted whole by retention. Indexes stay on disk (see Segment), so
a shard's memory does not grow with the records it holds.

Durability: an append writes its frames with one `write`, then waits until an fdatasync
covers them. Concurrent appenders share fsyncs (group commit): whoever finds no sync in
flight becomes the leader and syncs everything written so far; the others wait for it.
Readers only see records that are durable, so nothing a consumer saw can vanish in a crash.

Recovery: sealed segments check their index; the active segment is scanned frame by frame
and cut at the first torn or corrupt frame (a crash mid-write leaves a partial tail,
which was never acknowledged), and its tail index is written anew.
"""

from __future__ import annotations

import bisect
import logging
import mmap
import os
import shutil
import struct
import threading
import zlib
from array import array
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from lakestack.engines.streams import ShardRef, StoredRecord, StreamLog, framing
from lakestack.runtime.files import fsync_dir

log = logging.getLogger("lakestack.streams")

SEGMENT_BYTES = 64 << 20
_INDEX_HEAD = struct.Struct("<QQ")  # record count, segment size in bytes
_I64 = struct.Struct("<q")
_CHUNK = 4096  # index entries per read when sealing: 64 KiB, below malloc's mmap threshold


class Segment:
    """One segment file and its index: the file offset and arrival time of every record.

    The index is on disk, not in memory (a shard keeps up to a year of records): a sealed
    segment's in `<base>.idx`, the active segment's in `<base>.tail`, where each append adds
    one (offset, arrival ms) pair of i64 per record. The tail is never fsync'd: recovery
    rebuilds it from the frames. Memory holds a few numbers per segment.
    """

    __slots__ = ("base", "path", "count", "size", "first_stamp", "last_stamp", "tail_fd")

    def __init__(self, base: int, path: Path):
        self.base = base
        self.path = path
        self.count = 0  # records
        self.size = 0  # bytes of whole frames
        self.first_stamp = self.last_stamp = 0  # arrival ms of the first and last record
        self.tail_fd: int | None = None  # the open tail of the active segment

    @property
    def end(self) -> int:
        return self.base + self.count

    @property
    def index_path(self) -> Path:
        return self.path.with_suffix(".idx")

    @property
    def tail_path(self) -> Path:
        return self.path.with_suffix(".tail")

    # -- the active segment's tail ------------------------------------------------------

    def open_tail(self) -> None:
        self.tail_fd = os.open(self.tail_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)

    def close_tail(self) -> None:
        if self.tail_fd is not None:
            os.close(self.tail_fd)
            self.tail_fd = None

    def append_index(self, offsets: list[int] | array, stamps: array) -> None:
        """Add records (their frames already written) to the tail."""
        entries = array("q", bytes(16 * len(offsets)))
        entries[0::2] = array("q", offsets)
        entries[1::2] = stamps
        try:
            _write_all(self.tail_fd, entries.tobytes())
        except BaseException:
            os.ftruncate(self.tail_fd, 16 * self.count)
            raise
        if entries:
            if not self.count:
                self.first_stamp = entries[1]
            self.last_stamp = entries[-1]
            self.count += len(offsets)

    def seal(self) -> None:
        """Write `.idx` from the tail (fsync'd, atomically), then drop the tail."""
        tmp = self.index_path.with_name(f".{self.index_path.name}.tmp-{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            head = _INDEX_HEAD.pack(self.count, self.size)
            _write_all(fd, head)
            crc = zlib.crc32(head)
            for column in (0, 1):  # all offsets, then all stamps
                for i in range(0, self.count, _CHUNK):
                    part = array("q", os.pread(self.tail_fd, 16 * min(_CHUNK, self.count - i), 16 * i))
                    data = part[column::2].tobytes()
                    crc = zlib.crc32(data, crc)
                    _write_all(fd, data)
            _write_all(fd, struct.pack("<I", crc))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.index_path)
        fsync_dir(self.path.parent)
        self.close_tail()
        self.tail_path.unlink(missing_ok=True)

    # -- reading the index --------------------------------------------------------------

    @contextmanager
    def _index(self):
        """(fd, where the offsets start, where the stamps start, bytes from one entry to the next)."""
        if self.tail_fd is not None:
            yield self.tail_fd, 0, 8, 16
            return
        fd = os.open(self.index_path, os.O_RDONLY)
        try:
            yield fd, _INDEX_HEAD.size, _INDEX_HEAD.size + 8 * self.count, 8
        finally:
            os.close(fd)

    def offsets(self, k: int, n: int) -> array:
        """File offsets of records k … k+n-1 (counted from `base`), then the end of the last."""
        m = min(n + 1, self.count - k)
        with self._index() as (fd, offsets, _, stride):
            found = array("q", os.pread(fd, stride * m, offsets + stride * k))[::stride // 8]
        if len(found) < n + 1:
            found.append(self.size)
        return found

    def first_at_or_after(self, timestamp_ms: int) -> int:
        """How many records arrived before `timestamp_ms` (arrival times never decrease)."""
        lo, hi = 0, self.count
        with self._index() as (fd, _, stamps, stride):
            while lo < hi:
                mid = (lo + hi) // 2
                if _I64.unpack(os.pread(fd, 8, stamps + stride * mid))[0] < timestamp_ms:
                    lo = mid + 1
                else:
                    hi = mid
        return lo

    # -- opening ------------------------------------------------------------------------

    def load_index(self) -> bool:
        """Check the sealed index against the segment file; keep only its totals."""
        try:
            size = self.path.stat().st_size
            with _mapped(self.index_path) as raw:
                if len(raw) < _INDEX_HEAD.size + 4 or \
                        struct.unpack_from("<I", raw, len(raw) - 4)[0] != zlib.crc32(memoryview(raw)[:-4]):
                    return False
                count, expected = _INDEX_HEAD.unpack_from(raw)
                if expected != size or len(raw) != _INDEX_HEAD.size + 16 * count + 4:
                    return False
                if count:
                    stamps = _INDEX_HEAD.size + 8 * count
                    self.first_stamp = _I64.unpack_from(raw, stamps)[0]
                    self.last_stamp = _I64.unpack_from(raw, stamps + 8 * (count - 1))[0]
        except OSError:
            return False
        self.count, self.size = count, size
        return True

    def scan(self) -> None:
        """Rebuild the index (as a fresh tail) from the frames; cut the file at the first bad frame."""
        offsets, stamps = array("q"), array("q")
        offset, position = 0, self.base
        with _mapped(self.path) as data:
            length = len(data)
            while offset < length:
                try:
                    record, after = framing.decode_at(data, offset)
                except framing.CorruptFrame as why:
                    log.warning("%s: cutting %d bytes after position %d (%s)", self.path, length - offset,
                                position - 1, str(why))
                    break
                if record.position != position:
                    log.warning("%s: frame at offset %d has position %d, expected %d; cutting", self.path,
                                offset, record.position, position)
                    break
                offsets.append(offset)
                stamps.append(record.timestamp_ms)
                offset, position = after, position + 1
        if offset < length:
            with open(self.path, "r+b") as f:
                f.truncate(offset)
                os.fsync(f.fileno())
        self.size = offset
        self.count = 0
        self.open_tail()
        self.append_index(offsets, stamps)


class ShardLog:
    """One shard's segments. `lock` guards appends, rolls and trims (no I/O wait under it
    but the write itself); `synced` coordinates the group commit."""

    def __init__(self, directory: Path, segment_bytes: int, first_position: int):
        self.dir = directory
        self.segment_bytes = segment_bytes
        self.lock = threading.Lock()
        self.synced = threading.Condition(threading.Lock())
        self.syncing = False
        self.segments: list[Segment] = []
        self._open(first_position)

    # -- opening and recovery -----------------------------------------------------------

    def _open(self, first_position: int) -> None:
        _make_dirs(self.dir)
        for stray in self.dir.glob(".*.tmp-*"):
            stray.unlink(missing_ok=True)
        paths = sorted(self.dir.glob("*.seg"))
        for i, path in enumerate(paths):
            segment = Segment(int(path.stem), path)
            last = i == len(paths) - 1
            if last or not segment.load_index():
                segment.scan()
                if not last:
                    segment.seal()
            else:
                segment.tail_path.unlink(missing_ok=True)  # sealed just before a crash
            if self.segments and segment.base != self.segments[-1].end:
                log.warning("%s: gap before %s; later segments ignored", self.dir, path.name)
                segment.close_tail()
                break
            self.segments.append(segment)
        if not self.segments:
            self.segments.append(self._new_segment(first_position))
        active = self.segments[-1]
        if active.tail_fd is None:  # the last good segment was sealed (a gap cut the later ones off)
            active.index_path.unlink(missing_ok=True)
            active.scan()
        self.fd = os.open(active.path, os.O_WRONLY | os.O_APPEND)
        self.next_position = active.end
        self.written = self.durable = self.next_position
        self.last_ts = max((s.last_stamp for s in self.segments if s.count), default=0)

    def _new_segment(self, base: int) -> Segment:
        segment = Segment(base, self.dir / f"{base:020d}.seg")
        fd = os.open(segment.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.close(fd)
        fsync_dir(self.dir)
        return segment

    def close(self) -> None:
        with self.lock, self.synced:
            while self.syncing:
                self.synced.wait()
            if self.fd is not None:
                os.fsync(self.fd)
                os.close(self.fd)
                self.fd = None
            self.segments[-1].close_tail()

    # -- writing ------------------------------------------------------------------------

    def write(self, records: list[tuple[str, bytes]], now_ms: int) -> tuple[int, int, int]:
        """Write frames (not yet durable): (first position, end position, arrival ms)."""
        with self.lock:
            if self.fd is None:
                raise OSError(f"shard log {self.dir} is closed")
            segment = self.segments[-1]
            timestamp = max(now_ms, self.last_ts)
            first = self.next_position
            parts, offsets = framing.encode(records, first, timestamp, segment.size)
            data = b"".join(parts)
            try:
                _write_all(self.fd, data)
                segment.append_index(offsets, array("q", [timestamp]) * len(offsets))
            except BaseException:
                os.ftruncate(self.fd, segment.size)  # leave no partial frame behind
                raise
            segment.size += len(data)
            self.next_position = end = first + len(offsets)
            self.last_ts = timestamp
            with self.synced:
                self.written = end
            if segment.size >= self.segment_bytes:
                self._roll()
            return first, end, timestamp

    def wait_durable(self, position: int) -> None:
        """Return once every record before `position` is on disk (group commit)."""
        with self.synced:
            while self.durable < position:
                if self.syncing:
                    self.synced.wait()
                    continue
                self.syncing = True
                fd, target = self.fd, self.written
                self.synced.release()
                try:
                    os.fdatasync(fd)
                finally:
                    self.synced.acquire()
                    self.syncing = False
                    self.synced.notify_all()
                self.durable = max(self.durable, target)

    def _roll(self) -> None:
        """Seal the active segment and start a new one (under `lock`)."""
        sealed = self.segments[-1]
        with self.synced:
            while self.syncing:
                self.synced.wait()
            os.fsync(self.fd)
            os.close(self.fd)
            self.durable = max(self.durable, self.written)
            fresh = self._new_segment(self.next_position)
            fresh.open_tail()
            self.fd = os.open(fresh.path, os.O_WRONLY | os.O_APPEND)
            self.synced.notify_all()
        self.segments.append(fresh)
        sealed.seal()

    # -- reading ------------------------------------------------------------------------

    def bounds(self) -> tuple[int, int]:
        with self.lock:
            return self.segments[0].base, self.durable

    def read(self, position: int, limit: int, max_bytes: int) -> tuple[list[StoredRecord], int]:
        for _ in range(3):
            plan, position = self._plan(position, limit, max_bytes)
            try:
                records = [record for item in plan for record in _read_frames(*item)]
            except FileNotFoundError:
                continue  # retention removed the segment meanwhile: read from the new oldest
            return records, (records[-1].position + 1 if records else position)
        return [], position

    def _plan(self, position: int, limit: int, max_bytes: int):
        """Which byte ranges of which files hold the records to read (decided under the lock,
        read outside it)."""
        plan = []
        with self.lock:
            end = self.durable
            position = max(position, self.segments[0].base)
            start_position = position
            bases = [s.base for s in self.segments]
            i = bisect.bisect_right(bases, position) - 1
            remaining, budget = min(limit, end - position), max_bytes
            while remaining > 0 and budget > 0 and i < len(self.segments):
                segment = self.segments[i]
                k = position - segment.base
                n = min(remaining, segment.count - k)
                if n <= 0:
                    i += 1
                    continue
                offsets = segment.offsets(k, n)  # record k+j starts at offsets[j]; offsets[n] ends them
                start = offsets[0]
                full = offsets[n] - start > budget
                if full:
                    # The most whole records that fit the byte budget, at least one.
                    fit = bisect.bisect_right(offsets, start + budget, 1, n) - 1
                    n = max(1, fit) if not plan else fit
                    if n <= 0:
                        break
                stop = offsets[n]
                plan.append((segment.path, start, stop, n))
                position += n
                if full:
                    break  # the next record would not fit
                budget -= stop - start
                remaining -= n
                i += 1
        return plan, (position if plan else start_position)

    def position_at(self, timestamp_ms: int) -> int:
        with self.lock:
            for segment in self.segments:
                if segment.count and segment.last_stamp >= timestamp_ms:
                    return min(segment.base + segment.first_at_or_after(timestamp_ms), self.durable)
            return self.durable

    # -- retention ------------------------------------------------------------------------

    def trim(self, before_ms: int) -> int:
        """Delete whole segments whose every record arrived before `before_ms`."""
        doomed = []
        with self.lock:
            while self.segments and self.segments[0].count and self.segments[0].last_stamp < before_ms:
                if len(self.segments) == 1:
                    self._roll()  # the active segment has expired too: seal it first
                doomed.append(self.segments.pop(0))
        for segment in doomed:
            segment.path.unlink(missing_ok=True)
            segment.index_path.unlink(missing_ok=True)
        if doomed:
            fsync_dir(self.dir)
        return len(doomed)


def _read_frames(path: Path, start: int, stop: int, count: int) -> list[StoredRecord]:
    with open(path, "rb") as f:
        buf = os.pread(f.fileno(), stop - start, start)
    records, offset = [], 0
    for _ in range(count):
        try:
            record, offset = framing.decode_at(buf, offset)
        except framing.CorruptFrame as why:
            raise OSError(f"{path}: corrupt frame at offset {start + offset}: {why}") from None
        records.append(record)
    return records


@contextmanager
def _mapped(path: Path):
    """A file's bytes, mapped rather than read: recovery reads whole segments (64 MiB), and
    one malloc that large would leave glibc serving every later buffer under 32 MiB from
    its heaps (its mmap threshold follows the largest block freed), which keep them."""
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            yield b""
            return
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            yield data


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _make_dirs(directory: Path) -> None:
    """mkdir -p, fsyncing each parent that gained an entry so the path survives a crash."""
    missing = []
    path = directory
    while not path.exists():
        missing.append(path)
        path = path.parent
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue
        fsync_dir(path.parent)


class SegmentLog(StreamLog):
    """All shards' logs under one root folder, opened on first use."""

    first_position = 1

    def __init__(self, root: Path, segment_bytes: int = SEGMENT_BYTES):
        self.root = Path(root)
        self.segment_bytes = segment_bytes
        self._logs: dict[ShardRef, ShardLog] = {}
        self._lock = threading.Lock()
        self._syncers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="lakestack-fsync")

    def path(self, ref: ShardRef) -> Path:
        return self.root / ref.account / ref.region / ref.stream / ref.shard

    def _log(self, ref: ShardRef, create: bool) -> ShardLog | None:
        shard_log = self._logs.get(ref)
        if shard_log is not None:
            return shard_log
        with self._lock:
            shard_log = self._logs.get(ref)
            if shard_log is None:
                if not create and not self.path(ref).exists():
                    return None
                shard_log = self._logs[ref] = ShardLog(self.path(ref), self.segment_bytes, self.first_position)
            return shard_log

    def append(self, batches, now_ms):
        written = {ref: self._log(ref, create=True).write(records, now_ms) for ref, records in batches.items()
                   if records}
        # One fsync per shard file: issue them side by side (the disk merges them; the GIL is
        # released while they wait) rather than one after another.
        waits = [(self._logs[ref], end) for ref, (_, end, _) in written.items()]
        others = [self._syncers.submit(shard_log.wait_durable, end) for shard_log, end in waits[1:]]
        if waits:
            waits[0][0].wait_durable(waits[0][1])
        for future in others:
            future.result()
        return {ref: (list(range(first, end)), timestamp) for ref, (first, end, timestamp) in written.items()}

    def read(self, ref, position, limit, max_bytes):
        shard_log = self._log(ref, create=False)
        if shard_log is None:
            return [], max(position, self.first_position)
        return shard_log.read(position, limit, max_bytes)

    def bounds(self, ref):
        shard_log = self._log(ref, create=False)
        return shard_log.bounds() if shard_log is not None else (self.first_position, self.first_position)

    def position_at(self, ref, timestamp_ms):
        shard_log = self._log(ref, create=False)
        return shard_log.position_at(timestamp_ms) if shard_log is not None else self.first_position

    def trim(self, ref, before_ms):
        shard_log = self._log(ref, create=False)
        if shard_log is not None:
            shard_log.trim(before_ms)

    def drop(self, refs):
        streams = set()
        with self._lock:
            logs = [self._logs.pop(ref, None) for ref in refs]
        for ref, shard_log in zip(refs, logs, strict=True):
            if shard_log is not None:
                shard_log.close()
            shutil.rmtree(self.path(ref), ignore_errors=True)
            streams.add(self.path(ref).parent)
        for directory in streams:
            try:
                directory.rmdir()  # only once its last shard is gone
            except OSError:
                pass
            if directory.parent.exists():
                fsync_dir(directory.parent)

    def drop_leftovers(self, account, region, stream):
        directory = self.root / account / region / stream
        if directory.exists():
            log.warning("removing leftover data of an earlier stream %s in %s", stream, directory)
            shutil.rmtree(directory, ignore_errors=True)
            fsync_dir(directory.parent)

    def close(self):
        self._syncers.shutdown(wait=True)
        with self._lock:
            logs, self._logs = list(self._logs.values()), {}
        for shard_log in logs:
            shard_log.close()
