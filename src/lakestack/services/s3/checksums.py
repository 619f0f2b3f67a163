"""S3's additional checksums (CRC32, CRC32C, CRC64NVME, SHA1, SHA256, SHA512, MD5) and the
ETag's MD5, computed while the body streams to disk, so the bytes are read once.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import Callable

import crcmod
import crcmod.predefined

from lakestack.services.s3 import errors

try:  # awscrt's CRCs are hardware-accelerated; it comes with the CRT flavour of boto3.
    from awscrt import checksums as _crt
except ImportError:  # pragma: no cover - depends on the environment
    _crt = None


def _crc32c_function() -> Callable[[bytes, int], int]:
    if _crt is not None:
        return _crt.crc32c
    try:  # the `crc32c` package uses SSE4.2/ARMv8 instructions (GB/s)
        import crc32c as _fast

        return lambda data, crc=0: _fast.crc32c(data, crc)
    except ImportError:
        pass
    # crcmod's C extension: ~400 MB/s, slower than MD5 but correct.
    return crcmod.predefined.mkCrcFun("crc-32c")


def _crc64nvme_function() -> Callable[[bytes, int], int]:
    if _crt is not None and hasattr(_crt, "crc64nvme"):
        return _crt.crc64nvme
    # CRC-64/NVME: reflected polynomial 0xAD93D23594C93659, init and xorout all ones
    # (crcmod takes the initial value already xor'ed with xorout, hence 0).
    return crcmod.mkCrcFun(0x1AD93D23594C93659, initCrc=0, rev=True, xorOut=0xFFFFFFFFFFFFFFFF)


_crc32c = _crc32c_function()
_crc64nvme = _crc64nvme_function()


class _Crc:
    def __init__(self, fn: Callable[[bytes, int], int], width: int):
        self._fn = fn
        self._width = width
        self._value = 0

    def update(self, data) -> None:
        self._value = self._fn(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(self._width, "big")


FACTORIES: dict[str, Callable[[], object]] = {
    "CRC32": lambda: _Crc(zlib.crc32, 4),
    "CRC32C": lambda: _Crc(_crc32c, 4),
    "CRC64NVME": lambda: _Crc(_crc64nvme, 8),
    "SHA1": hashlib.sha1,
    "SHA256": hashlib.sha256,
    "SHA512": hashlib.sha512,
    "MD5": hashlib.md5,
}
DIGEST_SIZES = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32, "SHA512": 64, "MD5": 16}
# Whole-object CRCs can be combined from parts, so S3 offers FULL_OBJECT multipart checksums
# for these; the hashes only have COMPOSITE ones (checksum of the part checksums).
FULL_OBJECT_CAPABLE = {"CRC32", "CRC32C", "CRC64NVME"}
# The request/response member holding each algorithm's value, e.g. ChecksumCRC32.
ALL_MEMBERS = ["ChecksumCRC32", "ChecksumCRC32C", "ChecksumCRC64NVME", "ChecksumSHA1", "ChecksumSHA256",
               "ChecksumSHA512", "ChecksumMD5", "ChecksumXXHASH64", "ChecksumXXHASH3", "ChecksumXXHASH128"]


def member(algorithm: str) -> str:
    return f"Checksum{algorithm}"


def new(algorithm: str):
    factory = FACTORIES.get(algorithm)
    if factory is None:
        raise errors.invalid_request(f"Checksum algorithm {algorithm} is not supported by lakestack.")
    return factory()


def encode(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def normalize_algorithm(value: str | None) -> str | None:
    if not value:
        return None
    algorithm = value.upper()
    if algorithm not in FACTORIES and member(algorithm) not in ALL_MEMBERS:
        raise errors.invalid_request("Checksum algorithm provided is unsupported. Please try again with any of "
                                     "the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
    return algorithm


def decode_expected(algorithm: str, text: str) -> str:
    """The client's value for `algorithm`, checked for shape (base64 of the right length)."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise errors.invalid_checksum_value(algorithm) from None
    if len(raw) != DIGEST_SIZES.get(algorithm, len(raw)):
        raise errors.invalid_checksum_value(algorithm)
    return text


def supplied(params: dict, trailer_names: list[str] | None = None) -> tuple[str | None, str | None]:
    """(algorithm, expected value or None) the client asked for: a Checksum<ALG> member, an
    x-amz-trailer naming one (value arrives after the body), or only x-amz-sdk-checksum-algorithm.
    """
    present = [m for m in ALL_MEMBERS if params.get(m)]
    if len(present) > 1:
        raise errors.invalid_request("Expecting a single x-amz-checksum- header. Multiple checksum Types are "
                                     "not allowed.")
    requested = normalize_algorithm(params.get("ChecksumAlgorithm"))
    if present:
        algorithm = present[0][len("Checksum"):]
        if requested and requested != algorithm:
            raise errors.invalid_request(
                f"Value for x-amz-sdk-checksum-algorithm header is invalid. Expected {algorithm}."
            )
        return algorithm, decode_expected(algorithm, params[present[0]])
    for name in trailer_names or ():
        if name.lower().startswith("x-amz-checksum-"):
            return normalize_algorithm(name[len("x-amz-checksum-"):]), None
    return requested, None


def content_md5(value: str | None) -> bytes | None:
    """The decoded Content-MD5 header, or InvalidDigest."""
    if value is None:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise errors.invalid_digest_md5() from None
    if len(raw) != 16:
        raise errors.invalid_digest_md5()
    return raw


def composite(algorithm: str, part_values: list[str]) -> str:
    """S3's COMPOSITE multipart checksum: the checksum of the parts' binary checksums, "-N"."""
    digest = new(algorithm)
    for value in part_values:
        digest.update(base64.b64decode(value))
    return f"{encode(digest.digest())}-{len(part_values)}"


def multipart_etag(part_md5_hex: list[str]) -> str:
    """S3's multipart ETag: MD5 of the concatenated binary part MD5s, then "-N"."""
    digest = hashlib.md5()
    for value in part_md5_hex:
        digest.update(bytes.fromhex(value))
    return f'"{digest.hexdigest()}-{len(part_md5_hex)}"'
