"""A streaming reader of `multipart/form-data` (RFC 7578), for S3's browser uploads.

The fields before the file are small and read whole; the file part is handed out as a
reader that stops at the closing boundary, so a large upload streams to disk instead of
being held in memory. Nothing after the file is read: S3 ignores fields that follow it
(https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html, "file").
"""

from __future__ import annotations

from email.message import Message

from lakestack.aws.errors import AwsError

READ_CHUNK = 1 << 16
MAX_PART_HEADERS = 16 * 1024


def malformed() -> AwsError:
    return AwsError("MalformedPOSTRequest",
                    "The body of your POST request is not well-formed multipart/form-data.", 400)


def boundary_of(content_type: str) -> bytes:
    """The boundary parameter of a multipart/form-data Content-Type."""
    message = Message()
    message["content-type"] = content_type
    boundary = message.get_param("boundary")
    if message.get_content_type() != "multipart/form-data" or not isinstance(boundary, str) or not boundary \
            or len(boundary) > 200:
        raise malformed()
    return boundary.encode("latin-1", "replace")


class Part:
    """One part: its form field name, the filename it declared (or None), its Content-Type."""

    def __init__(self, reader: FormReader, headers: dict[str, str]):
        self._reader = reader
        message = Message()
        message["content-disposition"] = headers.get("content-disposition", "")
        if message.get_content_disposition() != "form-data" or not message.get_param(
                "name", header="content-disposition"):
            raise malformed()
        self.name: str = _text(message.get_param("name", header="content-disposition"))
        filename = message.get_filename()
        self.filename: str | None = _text(filename) if filename is not None else None
        self.content_type = headers.get("content-type")

    def read(self, n: int = -1) -> bytes:
        """Up to `n` bytes of the part's content (all of it for n < 0); b"" at its end."""
        return self._reader.read_part(n)

    def read_chunk(self, hint: int = 1 << 20) -> bytes:
        return self._reader.read_part(hint)


def _text(value) -> str:
    if isinstance(value, tuple):  # RFC 2231 (name*=UTF-8''…)
        from email.utils import collapse_rfc2231_value

        return collapse_rfc2231_value(value)
    # The header was read as latin-1; browsers send field names and filenames as UTF-8.
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


class FormReader:
    """Parts of a multipart/form-data body read from `body` (anything with `read(n)`)."""

    def __init__(self, body, boundary: bytes):
        self._body = body
        # The first delimiter may come without the CRLF that precedes every other one.
        self._delimiter = b"\r\n--" + boundary
        self._buffer = bytearray(b"\r\n")
        self._eof = False
        self._in_part = False
        self._started = False  # past the preamble and the first delimiter
        self._done = False

    def _fill(self, want: int) -> bool:
        """Read until the buffer holds `want` bytes; False at the end of the body."""
        while len(self._buffer) < want:
            if self._eof:
                return False
            chunk = self._body.read(READ_CHUNK)
            if not chunk:
                self._eof = True
                return False
            self._buffer += chunk
        return True

    def next_part(self) -> Part | None:
        """The next part, its headers read; None after the closing delimiter."""
        if self._done:
            return None
        while self._in_part:  # skip what is left of the current part
            if not self.read_part(READ_CHUNK):
                break
        if not self._started:
            if not self._skip_to_delimiter():
                raise malformed()
            self._started = True
        self._fill(2)
        if self._buffer[:2] == b"--":
            self._done = True
            return None
        end = self._find(b"\r\n\r\n", MAX_PART_HEADERS)
        if end < 0:
            raise malformed()
        lines = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        del self._buffer[: end + 4]
        if lines[0].strip():  # the delimiter line may end in whitespace only
            raise malformed()
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise malformed()
            headers[name.strip().lower()] = value.strip()
        self._in_part = True
        return Part(self, headers)

    def _find(self, needle: bytes, limit: int) -> int:
        start = 0
        while True:
            found = self._buffer.find(needle, start)
            if found >= 0:
                return found
            if len(self._buffer) > limit:
                return -1
            start = max(0, len(self._buffer) - len(needle) + 1)
            if not self._fill(len(self._buffer) + 1):
                return -1

    def _skip_to_delimiter(self) -> bool:
        """Past the preamble and the first delimiter."""
        while True:
            found = self._buffer.find(self._delimiter)
            if found >= 0:
                del self._buffer[: found + len(self._delimiter)]
                return True
            keep = len(self._delimiter) - 1
            if len(self._buffer) > keep:
                del self._buffer[: len(self._buffer) - keep]
            if not self._fill(len(self._buffer) + 1):
                return False

    def read_part(self, n: int) -> bytes:
        """Up to `n` bytes of the current part (all of it for n < 0); b"" at its end."""
        if n is None or n < 0:
            pieces = []
            while piece := self.read_part(READ_CHUNK):
                pieces.append(piece)
            return b"".join(pieces)
        if not self._in_part:
            return b""
        n, delimiter = max(n, 1), self._delimiter
        while True:
            found = self._buffer.find(delimiter)
            if found == 0:
                del self._buffer[: len(delimiter)]
                self._in_part = False
                return b""
            if found > 0:
                take = min(found, n)
            elif len(self._buffer) >= n + len(delimiter) or self._eof:
                # Bytes that cannot be the start of a delimiter are the part's.
                take = min(len(self._buffer) - (len(delimiter) - 1), n)
                if take <= 0:
                    raise malformed()  # the body ended inside a part
            else:
                self._fill(n + len(delimiter))
                continue
            data = bytes(self._buffer[:take])
            del self._buffer[:take]
            return data

    def drain(self, limit: int) -> None:
        """Read and drop what is left of the body, up to `limit` bytes."""
        self._buffer.clear()
        dropped = 0
        while not self._eof and dropped <= limit:
            chunk = self._body.read(READ_CHUNK)
            if not chunk:
                self._eof = True
            dropped += len(chunk)
