"""The JetStream stream log: Kinesis shards on a NATS JetStream server, for scale-out.

Each Kinesis shard is one JetStream stream (`KINESIS_<stream id>_<shard number>`, file
storage, direct get allowed) with one subject. The records a PutRecords call sends to a
shard travel as one JetStream message (several if they exceed the server's max_payload),
so a record's position is `message sequence << 10 | index in the message`: increasing
within the shard, sparse, and cheap to seek to.

    message = i64 arrival ms | u16 record count | per record: u16 key length | u32 data length | key | data

Reads use JetStream's batched direct get (server 2.11+): one request answers many
messages. Retention purges the stream below the first message still inside the retention
period. Durability is the server's: run it with `sync_interval: always` to fsync every
message before it acknowledges (the tests and the bench do).

nats-py is asyncio-only; it runs on its own event-loop thread, and the engine's
blocking methods (called from the gateway's worker threads) submit coroutines to it.
"""

from __future__ import annotations

import asyncio
import json
import struct
import threading

from lakestack.engines.streams import ShardRef, StoredRecord, StreamLog

_MESSAGE_HEAD = struct.Struct("<qH")
_RECORD_HEAD = struct.Struct("<HI")
INDEX_BITS = 10  # up to 1024 records per message (PutRecords sends at most 500)
_SUBJECT_PREFIX = "lakestack.kinesis"
_READ_BATCH = 64  # messages per direct-get request


class EngineUnavailable(OSError):
    """The JetStream server cannot be reached or did not answer in time."""


def _pack(timestamp_ms: int, records: list[tuple[bytes, bytes]]) -> bytes:
    parts = [_MESSAGE_HEAD.pack(timestamp_ms, len(records))]
    for key, data in records:
        parts += [_RECORD_HEAD.pack(len(key), len(data)), key, data]
    return b"".join(parts)


def _unpack(payload: bytes) -> tuple[int, list[tuple[str, bytes]]]:
    timestamp, count = _MESSAGE_HEAD.unpack_from(payload)
    offset = _MESSAGE_HEAD.size
    records = []
    view = memoryview(payload)
    for _ in range(count):
        key_length, data_length = _RECORD_HEAD.unpack_from(payload, offset)
        offset += _RECORD_HEAD.size
        key = bytes(view[offset:offset + key_length]).decode()
        offset += key_length
        records.append((key, bytes(view[offset:offset + data_length])))
        offset += data_length
    return timestamp, records


class JetStreamLog(StreamLog):
    first_position = 1 << INDEX_BITS

    def __init__(self, url: str, timeout: float = 10.0):
        import nats

        self.timeout = timeout
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="lakestack-nats", daemon=True)
        self._thread.start()
        try:
            self.nc = self._call(nats.connect(url, connect_timeout=5, max_reconnect_attempts=-1,
                                              reconnect_time_wait=0.5))
        except Exception as exc:
            self._stop_loop()
            raise EngineUnavailable(f"cannot connect to NATS at {url}: {exc}") from exc
        self.js = self.nc.jetstream(timeout=timeout)
        self._ready: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._last_ts: dict[str, int] = {}

    # -- plumbing -------------------------------------------------------------------------

    def _call(self, coro):
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(self.timeout * 3)
        except TimeoutError as exc:
            future.cancel()
            raise EngineUnavailable("the JetStream server did not answer in time") from exc

    def _stop_loop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)

    @staticmethod
    def _names(ref: ShardRef) -> tuple[str, str]:
        number = ref.shard.rsplit("-", 1)[-1]
        return f"KINESIS_{ref.stream_id}_{number}", f"{_SUBJECT_PREFIX}.{ref.stream_id}.{number}"

    async def _ensure(self, name: str, subject: str) -> None:
        if name in self._ready:
            return
        from nats.js.api import StorageType

        info = await self.js.add_stream(name=name, subjects=[subject], storage=StorageType.FILE, allow_direct=True)
        if info.state.last_seq:
            # Arrival times stay non-decreasing across restarts: start from the newest stored.
            message = await self.js.get_msg(name, seq=info.state.last_seq, direct=True)
            self._last_ts[name] = _MESSAGE_HEAD.unpack_from(message.data)[0]
        self._ready.add(name)

    async def _exists(self, name: str):
        from nats.js.errors import NotFoundError

        try:
            return await self.js.stream_info(name)
        except NotFoundError:
            return None

    async def _timestamp_of(self, name: str, seq: int) -> int:
        message = await self.js.get_msg(name, seq=seq, direct=True)
        return _MESSAGE_HEAD.unpack_from(message.data)[0]

    async def _direct_batch(self, name: str, seq: int, batch: int, max_bytes: int) -> list:
        """Messages from `seq` on, answered as a burst ended by a 204 status (or a 404)."""
        inbox = self.nc.new_inbox()
        sub = await self.nc.subscribe(inbox)
        try:
            request = json.dumps({"seq": seq, "batch": batch, "max_bytes": max_bytes}).encode()
            await self.nc.publish(f"$JS.API.DIRECT.GET.{name}", request, reply=inbox)
            messages = []
            while True:
                message = await sub.next_msg(timeout=self.timeout)
                status = message.headers.get("Status") if message.headers else None
                if status:
                    return messages
                messages.append(message)
        finally:
            await sub.unsubscribe()

    # -- StreamLog ------------------------------------------------------------------------

    def append(self, batches, now_ms):
        async def all_shards():
            refs = [ref for ref, records in batches.items() if records]
            results = await asyncio.gather(*(self._append(ref, batches[ref], now_ms) for ref in refs))
            return dict(zip(refs, results, strict=True))

        return self._call(all_shards())

    async def _append(self, ref: ShardRef, records: list[tuple[str, bytes]], now_ms: int):
        name, subject = self._names(ref)
        await self._ensure(name, subject)
        lock = self._locks.setdefault(name, asyncio.Lock())
        limit = self.nc.max_payload - 1024
        encoded = [(key.encode(), data) for key, data in records]
        for key, data in encoded:
            if len(key) + len(data) + _RECORD_HEAD.size + _MESSAGE_HEAD.size > limit:
                raise ValueError(f"a record of {len(data)} bytes exceeds the NATS server's max_payload "
                                 f"({self.nc.max_payload} bytes)")
        # One lock per shard: messages of one call stay together and arrival times ordered.
        async with lock:
            timestamp = max(now_ms, self._last_ts.get(name, 0))
            positions: list[int] = []
            chunk: list[tuple[bytes, bytes]] = []
            size = _MESSAGE_HEAD.size

            async def flush():
                ack = await self.js.publish(subject, _pack(timestamp, chunk))
                positions.extend((ack.seq << INDEX_BITS) + i for i in range(len(chunk)))

            for key, data in encoded:
                need = _RECORD_HEAD.size + len(key) + len(data)
                if chunk and size + need > limit:
                    await flush()
                    chunk, size = [], _MESSAGE_HEAD.size
                chunk.append((key, data))
                size += need
            if chunk:
                await flush()
            self._last_ts[name] = timestamp
        return positions, timestamp

    def read(self, ref, position, limit, max_bytes):
        return self._call(self._read(ref, position, limit, max_bytes))

    async def _read(self, ref: ShardRef, position: int, limit: int, max_bytes: int):
        name, _ = self._names(ref)
        position = max(position, self.first_position)
        if name not in self._ready and await self._exists(name) is None:
            return [], position
        seq = position >> INDEX_BITS
        records: list[StoredRecord] = []
        size = 0
        while len(records) < limit:
            messages = await self._direct_batch(name, seq, _READ_BATCH, max(max_bytes - size, 1))
            for message in messages:
                seq = int(message.headers["Nats-Sequence"])
                timestamp, items = _unpack(message.data)
                for i, (key, data) in enumerate(items):
                    at = (seq << INDEX_BITS) + i
                    if at < position:
                        continue
                    if len(records) >= limit or (records and size + len(data) > max_bytes):
                        return records, at
                    records.append(StoredRecord(at, timestamp, key, data))
                    size += len(data)
                position = (seq + 1) << INDEX_BITS
            if len(messages) < _READ_BATCH:
                break
            seq += 1
        return records, position

    def bounds(self, ref):
        async def bounds():
            info = await self._exists(self._names(ref)[0])
            if info is None or not info.state.last_seq:
                return self.first_position, self.first_position
            return max(info.state.first_seq, 1) << INDEX_BITS, (info.state.last_seq + 1) << INDEX_BITS

        return self._call(bounds())

    async def _first_seq_at(self, name: str, timestamp_ms: int) -> tuple[int, int, int] | None:
        """(first seq whose arrival >= timestamp, first seq, last seq), by binary search."""
        info = await self._exists(name)
        if info is None or not info.state.messages:
            return None
        low, high = max(info.state.first_seq, 1), info.state.last_seq + 1
        while low < high:
            middle = (low + high) // 2
            if await self._timestamp_of(name, middle) < timestamp_ms:
                low = middle + 1
            else:
                high = middle
        return low, info.state.first_seq, info.state.last_seq

    def position_at(self, ref, timestamp_ms):
        async def position():
            found = await self._first_seq_at(self._names(ref)[0], timestamp_ms)
            return self.first_position if found is None else found[0] << INDEX_BITS

        return self._call(position())

    def trim(self, ref, before_ms):
        async def trim():
            name = self._names(ref)[0]
            found = await self._first_seq_at(name, before_ms)
            if found is not None and found[0] > found[1]:
                await self.js.purge_stream(name, seq=found[0])

        self._call(trim())

    def drop(self, refs):
        async def drop():
            from nats.js.errors import NotFoundError

            for ref in refs:
                name = self._names(ref)[0]
                try:
                    await self.js.delete_stream(name)
                except NotFoundError:
                    pass
                self._ready.discard(name)
                self._locks.pop(name, None)
                self._last_ts.pop(name, None)

        self._call(drop())

    def close(self):
        try:
            self._call(self.nc.close())
        finally:
            self._stop_loop()
