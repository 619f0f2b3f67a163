"""Streams, shards and consumers: the metadata, kept in `<state>/kinesis.db`.

Each stream is one row holding its description as JSON (shards, tags, consumers…): a
stream's metadata changes rarely and always as a whole, under the stream's exclusive
lock, and is read on every request from memory. The records themselves live in the
stream log engine (engines/streams), never here.

Transitional statuses (CREATING, UPDATING, DELETING) end at a time recorded with them and
are settled lazily by whoever looks next, against the service clock.
"""

from __future__ import annotations

import bisect
import json
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields

from lakestack.engines.streams import ShardRef
from lakestack.runtime.state import StateStore
from lakestack.services.kinesis import sequence_numbers

SCHEMA = """
CREATE TABLE IF NOT EXISTS streams (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (account, region, name)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
"""


_TRANSIENT = ("lock", "_starts", "_open")


class SharedLock:
    """Shared by record writers, exclusive for resharding and deletion: a shard is closed
    only when no PutRecords is between routing to it and writing to it."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._shared = 0
        self._exclusive = False
        self._waiting = 0

    @contextmanager
    def shared(self):
        with self._cond:
            while self._exclusive or self._waiting:
                self._cond.wait()
            self._shared += 1
        try:
            yield
        finally:
            with self._cond:
                self._shared -= 1
                if not self._shared:
                    self._cond.notify_all()

    @contextmanager
    def exclusive(self):
        with self._cond:
            self._waiting += 1
            while self._exclusive or self._shared:
                self._cond.wait()
            self._waiting -= 1
            self._exclusive = True
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()


@dataclass
class Shard:
    index: int
    start_hash: int
    end_hash: int
    created_ms: int
    parent: int | None = None
    adjacent_parent: int | None = None
    # Set when the shard closes: the position after its last record, and when.
    ending_position: int | None = None
    closed_ms: int | None = None

    @property
    def shard_id(self) -> str:
        return shard_id(self.index)

    @property
    def is_open(self) -> bool:
        return self.ending_position is None

    def sequence_number(self, position: int) -> str:
        return sequence_numbers.encode(self.created_ms, self.index, position)

    def describe(self) -> dict:
        out = {
            "ShardId": self.shard_id,
            "HashKeyRange": {"StartingHashKey": str(self.start_hash), "EndingHashKey": str(self.end_hash)},
            "SequenceNumberRange": {"StartingSequenceNumber": self.sequence_number(0)},
        }
        if self.parent is not None:
            out["ParentShardId"] = shard_id(self.parent)
        if self.adjacent_parent is not None:
            out["AdjacentParentShardId"] = shard_id(self.adjacent_parent)
        if self.ending_position is not None:
            out["SequenceNumberRange"]["EndingSequenceNumber"] = self.sequence_number(max(self.ending_position - 1, 0))
        return out


def shard_id(index: int) -> str:
    return f"shardId-{index:012d}"


def parse_shard_id(text: str) -> int | None:
    """shardId-000000000001, or the bare number, as Kinesis accepts both."""
    number = text.rsplit("-", 1)[-1] if text.startswith("shardId-") else text
    return int(number) if number.isdigit() and len(number) <= 12 else None


@dataclass
class Consumer:
    name: str
    arn: str
    created: float
    status: str = "CREATING"
    status_until: float = 0.0
    tags: dict = field(default_factory=dict)
    policy: str | None = None


@dataclass
class Stream:
    id: str
    account: str
    region: str
    name: str
    created: float
    mode: str = "PROVISIONED"
    retention_hours: int = 24
    status: str = "CREATING"
    status_until: float = 0.0
    encryption_type: str = "NONE"
    key_id: str | None = None
    shard_metrics: list[str] = field(default_factory=list)
    max_record_kib: int = 1024
    tags: dict = field(default_factory=dict)
    policy: str | None = None
    next_shard_index: int = 0
    shards: list[Shard] = field(default_factory=list)
    consumers: dict[str, Consumer] = field(default_factory=dict)
    # Not persisted: concurrency and the routing table.
    lock: SharedLock = field(default_factory=SharedLock, repr=False, compare=False)
    _starts: list[int] = field(default_factory=list, repr=False, compare=False)
    _open: list[Shard] = field(default_factory=list, repr=False, compare=False)

    @property
    def arn(self) -> str:
        return stream_arn(self.region, self.account, self.name)

    def reindex(self) -> None:
        self._open = sorted((s for s in self.shards if s.is_open), key=lambda s: s.start_hash)
        self._starts = [s.start_hash for s in self._open]

    @property
    def open_shards(self) -> list[Shard]:
        return self._open

    def route(self, hash_key: int) -> Shard:
        """The open shard whose hash-key range holds `hash_key` (open shards tile the space)."""
        return self._open[bisect.bisect_right(self._starts, hash_key) - 1]

    def shard(self, index: int) -> Shard | None:
        for shard in self.shards:
            if shard.index == index:
                return shard
        return None

    def children_of(self, shard: Shard) -> list[Shard]:
        return [s for s in self.shards if shard.index in (s.parent, s.adjacent_parent)]

    def ref(self, shard: Shard) -> ShardRef:
        return ShardRef(self.account, self.region, self.name, self.id, shard.shard_id)

    def to_doc(self) -> str:
        doc = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _TRANSIENT}
        # 128-bit numbers as text: JSON readers need not be exact.
        doc["shards"] = [{**asdict(s), "start_hash": str(s.start_hash), "end_hash": str(s.end_hash)}
                         for s in self.shards]
        doc["consumers"] = {name: asdict(c) for name, c in self.consumers.items()}
        return json.dumps(doc, separators=(",", ":"))

    @classmethod
    def from_doc(cls, text: str) -> Stream:
        doc = json.loads(text)
        shards = [Shard(**{**s, "start_hash": int(s["start_hash"]), "end_hash": int(s["end_hash"])})
                  for s in doc.pop("shards")]
        consumers = {name: Consumer(**c) for name, c in doc.pop("consumers").items()}
        stream = cls(**doc, shards=shards, consumers=consumers)
        stream.reindex()
        return stream


def stream_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:kinesis:{region}:{account}:stream/{name}"


class Catalog:
    """Every stream of every account and region, in memory, written through to SQLite."""

    def __init__(self, store: StateStore, clock):
        self.store = store
        self.clock = clock
        self._lock = threading.RLock()
        self._by_name: dict[tuple[str, str, str], Stream] = {}
        self._by_id: dict[str, Stream] = {}
        for row in store.query("SELECT doc FROM streams"):
            stream = Stream.from_doc(row["doc"])
            self._by_name[(stream.account, stream.region, stream.name)] = stream
            self._by_id[stream.id] = stream

    # -- lookups (settling transitional statuses) ---------------------------------------------

    def get(self, account: str, region: str, name: str) -> Stream | None:
        stream = self._by_name.get((account, region, name))
        return self._settle(stream) if stream is not None else None

    def by_id(self, stream_id: str) -> Stream | None:
        stream = self._by_id.get(stream_id)
        return self._settle(stream) if stream is not None else None

    def list(self, account: str, region: str) -> list[Stream]:
        with self._lock:
            found = [s for (a, r, _), s in self._by_name.items() if a == account and r == region]
        return sorted((s for s in map(self._settle, found) if s is not None), key=lambda s: s.name)

    def all(self) -> list[Stream]:
        with self._lock:
            streams = list(self._by_id.values())
        return [s for s in map(self._settle, streams) if s is not None]

    def _settle(self, stream: Stream) -> Stream | None:
        now = self.clock.now()
        changed = False
        if stream.status in ("CREATING", "UPDATING") and now >= stream.status_until:
            stream.status, changed = "ACTIVE", True
        for consumer in list(stream.consumers.values()):
            if consumer.status == "CREATING" and now >= consumer.status_until:
                consumer.status, changed = "ACTIVE", True
            elif consumer.status == "DELETING" and now >= consumer.status_until:
                del stream.consumers[consumer.name]
                changed = True
        if stream.status == "DELETING" and now >= stream.status_until:
            self.remove(stream)
            return None
        if changed:
            self.save(stream)
        return stream

    # -- writes -------------------------------------------------------------------------------

    def add(self, stream: Stream) -> bool:
        """False if the name is taken in that account and region."""
        with self._lock:
            key = (stream.account, stream.region, stream.name)
            existing = self._by_name.get(key)
            if existing is not None and self._settle(existing) is not None:
                return False
            with self.store.transaction() as db:
                db.execute("INSERT INTO streams (id, account, region, name, doc) VALUES (?, ?, ?, ?, ?)",
                           (stream.id, stream.account, stream.region, stream.name, stream.to_doc()))
            stream.reindex()
            self._by_name[key] = stream
            self._by_id[stream.id] = stream
            return True

    def save(self, stream: Stream) -> None:
        with self._lock:
            if self._by_id.get(stream.id) is not stream:
                return  # removed meanwhile
            stream.reindex()
            with self.store.transaction() as db:
                db.execute("UPDATE streams SET doc = ? WHERE id = ?", (stream.to_doc(), stream.id))

    def remove(self, stream: Stream) -> None:
        with self._lock:
            with self.store.transaction() as db:
                db.execute("DELETE FROM streams WHERE id = ?", (stream.id,))
            self._by_id.pop(stream.id, None)
            if self._by_name.get((stream.account, stream.region, stream.name)) is stream:
                del self._by_name[(stream.account, stream.region, stream.name)]

    def open_shard_count(self, account: str, region: str) -> int:
        return sum(len(s.open_shards) for s in self.list(account, region))

    def secret(self, key: str, make) -> bytes:
        """A value generated once and kept (the shard-iterator signing key)."""
        row = self.store.query_one("SELECT value FROM meta WHERE key = ?", (key,))
        if row is not None:
            return bytes(row["value"])
        value = make()
        with self.store.transaction() as db:
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
        return bytes(self.store.query_one("SELECT value FROM meta WHERE key = ?", (key,))["value"])
