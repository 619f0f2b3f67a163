"""The embedded stream log on its own: framing, segment rolls, recovery of a torn tail,
sealed-segment indexes, whole-segment retention, and group commit under concurrency."""

import os
import threading

import pytest

from lakestack.engines.streams import ShardRef, framing
from lakestack.engines.streams.segments import SegmentLog

REF = ShardRef("000000000000", "us-east-1", "s", "ab" * 16, "shardId-000000000000")


def records(prefix, n, size=10):
    return [(f"key-{i % 3}", f"{prefix}-{i}-".encode().ljust(size, b".")) for i in range(n)]


def data_of(log, position=0, limit=10_000, max_bytes=1 << 30):
    found, _ = log.read(REF, position, limit, max_bytes)
    return [r.data for r in found]


def test_append_read_and_positions(tmp_path):
    log = SegmentLog(tmp_path)
    assert log.bounds(REF) == (1, 1)
    [(positions, stamp)] = log.append({REF: records("a", 5)}, now_ms=1000).values()
    assert positions == [1, 2, 3, 4, 5] and stamp == 1000
    # Arrival times never go backwards, even if the clock does.
    [(positions, stamp)] = log.append({REF: records("b", 2)}, now_ms=500).values()
    assert positions == [6, 7] and stamp == 1000
    found, next_position = log.read(REF, 3, 2, 1 << 20)
    assert [r.position for r in found] == [3, 4] and next_position == 5
    assert found[0].partition_key == "key-2" and found[0].timestamp_ms == 1000
    # At least one record is returned even over the byte budget; then only what fits.
    assert len(log.read(REF, 1, 100, 1)[0]) == 1
    assert log.position_at(REF, 1000) == 1 and log.position_at(REF, 1001) == 8
    log.close()


def test_segments_roll_and_reopen_from_their_index(tmp_path):
    log = SegmentLog(tmp_path, segment_bytes=300)
    for i in range(10):
        log.append({REF: records(f"r{i}", 3)}, now_ms=1000 + i)
    shard_dir = log.path(REF)
    segments = sorted(shard_dir.glob("*.seg"))
    assert len(segments) > 3 and len(list(shard_dir.glob("*.idx"))) == len(segments) - 1
    expected = data_of(log)
    assert len(expected) == 30
    # Reads spanning segments, in small pages.
    paged, position = [], 0
    while True:
        found, position = log.read(REF, position, 4, 1 << 20)
        if not found:
            break
        paged += [r.data for r in found]
    assert paged == expected
    log.close()
    reopened = SegmentLog(tmp_path, segment_bytes=300)
    assert data_of(reopened) == expected
    assert reopened.bounds(REF) == (1, 31)
    [(positions, _)] = reopened.append({REF: records("more", 1)}, now_ms=5000).values()
    assert positions == [31]
    reopened.close()


def test_recovery_cuts_a_torn_tail(tmp_path):
    log = SegmentLog(tmp_path)
    log.append({REF: records("whole", 4, size=100)}, now_ms=1)
    log.close()
    segment = sorted(log.path(REF).glob("*.seg"))[-1]
    whole = segment.read_bytes()
    # A crash mid-write: half of a fifth frame made it to disk.
    partial = SegmentLog(tmp_path / "other")
    partial.append({REF: records("x", 1, size=100)}, now_ms=1)
    partial.close()
    frame = sorted(partial.path(REF).glob("*.seg"))[-1].read_bytes()
    segment.write_bytes(whole + frame[: len(frame) // 2])
    recovered = SegmentLog(tmp_path)
    assert len(data_of(recovered)) == 4
    assert segment.stat().st_size == len(whole)
    [(positions, _)] = recovered.append({REF: records("next", 1)}, now_ms=2).values()
    assert positions == [5]
    recovered.close()


def test_recovery_cuts_at_a_corrupt_frame(tmp_path):
    log = SegmentLog(tmp_path)
    log.append({REF: records("c", 6, size=50)}, now_ms=1)
    log.close()
    segment = sorted(log.path(REF).glob("*.seg"))[-1]
    raw = bytearray(segment.read_bytes())
    raw[-5] ^= 0xFF  # flip a byte inside the last frame's data
    segment.write_bytes(bytes(raw))
    recovered = SegmentLog(tmp_path)
    assert len(data_of(recovered)) == 5
    recovered.close()


def test_retention_deletes_whole_segments_only(tmp_path):
    log = SegmentLog(tmp_path, segment_bytes=200)
    for i in range(6):
        log.append({REF: records(f"t{i}", 2, size=60)}, now_ms=1000 * (i + 1))
    before = sorted(log.path(REF).glob("*.seg"))
    log.trim(REF, 3500)  # records at 1000..3000 expired
    after = sorted(log.path(REF).glob("*.seg"))
    assert len(after) < len(before)
    remaining = data_of(log)
    assert all(not d.startswith((b"t0", b"t1")) for d in remaining)
    assert any(d.startswith(b"t2") for d in remaining) or log.bounds(REF)[0] > 1
    assert remaining[-1].startswith(b"t5")
    log.trim(REF, 10_000)  # everything, including the active segment
    assert data_of(log) == [] and log.bounds(REF)[0] == log.bounds(REF)[1] == 13
    [(positions, _)] = log.append({REF: records("new", 1)}, now_ms=20_000).values()
    assert positions == [13] and data_of(log) == [b"new-0-...."]
    log.close()


def test_concurrent_appends_share_fsyncs_and_lose_nothing(tmp_path, monkeypatch):
    syncs = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (syncs.append(fd), real(fd)))
    log = SegmentLog(tmp_path, segment_bytes=64 << 10)
    results = {}

    def writer(n):
        results[n] = [log.append({REF: records(f"w{n}.{i}", 5)}, now_ms=i)[REF][0] for i in range(40)]

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    positions = [p for batches in results.values() for batch in batches for p in batch]
    assert sorted(positions) == list(range(1, 1601))
    assert len(data_of(log)) == 1600
    assert len(syncs) < 320  # fewer fsyncs than appends: group commit
    log.close()
    assert len(data_of(SegmentLog(tmp_path, segment_bytes=64 << 10))) == 1600


def test_drop_removes_the_shard(tmp_path):
    log = SegmentLog(tmp_path)
    log.append({REF: records("d", 2)}, now_ms=1)
    log.drop([REF])
    assert not log.path(REF).exists() and log.bounds(REF) == (1, 1)
    with pytest.raises(FileNotFoundError):
        next(log.path(REF).iterdir())


def test_indexes_stay_on_disk(tmp_path):
    """A shard's memory holds a few numbers per segment, not an entry per record: every
    lookup (positions, byte budgets, timestamps) reads the index files."""
    from array import array

    from lakestack.engines.streams.segments import Segment

    log = SegmentLog(tmp_path, segment_bytes=300)
    for i in range(10):
        log.append({REF: records(f"r{i}", 3)}, now_ms=1000 + i)
    shard = log._log(REF, create=False)
    assert len(shard.segments) > 3
    assert not [name for segment in shard.segments for name in Segment.__slots__
                if isinstance(getattr(segment, name), (array, list, dict, bytes))]
    active = shard.segments[-1]
    assert active.tail_path.stat().st_size == 16 * active.count
    assert not any(s.tail_path.exists() for s in shard.segments[:-1])
    expected = data_of(log)
    frame = framing.OVERHEAD + len("key-0") + 10  # each record's whole frame
    assert shard.segments[1].base == 10  # a budget of whole frames, across a segment boundary
    assert [r.data for r in log.read(REF, 8, 100, 3 * frame)[0]] == expected[7:10]
    assert [r.data for r in log.read(REF, 8, 100, 3 * frame - 1)[0]] == expected[7:9]
    for reopened in (False, True):
        if reopened:
            log.close()
            active.tail_path.unlink()  # lost in a crash: rebuilt from the frames
            log = SegmentLog(tmp_path, segment_bytes=300)
        assert [log.position_at(REF, 1000 + i) for i in range(10)] == [1 + 3 * i for i in range(10)]
        assert log.position_at(REF, 2000) == 31 and data_of(log) == expected
    log.close()
