"""The HTTP request as the gateway hands it to the protocol layer, with a blocking body
reader that provider threads can use while the event loop keeps receiving."""

from __future__ import annotations

import asyncio
import collections
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qsl


class BodyReader:
    """File-like `read(n)` over a request body. Subclasses supply `_next_chunk`."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._eof = False

    def _next_chunk(self) -> bytes:
        raise NotImplementedError

    def read(self, n: int = -1) -> bytes:
        while not self._eof and (n < 0 or len(self._buffer) < n):
            chunk = self._next_chunk()
            if chunk:
                self._buffer += chunk
            else:
                self._eof = True
        if n < 0 or n >= len(self._buffer):
            data = bytes(self._buffer)
            self._buffer.clear()
            return data
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    async def read_all_async(self) -> bytes:
        return self.read()

    @property
    def unread(self) -> bool:
        """True while part of the body is still on the wire (never, for a body in memory)."""
        return False

    def read_chunk(self, hint: int = 1 << 20) -> bytes:
        """Up to `hint` bytes without waiting for more than one network chunk."""
        if not self._buffer and not self._eof:
            chunk = self._next_chunk()
            if not chunk:
                self._eof = True
            return chunk[:hint] if len(chunk) <= hint else self._keep(chunk, hint)
        return self.read(min(hint, len(self._buffer)) if self._buffer else 0)

    def _keep(self, chunk: bytes, hint: int) -> bytes:
        self._buffer += chunk[hint:]
        return chunk[:hint]


class BytesBody(BodyReader):
    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._buffer = bytearray(data)
        self._eof = True


class AsgiBody(BodyReader):
    """Reads the ASGI `receive` channel from a worker thread.

    Once a thread starts reading, a task on the event loop keeps receiving ahead of it
    (up to PREFETCH bytes, in ~1 MiB pieces), so the network, the hashing and the disk
    writes of a large upload overlap instead of taking turns.
    """

    PIECE = 1 << 20
    PREFETCH = 8 << 20

    def __init__(self, receive, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._receive = receive
        self._loop = loop
        self._more = True
        self._pieces: collections.deque[bytes] = collections.deque()
        self._ready = threading.Condition()
        self._buffered = 0
        self._producing = False
        self._finished = False
        self._error: BaseException | None = None
        self._room: asyncio.Event | None = None

    @property
    def unread(self) -> bool:
        """True while part of the body is still on the wire."""
        return self._more

    async def _pull(self) -> bytes:
        message = await self._receive()
        if message["type"] == "http.disconnect":
            self._more = False
            raise ConnectionError("client disconnected")
        self._more = message.get("more_body", False)
        return message.get("body", b"")

    async def _produce(self) -> None:
        self._room = asyncio.Event()
        parts: list[bytes] = []
        size = 0
        try:
            while self._more:
                data = await self._pull()
                parts.append(data)
                size += len(data)
                if size >= self.PIECE or not self._more:
                    self._hand_over(parts[0] if len(parts) == 1 else b"".join(parts))  # one copy at most
                    parts, size = [], 0
                while self._buffered >= self.PREFETCH:
                    self._room.clear()
                    await self._room.wait()
        except BaseException as exc:  # the reading thread re-raises it
            self._error = exc
        finally:
            with self._ready:
                self._finished = True
                self._ready.notify()

    def _hand_over(self, data: bytes) -> None:
        with self._ready:
            self._pieces.append(data)
            self._buffered += len(data)
            self._ready.notify()

    def _next_chunk(self) -> bytes:
        if not self._producing:
            self._producing = True
            asyncio.run_coroutine_threadsafe(self._produce(), self._loop)
        with self._ready:
            while not self._pieces and not self._finished:
                self._ready.wait()
            if self._pieces:
                data = self._pieces.popleft()
                self._buffered -= len(data)
                if self._buffered < self.PREFETCH and self._room is not None:
                    self._loop.call_soon_threadsafe(self._room.set)
                return data
        if self._error is not None:
            raise ConnectionError("client disconnected") from self._error
        return b""

    async def load(self) -> None:
        """Receive the rest of the body into this reader's buffer, on the event loop: reads
        are then served from memory, as from a BytesBody, with no thread hop."""
        while self._more:
            self._buffer += await self._pull()
        self._eof = True

    async def read_all_async(self) -> bytes:
        parts = [bytes(self._buffer)]
        self._buffer.clear()
        while self._more:
            parts.append(await self._pull())
        self._eof = True
        return b"".join(parts)


@dataclass
class HttpRequest:
    method: str
    raw_path: str  # as sent, still percent-encoded
    query_string: str  # as sent
    headers: dict[str, str]  # lower-case names
    body: BodyReader = field(default_factory=lambda: BytesBody(b""))
    client_host: str = ""
    secure: bool = False  # arrived over TLS (aws:SecureTransport)
    http_version: str = "1.1"  # ASGI's: "1.0", "1.1" or "2"
    _query: list[tuple[str, str]] | None = None

    @property
    def query(self) -> list[tuple[str, str]]:
        if self._query is None:
            self._query = parse_qsl(self.query_string, keep_blank_values=True)
        return self._query

    @property
    def query_dict(self) -> dict[str, str]:
        return dict(self.query)

    @property
    def host(self) -> str:
        return self.headers.get("host", "")
