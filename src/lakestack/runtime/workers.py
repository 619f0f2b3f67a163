"""Worker subprocesses spoken to over pipes: start one, exchange framed messages with it
under a deadline, collect what it prints, kill it.

Nothing here knows what the child runs. The child gets two inherited descriptors (passed as
its last two arguments): one to read requests from, one to write answers to. Its stdout and
stderr share a third pipe, which the parent reads while it waits for an answer, so a child
that prints megabytes never blocks on a full pipe and its output can be attributed to the
request that produced it.

A frame is `>II` (header length, body length), a JSON header, then the body bytes — the
body is passed through untouched so payloads are not encoded twice.

The child runs in its own session (process group): killing the worker kills whatever it
started too.
"""

from __future__ import annotations

import errno
import json
import os
import select
import signal
import struct
import subprocess
import threading
import time
from collections.abc import Callable

FRAME_HEAD = struct.Struct(">II")
READ_CHUNK = 1 << 16
# A header is small JSON; anything bigger means the stream is out of step.
MAX_HEADER = 1 << 20
MAX_BODY = 256 << 20

OutputSink = Callable[[bytes], None]


class WorkerError(Exception):
    """The worker could not answer."""


class WorkerTimeout(WorkerError):
    """The deadline passed before the worker answered (the worker is still running)."""


class WorkerExited(WorkerError):
    """The worker's answer pipe closed: it exited (or closed it) before answering."""

    def __init__(self, returncode: int | None):
        super().__init__(f"worker exited with status {returncode}")
        self.returncode = returncode


def encode_frame(header: dict, body: bytes = b"") -> bytes:
    head = json.dumps(header, separators=(",", ":")).encode()
    return FRAME_HEAD.pack(len(head), len(body)) + head + body


class FrameReader:
    """Accumulates bytes until a whole frame is there."""

    def __init__(self):
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def frame(self) -> tuple[dict, bytes] | None:
        buffer = self._buffer
        if len(buffer) < FRAME_HEAD.size:
            return None
        head_len, body_len = FRAME_HEAD.unpack_from(buffer)
        if head_len > MAX_HEADER or body_len > MAX_BODY:
            raise WorkerError(f"malformed frame from worker (header {head_len}, body {body_len} bytes)")
        end = FRAME_HEAD.size + head_len + body_len
        if len(buffer) < end:
            return None
        header = json.loads(bytes(buffer[FRAME_HEAD.size:FRAME_HEAD.size + head_len]))
        body = bytes(buffer[FRAME_HEAD.size + head_len:end])
        del buffer[:end]
        return header, body


class Worker:
    """One child process. Not thread-safe: one exchange at a time (the pool that owns it
    hands it to one caller at a time); `kill` may be called from anywhere."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str | None = None):
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            self.process = subprocess.Popen(
                [*argv, str(req_r), str(resp_w)], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                stdout=out_w, stderr=out_w, pass_fds=(req_r, resp_w), start_new_session=True, close_fds=True)
        except BaseException:
            for fd in (req_r, req_w, resp_r, resp_w, out_r, out_w):
                os.close(fd)
            raise
        for fd in (req_r, resp_w, out_w):
            os.close(fd)
        self.pid = self.process.pid
        self._req, self._resp, self._out = req_w, resp_r, out_r
        for fd in (req_w, resp_r, out_r):
            os.set_blocking(fd, False)
        self._reader = FrameReader()
        self._poll = select.poll()
        self._poll.register(resp_r, select.POLLIN)
        self._poll.register(out_r, select.POLLIN)
        self._lock = threading.Lock()
        self._closed = False  # killed
        self._fds_open = True
        self._exchanging = False

    # -- talking ------------------------------------------------------------------------

    def exchange(self, header: dict, body: bytes, deadline: float, output: OutputSink) -> tuple[dict, bytes]:
        """Send one request and wait for its answer until `deadline` (time.monotonic()).
        Output printed meanwhile goes to `output`, including whatever was printed just
        before the answer."""
        return self._wait(encode_frame(header, body), deadline, output)

    def receive(self, deadline: float, output: OutputSink) -> tuple[dict, bytes]:
        """Wait for a frame the worker sends unasked (e.g. "ready" after start-up)."""
        return self._wait(b"", deadline, output)

    def send(self, header: dict, body: bytes = b"") -> None:
        """Send without waiting for an answer (the worker answers later via `receive`)."""
        self._wait(encode_frame(header, body), None, None)

    def _wait(self, outgoing: bytes, deadline: float | None, output: OutputSink | None) -> tuple[dict, bytes]:
        """Write `outgoing`, then (unless deadline is None) wait for one answer frame."""
        with self._lock:
            if self._closed:
                raise WorkerExited(self.process.returncode)
            self._exchanging = True
        try:
            return self._exchange(outgoing, deadline, output)
        finally:
            with self._lock:
                self._exchanging = False
                if self._closed:
                    self._close_fds()

    def _exchange(self, outgoing: bytes, deadline: float | None, output: OutputSink | None) -> tuple[dict, bytes]:
        pending = memoryview(outgoing)
        poll = self._poll
        if pending:
            poll.register(self._req, select.POLLOUT)
        try:
            while True:
                if not pending:
                    if deadline is None:
                        return {}, b""
                    frame = self._reader.frame()
                    if frame is not None:
                        # Everything the child printed before answering is already in
                        # the pipe: take it now so it belongs to this request.
                        self._drain(output)
                        return frame
                if deadline is None:
                    timeout_ms = None
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        self._drain(output)
                        raise WorkerTimeout()
                    timeout_ms = max(1, int(remaining * 1000 + 0.999))
                for fd, events in poll.poll(timeout_ms):
                    if fd == self._out:
                        self._read_output(output)
                    elif fd == self._resp:
                        data = _read(fd)
                        if data is None:
                            continue
                        if not data:
                            self._drain(output)
                            raise WorkerExited(self._reap())
                        self._reader.feed(data)
                    elif fd == self._req and pending:
                        if events & (select.POLLERR | select.POLLHUP):
                            self._drain(output)
                            raise WorkerExited(self._reap())
                        try:
                            written = os.write(fd, pending)
                        except BlockingIOError:
                            continue
                        except BrokenPipeError:
                            self._drain(output)
                            raise WorkerExited(self._reap()) from None
                        pending = pending[written:]
                        if not pending:
                            poll.unregister(self._req)
        finally:
            if pending:
                try:
                    poll.unregister(self._req)
                except KeyError:
                    pass

    def _read_output(self, output: OutputSink | None) -> bool:
        """Read one chunk of output; False once there is nothing (more) to read now."""
        data = _read(self._out)
        if data is None:
            return False
        if not data:
            # The child closed stdout/stderr (or exited): stop polling it.
            try:
                self._poll.unregister(self._out)
            except KeyError:
                pass
            return False
        if output is not None:
            output(data)
        return True

    def _drain(self, output: OutputSink | None) -> None:
        while self._read_output(output):
            pass

    # -- ending -------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return not self._closed and self.process.poll() is None

    def _reap(self, timeout: float = 2.0) -> int | None:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.process.returncode

    def kill(self) -> None:
        """Kill the worker and everything in its process group. May be called while another
        thread waits on it: that thread sees the pipes close (WorkerExited) and closes them
        itself, so no descriptor is closed under a thread still polling it."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # stuck in the kernel; the OS will reap it
            pass
        with self._lock:
            if not self._exchanging:
                self._close_fds()

    def _close_fds(self) -> None:
        if not self._fds_open:
            return
        self._fds_open = False
        for fd in (self._req, self._resp, self._out):
            try:
                os.close(fd)
            except OSError:
                pass


def _read(fd: int) -> bytes | None:
    """The next chunk; b"" at end of file; None if nothing is there yet."""
    try:
        return os.read(fd, READ_CHUNK)
    except BlockingIOError:
        return None
    except OSError as exc:
        if exc.errno in (errno.EIO, errno.EBADF):
            return b""
        raise
