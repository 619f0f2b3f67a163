"""Payload readers: the signed SHA-256 of a body, and aws-chunked bodies (signed chunks or
unsigned chunks with trailing checksums)."""

from __future__ import annotations

import hashlib
import hmac

from lakestack.aws.errors import AwsError
from lakestack.aws.request import BodyReader
from lakestack.aws.sigv4.errors import _Check, _payload_mismatch
from lakestack.aws.sigv4.info import _MAX_CHUNK_LINE, EMPTY_SHA256


class PayloadReader(BodyReader):
    """The payload as the provider should read it, once the request is authenticated.

    `trailers` holds the aws-chunked trailing headers (e.g. x-amz-checksum-crc32), complete
    once read() has reached EOF; `decoded_content_length` is x-amz-decoded-content-length.
    """

    def __init__(self, source: BodyReader, decoded_content_length: int | None = None) -> None:
        super().__init__()
        self._source = source
        self.trailers: dict[str, str] = {}
        self.decoded_content_length = decoded_content_length

    def _next_chunk(self) -> bytes:
        return self._source.read_chunk()


class _Bytes(BodyReader):
    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._data = data

    def _next_chunk(self) -> bytes:
        data, self._data = self._data, b""
        return data


class _Sha256CheckedReader(PayloadReader):
    """Hashes as the provider reads; at EOF the payload must match x-amz-content-sha256."""

    def __init__(self, source: BodyReader, decoded_content_length: int | None, expected: str,
                 check: _Check) -> None:
        super().__init__(source, decoded_content_length)
        self._hash = hashlib.sha256()
        self._expected = expected
        self._check = check

    def _next_chunk(self) -> bytes:
        chunk = self._source.read_chunk()
        if chunk:
            self._hash.update(chunk)
            return chunk
        computed = self._hash.hexdigest()
        if computed != self._expected:
            raise _payload_mismatch(self._check, self._expected, computed)
        return b""


class _ChunkChain:
    """The signature chain of a signed aws-chunked payload: each chunk's signature signs
    its data and the previous signature, starting from the request's (seed) signature."""

    def __init__(self, key: bytes, amz_date: str, scope: str, seed: str, check: _Check) -> None:
        self._key = key
        self._head = f"{amz_date}\n{scope}\n"
        self._previous = seed
        self._check = check
        self._hash = hashlib.sha256()

    def begin(self) -> None:
        self._hash = hashlib.sha256()

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def check_chunk(self, provided: str) -> None:
        self._previous = self._verify(
            f"AWS4-HMAC-SHA256-PAYLOAD\n{self._head}{self._previous}\n{EMPTY_SHA256}\n{self._hash.hexdigest()}",
            provided)

    def check_trailer(self, canonical_trailers: bytes, provided: str) -> None:
        digest = hashlib.sha256(canonical_trailers).hexdigest()
        self._verify(f"AWS4-HMAC-SHA256-TRAILER\n{self._head}{self._previous}\n{digest}", provided)

    def _verify(self, to_sign: str, provided: str) -> str:
        expected = hmac.new(self._key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), provided.encode()):
            raise self._check.fail("bad_signature", StringToSign=to_sign, SignatureProvided=provided)
        return expected


class AwsChunkedReader(PayloadReader):
    """Decodes `Content-Encoding: aws-chunked` framing while the provider reads:

        <hex size>[;chunk-signature=<sig>]\\r\\n<data>\\r\\n … 0[;chunk-signature=<sig>]\\r\\n
        [<trailer name>:<value>\\r\\n …][x-amz-trailer-signature:<sig>\\r\\n]\\r\\n

    Chunk data is passed on as it arrives (hashed incrementally, never buffered whole); a
    bad chunk signature raises when that chunk's last byte is read, before EOF.
    """

    def __init__(self, source: BodyReader, decoded_content_length: int | None, chain: _ChunkChain | None, *,
                 trailer_signed: bool, check: _Check) -> None:
        super().__init__(source, decoded_content_length)
        self._chain = chain
        self._trailer_signed = trailer_signed
        self._check = check
        self._raw = bytearray()  # received but not yet decoded
        self._left = 0  # data bytes still to come in the current chunk
        self._chunk_signature = ""
        self._decoded = 0
        self._done = False

    def _next_chunk(self) -> bytes:
        while not self._done:
            if self._left:
                data = self._take(self._left)
                self._left -= len(data)
                self._decoded += len(data)
                if self._chain:
                    self._chain.update(data)
                if not self._left:
                    if self._chain:
                        self._chain.check_chunk(self._chunk_signature)
                    if self._line() != b"":  # the CRLF closing the chunk's data
                        raise self._incomplete()
                return data
            size = self._chunk_header()
            if size:
                self._left = size
            else:
                # The final, empty chunk has no data CRLF of its own: the trailer section
                # (possibly empty) follows, ended by a blank line.
                if self._chain:
                    self._chain.check_chunk(self._chunk_signature)
                self._read_trailers()
                self._done = True
        return b""

    def _chunk_header(self) -> int:
        line = self._line()
        if line is None:
            raise self._incomplete()
        size_text, _, extension = line.partition(b";")
        try:
            size = int(size_text, 16)
        except ValueError:
            raise self._incomplete() from None
        if size < 0:
            raise self._incomplete()
        if self._chain:
            name, _, signature = extension.partition(b"=")
            if name.strip() != b"chunk-signature":
                raise self._check.fail("bad_signature", "The chunk has no chunk-signature.")
            self._chunk_signature = signature.strip().decode("latin-1")
            self._chain.begin()
        return size

    def _read_trailers(self) -> None:
        canonical = bytearray()
        trailer_signature = None
        while True:
            line = self._line()
            if not line:  # the blank line ending the trailers, or EOF (some clients omit it)
                break
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep:
                raise self._incomplete()
            name, value = name.strip().lower(), value.strip()
            if name == "x-amz-trailer-signature":
                trailer_signature = value
            else:
                self.trailers[name] = value
                canonical += f"{name}:{value}\n".encode("latin-1")
        if self._trailer_signed:
            if trailer_signature is None:
                raise self._check.fail("bad_signature", "The trailer has no x-amz-trailer-signature.")
            self._chain.check_trailer(bytes(canonical), trailer_signature)
        if self.decoded_content_length is not None and self._decoded != self.decoded_content_length:
            raise self._check.fail("incomplete_body", "You did not provide the number of bytes specified by the "
                                   "x-amz-decoded-content-length HTTP header")

    def _take(self, n: int) -> bytes:
        """Up to `n` (at least one) bytes of chunk data."""
        if self._raw:
            data = bytes(self._raw[:n])
            del self._raw[:n]
            return data
        chunk = self._source.read_chunk()
        if not chunk:
            raise self._incomplete()
        if len(chunk) <= n:
            return chunk  # the common case: no copy
        self._raw += memoryview(chunk)[n:]
        return chunk[:n]

    def _line(self) -> bytes | None:
        """The next line without its CRLF; None at EOF."""
        while True:
            end = self._raw.find(b"\n")
            if end >= 0:
                line = bytes(self._raw[:end])
                del self._raw[: end + 1]
                return line[:-1] if line.endswith(b"\r") else line
            if len(self._raw) > _MAX_CHUNK_LINE:
                raise self._incomplete()
            chunk = self._source.read_chunk()
            if not chunk:
                if not self._raw:
                    return None
                line = bytes(self._raw)
                self._raw.clear()
                return line
            self._raw += chunk

    def _incomplete(self) -> AwsError:
        return self._check.fail("incomplete_body")
