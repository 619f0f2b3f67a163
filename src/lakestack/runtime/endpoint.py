"""One port, every transport: HTTP/1.1 and HTTP/2, plain and TLS, told apart per connection.

Each accepted connection is peeked at (MSG_PEEK: nothing is consumed) before anything reads it:

    first byte 0x16 (a TLS handshake)   → TLS; after the handshake ALPN picks h2 or http/1.1
    "PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n"    → HTTP/2 with prior knowledge (h2c)
    anything else                       → HTTP/1.1

HTTP/1.1 goes to uvicorn's httptools protocol (a C parser: the least CPU per request, and what
boto3 and the AWS CLI speak), HTTP/2 to Hypercorn's. Both serve the same ASGI app;
uvicorn.Server runs the lifespan, the signals and the graceful shutdown for both. Server CPU
per small request through boto3 (2026-12-07, 2,000 calls): uvicorn+httptools STS 0.37-0.41 ms,
4 KiB GET 0.46-0.55 ms; Hypercorn's HTTP/1.1 (h11) 0.70 and 1.15-1.2 ms; Hypercorn's HTTP/2
(httpx client) 1.2-1.4 ms for either. This module adds nothing per request on HTTP/1.1 (A/B:
STS 0.41 vs 0.41, GET 0.55 vs 0.52 ms), only a peek per connection.

Library internals are used here and only here (locked: uvicorn 0.55.0, Hypercorn 0.18.0):
- uvicorn: `HttpToolsProtocol.send_400_response` is overridden (see _Http1);
  `Server.startup` is overridden to listen with this module's accept loop instead of
  `loop.create_server`; the HTTP/1.1 protocol is built exactly as uvicorn's own
  `create_protocol` builds it; each HTTP/2 connection is entered in `ServerState.connections`
  and `.tasks`, so uvicorn's shutdown asks it to finish and waits for it as for its own.
- Hypercorn: `TCPServer` (one connection), `WorkerContext` and `ASGIWrapper` — what
  `hypercorn.asyncio.serve` runs for each connection it accepts. Four of its behaviours are
  worked around (see _Http2, _Http2App, _WithoutClientGoaway): it drops the whole connection
  on DATA for a stream already answered, closes a terminated connection before its last
  stream's final frame is out, ends connections after 1000 requests, and (with h2 4.4) closes
  the connection on a client's GOAWAY(NO_ERROR) instead of finishing the open streams.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import socket
import ssl
import sys

import uvicorn
from hypercorn.app_wrappers import ASGIWrapper
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.asyncio.worker_context import WorkerContext
from hypercorn.config import Config as HypercornConfig
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("lakestack.endpoint")

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
TLS_HANDSHAKE = 0x16
# A connection that says nothing for this long is closed.
FIRST_BYTES_TIMEOUT = 30.0
HANDSHAKE_TIMEOUT = 10.0
# How long a closing TLS connection waits for the peer's close_notify (an idle pooled client
# may never send it) before the socket is simply closed.
SHUTDOWN_TIMEOUT = 0.25
ACCEPT_BATCH = 64
_WAIT, _PARTIAL = "wait", "partial"
# scope["state"] key of the asyncio.Event set when the server begins to stop.
STOPPING = "lakestack.stopping"


class Endpoint(uvicorn.Server):
    """uvicorn.Server serving every transport on its sockets (see the module docstring).

    `tls`: the server-side SSLContext for TLS connections (ALPN h2 and http/1.1), or None
    for plain HTTP only.
    """

    def __init__(self, config: uvicorn.Config, tls: ssl.SSLContext | None = None):
        super().__init__(config)
        self.tls = tls
        self.servers: list[_Listener] = []

    def handle_exit(self, sig, frame) -> None:
        # Ctrl-C / SIGTERM ask for a clean stop: exit status 0 after shutdown, rather than
        # uvicorn's default of re-raising the signal once it is done.
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.should_exit = True

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        if not sockets:
            raise ValueError("Endpoint serves bound sockets: run(sockets=[...])")
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            sys.exit(STARTUP_FAILURE)
        loop = asyncio.get_running_loop()
        self._loop = loop
        # Set when the server starts to stop: long-lived answers (event streams) end early
        # rather than hold the shutdown for its full grace period. Each request's scope["state"]
        # is a shallow copy of this dict, so they all see the one Event.
        self.lifespan.state[STOPPING] = asyncio.Event()
        self._http2 = _Http2(self.config, self.server_state, self.lifespan.state)
        self.servers = [_Listener(sock, self, loop) for sock in sockets]
        self.started = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        stopping = self.lifespan.state.get(STOPPING)
        if stopping is not None:
            stopping.set()
        await super().shutdown(sockets=sockets)

    def http1_protocol(self) -> asyncio.Protocol:
        # As uvicorn.Server.startup's create_protocol.
        protocol_class = self.config.http_protocol_class
        if protocol_class is HttpToolsProtocol:
            protocol_class = _Http1
        return protocol_class(config=self.config, server_state=self.server_state,
                              app_state=self.lifespan.state, _loop=self._loop)

    def http2_protocol(self) -> asyncio.Protocol:
        return self._http2.protocol()


class _Http1(HttpToolsProtocol):
    """uvicorn's HTTP/1.1, but bytes it cannot parse after a request it has taken whole (a
    Content-Length shorter than the body sent) no longer cut that request's answer off: uvicorn
    writes its 400 and closes at once. S3 answers the request (BadDigest, when a checksum was
    sent for the whole body); then this connection closes, its stream being lost."""

    def send_400_response(self, msg: str) -> None:
        cycle = self.cycle
        if cycle is not None and not cycle.more_body and not cycle.response_complete:
            cycle.keep_alive = False  # closed once the answer is out
            self.flow.pause_reading()
            return
        super().send_400_response(msg)


class _Http2:
    """HTTP/2 connections, served by Hypercorn one connection at a time."""

    def __init__(self, config: uvicorn.Config, server_state, app_state: dict):
        self.server_state = server_state
        self.app_state = app_state
        self.app = ASGIWrapper(_Http2App(config.loaded_app, self))
        self.config = HypercornConfig()
        self.config.keep_alive_timeout = config.timeout_keep_alive
        self.config.include_server_header = False
        # Hypercorn ends a connection after 1000 requests by default, failing the streams in
        # flight; HTTP/1.1 connections (uvicorn) have no such limit either.
        self.config.keep_alive_max_requests = sys.maxsize
        self.config.accesslog = None
        self.config.errorlog = logging.getLogger("lakestack.endpoint.http2")
        # `terminated` is set on shutdown: idle connections close, new streams are refused.
        self.context = WorkerContext(None)
        self.in_flight = 0
        self._terminating: asyncio.Future | None = None

    def protocol(self) -> asyncio.Protocol:
        return asyncio.StreamReaderProtocol(asyncio.StreamReader(), self._serve)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        entry = _Http2Connection(self)
        self.server_state.connections.add(entry)
        self.server_state.tasks.add(task)
        try:
            await TCPServer(self.app, asyncio.get_running_loop(), self.config, self.context, self.app_state,
                            _WithoutClientGoaway(reader), writer)
        except (OSError, TimeoutError) as exc:  # closing: a peer that never answers TLS close_notify
            log.debug("HTTP/2 connection closed: %r", exc)
        finally:
            self.server_state.connections.discard(entry)
            self.server_state.tasks.discard(task)

    def terminate(self) -> None:
        if self._terminating is None:
            self._terminating = asyncio.ensure_future(self._terminate_when_idle())

    async def _terminate_when_idle(self) -> None:
        # Streams in flight finish first (event streams end as the server stops). Hypercorn
        # closes a terminated connection the moment its last stream is done, which can be
        # before that stream's final frame (END_STREAM) is written: so terminate only once no
        # request is in flight, and a moment later.
        while self.in_flight:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.05)
        await self.context.terminated.set()


class _WithoutClientGoaway:
    """What Hypercorn reads of an HTTP/2 connection: the client's bytes, minus GOAWAY frames
    with NO_ERROR.

    A client's GOAWAY(NO_ERROR) says it will open no more streams; those already open carry on
    (RFC 9113 §6.8). The AWS SDK for JavaScript v3 sends one on an event stream's own
    connection as soon as the response starts. But h2 4.4 takes any GOAWAY received as the end
    of the connection, and Hypercorn 0.18 then closes it, cutting SubscribeToShard short. So
    those frames stop here; the connection ends when the client closes it. (GOAWAY with an
    error code passes: that is a connection error.) Hypercorn uses only read() and at_eof().
    """

    GOAWAY = 0x7

    def __init__(self, reader: asyncio.StreamReader):
        self._reader = reader
        self._preface = len(H2_PREFACE)  # bytes of the connection preface still to pass
        self._header = bytearray()  # a frame header being received
        self._payload = 0  # bytes of the current frame's payload still to pass
        self._goaway: bytearray | None = None  # a GOAWAY frame being received, header included
        self._goaway_size = 0

    def at_eof(self) -> bool:
        return self._reader.at_eof()

    async def read(self, n: int = -1) -> bytes:
        while True:
            data = await self._reader.read(n)
            if not data:
                return data
            data = self._filter(data)
            if data:
                return data

    def _filter(self, chunk: bytes) -> bytes:
        if self._preface == 0 and self._payload >= len(chunk) and not self._header and self._goaway is None:
            self._payload -= len(chunk)  # inside a (DATA) frame: the common case, no copy
            return chunk
        data = memoryview(chunk)
        out = bytearray()
        i, end = 0, len(data)
        while i < end:
            if self._preface or self._payload:
                take = min(self._preface or self._payload, end - i)
                out += data[i:i + take]
                if self._preface:
                    self._preface -= take
                else:
                    self._payload -= take
                i += take
            elif self._goaway is not None:
                take = min(self._goaway_size - len(self._goaway), end - i)
                self._goaway += data[i:i + take]
                i += take
                if len(self._goaway) == self._goaway_size:
                    if int.from_bytes(self._goaway[13:17], "big") != 0:  # after last-stream-id
                        out += self._goaway
                    self._goaway = None
            else:
                take = min(9 - len(self._header), end - i)
                self._header += data[i:i + take]
                i += take
                if len(self._header) == 9:
                    length = int.from_bytes(self._header[:3], "big")
                    if self._header[3] == self.GOAWAY and length >= 8:
                        self._goaway, self._goaway_size = bytearray(self._header), 9 + length
                    else:
                        out += self._header
                        self._payload = length
                    self._header = bytearray()
        return bytes(out)


class _Http2App:
    """The app as HTTP/2 serves it: requests in flight are counted (for a clean shutdown), and
    a response ends only after the request body has, the rest of which is dropped.

    An app may answer before reading the whole body (an error, say). On HTTP/1.1 the gateway
    then closes the connection; on HTTP/2 only the stream should end. But Hypercorn 0.18
    forgets a stream as soon as its response is complete, and then ends the whole connection,
    every stream on it, when more DATA arrives for it. So the response's end waits until the
    client has sent its last byte (the response itself has gone out already).
    """

    def __init__(self, app, http2: _Http2):
        self.app = app
        self.http2 = http2

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        finished = False

        async def tracked_receive():
            nonlocal finished
            message = await receive()
            finished = message["type"] == "http.disconnect" or not message.get("more_body", False)
            return message

        async def send_end_after_request(message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False) and not finished:
                if message.get("body"):
                    await send({"type": "http.response.body", "body": message["body"], "more_body": True})
                while not finished:
                    await tracked_receive()
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        self.http2.in_flight += 1
        try:
            await self.app(scope, tracked_receive, send_end_after_request)
        finally:
            self.http2.in_flight -= 1


class _Http2Connection:
    """What uvicorn's shutdown sees of an HTTP/2 connection: `shutdown()` asks Hypercorn to
    finish, once the requests in flight are done."""

    def __init__(self, http2: _Http2):
        self.http2 = http2

    def shutdown(self) -> None:
        self.http2.terminate()


class _Negotiated(asyncio.Protocol):
    """Stands in while TLS is negotiated; once the handshake is done it hands the connection
    to the protocol ALPN chose."""

    def __init__(self, endpoint: Endpoint):
        self.endpoint = endpoint

    def connection_made(self, transport) -> None:
        ssl_object = transport.get_extra_info("ssl_object")
        chosen = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
        protocol = self.endpoint.http2_protocol() if chosen == "h2" else self.endpoint.http1_protocol()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)

    def data_received(self, data: bytes) -> None:  # pragma: no cover - replaced before any data
        raise RuntimeError("data before the protocol was chosen")


class _Listener:
    """Accepts connections on one listening socket and sends each to its protocol. It has
    what uvicorn's shutdown expects of a server: close() and wait_closed()."""

    def __init__(self, sock: socket.socket, endpoint: Endpoint, loop: asyncio.AbstractEventLoop):
        self.sock = sock
        self.endpoint = endpoint
        self.loop = loop
        self._fd = sock.fileno()
        self._waiting: dict[socket.socket, _Pending] = {}
        self._starting: set[asyncio.Task] = set()
        self._closed = False
        sock.setblocking(False)
        loop.add_reader(self._fd, self._accept)

    # --- accepting ---------------------------------------------------------------------------

    def _accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # Out of file descriptors or memory: stop accepting for a moment rather
                    # than spin on a listening socket that stays readable.
                    log.warning("cannot accept connections: %s; retrying in 1 s", exc)
                    self.loop.remove_reader(self._fd)
                    self.loop.call_later(1.0, self._resume)
                    return
                continue  # e.g. ECONNABORTED: that client has gone already
            conn.setblocking(False)
            if conn.family in (socket.AF_INET, socket.AF_INET6):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sniff(conn)

    def _resume(self) -> None:
        if not self._closed:
            self.loop.add_reader(self._fd, self._accept)

    # --- telling the transports apart ----------------------------------------------------------

    def _sniff(self, conn: socket.socket) -> None:
        if self._closed:
            conn.close()
            return
        kind = self._kind(conn)
        pending = self._waiting.get(conn)
        if kind in (_WAIT, _PARTIAL):
            if pending is None:
                pending = self._waiting[conn] = _Pending(self.loop.call_later(FIRST_BYTES_TIMEOUT, self._drop, conn))
            if kind == _WAIT and not pending.reading:
                self.loop.add_reader(conn.fileno(), self._sniff, conn)
                pending.reading = True
            elif kind == _PARTIAL:
                # Part of an h2c preface: the rest is on its way. Poll for it (the socket
                # stays readable, so a reader would spin).
                if pending.reading:
                    self.loop.remove_reader(conn.fileno())
                    pending.reading = False
                self.loop.call_later(0.005, self._sniff, conn)
            return
        if pending is not None:
            self._forget(conn)
        if kind is None:
            conn.close()
            return
        task = self.loop.create_task(self._start(conn, kind))
        self._starting.add(task)
        task.add_done_callback(self._starting.discard)

    def _kind(self, conn: socket.socket) -> str | None:
        try:
            head = conn.recv(len(H2_PREFACE), socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return _WAIT
        except OSError:
            return None
        if not head:
            return None  # closed without a word
        if head[0] == TLS_HANDSHAKE and self.endpoint.tls is not None:
            return "tls"
        if H2_PREFACE.startswith(head):
            return "h2" if len(head) == len(H2_PREFACE) else _PARTIAL
        return "http/1.1"

    def _forget(self, conn: socket.socket) -> None:
        pending = self._waiting.pop(conn)
        pending.timer.cancel()
        if pending.reading:
            self.loop.remove_reader(conn.fileno())

    def _drop(self, conn: socket.socket) -> None:
        if conn in self._waiting:
            self._forget(conn)
            conn.close()

    async def _start(self, conn: socket.socket, kind: str) -> None:
        endpoint = self.endpoint
        try:
            if kind == "tls":
                await self.loop.connect_accepted_socket(lambda: _Negotiated(endpoint), conn, ssl=endpoint.tls,
                                                        ssl_handshake_timeout=HANDSHAKE_TIMEOUT,
                                                        ssl_shutdown_timeout=SHUTDOWN_TIMEOUT)
            elif kind == "h2":
                await self.loop.connect_accepted_socket(endpoint.http2_protocol, conn)
            else:
                await self.loop.connect_accepted_socket(endpoint.http1_protocol, conn)
        except (TimeoutError, OSError, ssl.SSLError) as exc:
            # A client that does not trust the certificate, or went away mid-handshake.
            log.debug("connection closed before it started: %r", exc)
            conn.close()

    # --- what uvicorn's shutdown calls ----------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.loop.remove_reader(self._fd)
        for conn in list(self._waiting):
            self._forget(conn)
            conn.close()
        for task in self._starting:  # TLS handshakes still under way
            task.cancel()

    async def wait_closed(self) -> None:
        if self._starting:
            await asyncio.wait(list(self._starting), timeout=1.0)


class _Pending:
    """A connection that has not said enough yet to tell its transport."""

    __slots__ = ("timer", "reading")

    def __init__(self, timer: asyncio.TimerHandle):
        self.timer = timer
        self.reading = False
