"""The embedded stream log: per-shard append-only segment files on local disk.

    <root>/<account>/<region>/<stream>/<shard>/00000000000000000001.seg   frames (framing.py)
                                              /00000000000000000001.idx   index of a sealed segment

A segment is named after the position of its first record. The active (last) segment
takes appends; at `segment_bytes` it is sealed: fsync'd, closed, and its index (the file
offset and arrival time of every record) written beside it. Sealed segments are never
modified again and are deleted whole by retention.

Durability: an append writes its frames with one `write`, then waits until an fdatasync
covers them. Concurrent appenders share fsyncs (group commit): whoever finds no sync in
flight becomes the leader and syncs everything written so far; the others wait for it.
Readers only see records that are durable, so nothing a consumer saw can vanish in a crash.

Recovery: sealed segments load their index; the active segment is scanned frame by frame
and cut at the first torn or corrupt frame (a crash mid-write leaves a partial tail,
which was never acknowledged).
"""

from __future__ import annotations

import bisect
import logging
import os
import shutil
import struct
import threading
import zlib
from array import array
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lakestack.engines.streams import ShardRef, StoredRecord, StreamLog, framing
from lakestack.runtime.files import atomic_write, fsync_dir

log = logging.getLogger("lakestack.streams")

SEGMENT_BYTES = 64 << 20
_INDEX_HEAD = struct.Struct("<QQ")  # record count, segment size in bytes


class Segment:
    __slots__ = ("base", "path", "offsets", "stamps", "size")

    def __init__(self, base: int, path: Path):
        self.base = base
        self.path = path
        self.offsets = array("Q")  # file offset of each record's frame
        self.stamps = array("q")  # arrival ms of each record (non-decreasing)
        self.size = 0

    @property
    def end(self) -> int:
        return self.base + len(self.offsets)

    @property
    def index_path(self) -> Path:
        return self.path.with_suffix(".idx")

    def frame_end(self, i: int) -> int:
        """File offset just past record i (relative to base)."""
        return self.offsets[i + 1] if i + 1 < len(self.offsets) else self.size

    def write_index(self) -> None:
        body = _INDEX_HEAD.pack(len(self.offsets), self.size) + self.offsets.tobytes() + self.stamps.tobytes()
        atomic_write(self.index_path, body + struct.pack("<I", zlib.crc32(body)), mode=0o644)

    def load_index(self) -> bool:
        try:
            raw = self.index_path.read_bytes()
            size = self.path.stat().st_size
        except OSError:
            return False
        if len(raw) < _INDEX_HEAD.size + 4 or struct.unpack("<I", raw[-4:])[0] != zlib.crc32(raw[:-4]):
            return False
        count, expected = _INDEX_HEAD.unpack_from(raw)
        if expected != size or len(raw) != _INDEX_HEAD.size + 16 * count + 4:
            return False
        start = _INDEX_HEAD.size
        self.offsets = array("Q", raw[start:start + 8 * count])
        self.stamps = array("q", raw[start + 8 * count:start + 16 * count])
        self.size = size
        return True

    def scan(self) -> None:
        """Rebuild the index from the frames; cut the file at the first bad frame."""
        data = self.path.read_bytes()
        offset, position = 0, self.base
        while offset < len(data):
            try:
                record, after = framing.decode_at(data, offset)
            except framing.CorruptFrame as why:
                log.warning("%s: cutting %d bytes after position %d (%s)", self.path, len(data) - offset,
                            position - 1, why)
                break
            if record.position != position:
                log.warning("%s: frame at offset %d has position %d, expected %d; cutting", self.path, offset,
                            record.position, position)
                break
            self.offsets.append(offset)
            self.stamps.append(record.timestamp_ms)
            offset, position = after, position + 1
        if offset < len(data):
            with open(self.path, "r+b") as f:
                f.truncate(offset)
                os.fsync(f.fileno())
        self.size = offset


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
            if i == len(paths) - 1 or not segment.load_index():
                segment.scan()
            if self.segments and segment.base != self.segments[-1].end:
                log.warning("%s: gap before %s; later segments ignored", self.dir, path.name)
                break
            self.segments.append(segment)
        if not self.segments:
            self.segments.append(self._new_segment(first_position))
        active = self.segments[-1]
        self.fd = os.open(active.path, os.O_WRONLY | os.O_APPEND)
        self.next_position = active.end
        self.written = self.durable = self.next_position
        self.last_ts = max((s.stamps[-1] for s in self.segments if s.stamps), default=0)

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
            except BaseException:
                os.ftruncate(self.fd, segment.size)  # leave no partial frame behind
                raise
            segment.offsets.extend(offsets)
            segment.stamps.extend([timestamp] * len(offsets))
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
            self.fd = os.open(fresh.path, os.O_WRONLY | os.O_APPEND)
            self.synced.notify_all()
        self.segments.append(fresh)
        sealed.write_index()

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
                n = min(remaining, len(segment.offsets) - k)
                if n <= 0:
                    i += 1
                    continue
                start = segment.offsets[k]
                if segment.frame_end(k + n - 1) - start > budget:
                    # The most whole records that fit the byte budget, at least one.
                    fit = bisect.bisect_right(segment.offsets, start + budget, k + 1, k + n) - 1 - k
                    n = max(1, fit) if not plan else fit
                    if n <= 0:
                        break
                stop = segment.frame_end(k + n - 1)
                plan.append((segment.path, start, stop, n))
                budget -= stop - start
                position += n
                remaining -= n
                i += 1
        return plan, (position if plan else start_position)

    def position_at(self, timestamp_ms: int) -> int:
        with self.lock:
            for segment in self.segments:
                if segment.stamps and segment.stamps[-1] >= timestamp_ms:
                    return min(segment.base + bisect.bisect_left(segment.stamps, timestamp_ms), self.durable)
            return self.durable

    # -- retention ------------------------------------------------------------------------

    def trim(self, before_ms: int) -> int:
        """Delete whole segments whose every record arrived before `before_ms`."""
        doomed = []
        with self.lock:
            while self.segments and self.segments[0].stamps and self.segments[0].stamps[-1] < before_ms:
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
