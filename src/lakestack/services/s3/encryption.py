"""Server-side encryption of objects.

SSE-S3 is what every object gets on S3 (and all lakestack answers for objects written without
a customer key): lakestack's object files are plain files, so that engines read the lake in
place (DESIGN.md, "Lake data stays open").

SSE-C (customer-provided keys) encrypts for real, with the key sent on every request:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerSideEncryptionCustomerKeys.html

- The key is never stored. An object keeps a random salt and an HMAC of the key under it (as
  S3 does: "a randomly salted HMAC value of the encryption key"); a request's key is checked
  against that, and the data key is another HMAC of the customer key under the salt, so each
  object (or multipart upload) is encrypted under a key of its own.
- The format is AES-256 in CTR mode over the object's bytes, with a random 16-byte IV per
  object (per part for multipart uploads). CTR keeps the file exactly as long as the object and
  lets any byte be decrypted from its offset alone, so Range GETs, part GETs and copies of
  ranges decrypt only what they read, and CompleteMultipartUpload joins the parts' files as
  they are (the key is not sent with Complete). CTR does not authenticate; the bytes are
  guarded like any object file (the ETag and checksums describe them).
- Encrypted objects live under `s3-objects/` (keys.hashed_relpath), never in the lake
  directory: every file under `s3/<bucket>/` stays a plain object.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from lakestack.aws.errors import AwsError
from lakestack.services.s3 import errors

ALGORITHM = "AES256"
_SSE_C = ("SSECustomerAlgorithm", "SSECustomerKey", "SSECustomerKeyMD5")
_COPY_SOURCE_SSE_C = ("CopySourceSSECustomerAlgorithm", "CopySourceSSECustomerKey", "CopySourceSSECustomerKeyMD5")
_KMS = ("aws:kms", "aws:kms:dsse")
_REQUIRES = "Requests specifying Server Side Encryption with Customer provided keys must "


@dataclass(frozen=True)
class CustomerKey:
    """A request's SSE-C key, checked against its MD5."""

    key: bytes
    md5: str  # base64, as the client sent it

    def response(self) -> dict:
        """What a response names it by (never the key)."""
        return {"SSECustomerAlgorithm": ALGORITHM, "SSECustomerKeyMD5": self.md5}


def customer_key(params: dict, secure: bool, copy_source: bool = False) -> CustomerKey | None:
    """The request's customer key (or the copy source's), None when it sends none. Raises
    S3's errors for a request over plain HTTP and for missing or inconsistent headers."""
    names = _COPY_SOURCE_SSE_C if copy_source else _SSE_C
    algorithm, key, md5 = (params.get(name) for name in names)
    if algorithm is None and key is None and md5 is None:
        return None
    prefix = "x-amz-copy-source-server-side-encryption-customer-" if copy_source else \
        "x-amz-server-side-encryption-customer-"
    if not secure:
        # https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerSideEncryptionCustomerKeys.html
        # ("Amazon S3 rejects any requests made over HTTP when using SSE-C")
        raise errors.invalid_request(_REQUIRES + "be made over a secure connection.")
    if algorithm != ALGORITHM:
        raise errors.invalid_argument(_REQUIRES + "provide a valid encryption algorithm.", prefix + "algorithm",
                                      algorithm)
    if key is None:
        raise errors.invalid_argument(_REQUIRES + "provide an appropriate secret key.", prefix + "key")
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise errors.invalid_argument("The secret key was invalid for the specified algorithm.", prefix + "key")
    if md5 is None:
        raise errors.invalid_argument(_REQUIRES + "provide the client calculated MD5 of the secret key.",
                                      prefix + "key-MD5")
    if base64.b64encode(hashlib.md5(raw).digest()).decode() != md5.strip():
        raise errors.invalid_argument("The calculated MD5 hash of the key did not match the hash that was provided.",
                                      prefix + "key-MD5")
    return CustomerKey(raw, md5.strip())


def check_write(params: dict, secure: bool) -> CustomerKey | None:
    """A write's encryption headers: the SSE-C key it encrypts with, or None for SSE-S3."""
    sse = params.get("ServerSideEncryption")
    if sse is not None:
        if any(params.get(name) is not None for name in _SSE_C):  # checked before the connection is
            raise errors.invalid_argument("Server Side Encryption with Customer provided key is incompatible with "
                                          "the encryption method specified", "x-amz-server-side-encryption", sse)
        if sse in _KMS:
            raise errors.not_implemented_feature("server-side encryption with KMS keys (SSE-KMS)",
                                                 "x-amz-server-side-encryption")
        if sse != ALGORITHM:
            raise errors.invalid_argument("The encryption method specified is not supported",
                                          "x-amz-server-side-encryption", sse)
    return customer_key(params, secure)


def write_headers(key: CustomerKey | None) -> dict:
    """The encryption members of a write's response."""
    return key.response() if key is not None else {"ServerSideEncryption": ALGORITHM}


# -- keys at rest ----------------------------------------------------------------------------


def _mac(key: bytes, purpose: bytes, salt: bytes) -> bytes:
    return hmac.new(key, purpose + salt, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def seal(key: CustomerKey) -> tuple[dict, bytes]:
    """(what an object stores about its key, the data key to encrypt it with)."""
    salt = os.urandom(16)
    info = {"algorithm": ALGORITHM, "salt": _b64(salt), "check": _b64(_mac(key.key, b"lakestack sse-c check", salt))}
    return info, _mac(key.key, b"lakestack sse-c data", salt)


def unseal(info: dict, key: CustomerKey | None) -> bytes:
    """The data key of an object encrypted with `info`, if `key` is its customer key."""
    if key is None:
        raise errors.invalid_request("The object was stored using a form of Server Side Encryption. The correct "
                                     "parameters must be provided to retrieve the object.")
    salt = base64.b64decode(info["salt"])
    if not hmac.compare_digest(_mac(key.key, b"lakestack sse-c check", salt), base64.b64decode(info["check"])):
        # S3 answers a wrong key 403 AccessDenied (s3-tests expects 400 here).
        raise errors.access_denied()
    return _mac(key.key, b"lakestack sse-c data", salt)


def check_plain(key: CustomerKey | None) -> None:
    """A customer key sent to read an object that was not encrypted with one."""
    if key is not None:
        raise errors.invalid_request("The encryption parameters are not applicable to this object.")


def blocked_error() -> AwsError:
    """SSE-C on a bucket whose default encryption blocks it.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/blocking-unblocking-s3-c-encryption-gpb.html"""
    return AwsError("AccessDenied", "Access Denied", 403)


# -- the cipher ------------------------------------------------------------------------------


def new_iv() -> bytes:
    return os.urandom(16)


class Encryptor:
    """AES-256-CTR over a stream from its start."""

    def __init__(self, data_key: bytes, iv: bytes):
        self.iv = iv
        self._cipher = Cipher(algorithms.AES(data_key), modes.CTR(iv)).encryptor()
        self._etag_key = hmac.new(data_key, b"lakestack sse-c etag", hashlib.sha256).digest()

    def update(self, data) -> bytes:
        return self._cipher.update(data)

    def etag(self, md5_hex: str) -> str:
        """The ETag of what was encrypted: S3's ETag of an SSE-C object is not the MD5 of its data,
        so it is a MAC of that MD5 under the object's key (the same bytes sent again as the same
        part of an upload get the same ETag, as on S3)."""
        return hmac.new(self._etag_key, bytes.fromhex(md5_hex), hashlib.md5).hexdigest()


def decrypt(data_key: bytes, iv: bytes, offset: int, data) -> bytes:
    """Bytes at `offset` of a CTR stream: the counter of its block, and the block's head skipped."""
    block, skip = divmod(offset, 16)
    counter = ((int.from_bytes(iv, "big") + block) % (1 << 128)).to_bytes(16, "big")
    decryptor = Cipher(algorithms.AES(data_key), modes.CTR(counter)).decryptor()
    if skip:
        decryptor.update(bytes(skip))
    return decryptor.update(data)


class ObjectCipher:
    """Decrypts any range of an encrypted object's file: one CTR stream per part."""

    def __init__(self, data_key: bytes, info: dict, part_sizes: list[int] | None, size: int):
        self.data_key = data_key
        if info.get("ivs") is not None:
            ivs, sizes = [base64.b64decode(v) for v in info["ivs"]], part_sizes or []
        else:
            ivs, sizes = [base64.b64decode(info["iv"])], [size]
        self.segments = []  # (first byte, end, iv)
        start = 0
        for iv, part_size in zip(ivs, sizes, strict=False):
            self.segments.append((start, start + part_size, iv))
            start += part_size

    def decrypt_at(self, offset: int, data) -> bytes:
        view, out = memoryview(data), []
        position = offset
        for start, end, iv in self.segments:
            if not view:
                break
            if position >= end:
                continue
            take = min(len(view), end - position)
            out.append(decrypt(self.data_key, iv, position - start, view[:take]))
            view, position = view[take:], position + take
        return b"".join(out)


class DecryptedBody:
    """A range of an encrypted object's file, decrypted as the gateway reads it."""

    def __init__(self, file, cipher: ObjectCipher, offset: int, length: int):
        self._file, self._cipher = file, cipher
        self._position, self._remaining = offset, length
        self.length = length

    def read(self, n: int = -1) -> bytes:
        if self._remaining <= 0:
            return b""
        n = self._remaining if n is None or n < 0 else min(n, self._remaining)
        data = os.pread(self._file.fileno(), n, self._position)
        if not data:
            raise OSError("object file ended early")
        plain = self._cipher.decrypt_at(self._position, data)
        self._position += len(data)
        self._remaining -= len(data)
        return plain

    def close(self) -> None:
        self._file.close()
