"""GetObjectTorrent: an object's BitTorrent metainfo file (BEP 3), computed from its bytes.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObjectTorrent.html — "You can get
torrent only for objects that are less than 5 GB in size, and that are not encrypted using
server-side encryption with a customer-provided encryption key."

AWS stopped its BitTorrent tracker in 2022 (the S3Torrent page was withdrawn then), so the
file names no tracker; it names the object's own URL as a web seed (BEP 19, `url-list`),
which is how a client can still fetch the pieces. Pieces are 256 KiB, as S3's torrents had.
"""

from __future__ import annotations

import hashlib

from lakestack.services.s3 import errors

PIECE_LENGTH = 256 << 10
MAX_SIZE = 5 << 30  # "less than 5 GB"


def bencode(value) -> bytes:
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    if isinstance(value, dict):  # keys as raw strings, sorted (BEP 3)
        items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in value.items())
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
    raise TypeError(f"cannot bencode {type(value).__name__}")


def check_torrentable(size: int, customer_encrypted: bool) -> None:
    if customer_encrypted:
        raise errors.invalid_request("Torrent is not supported for objects encrypted with customer-provided keys.")
    if size >= MAX_SIZE:
        raise errors.invalid_request("Torrent is only supported for objects smaller than 5 GB.")


def metainfo(file, size: int, key: str, url: str) -> bytes:
    """The .torrent of `size` bytes read from `file`, named after the key's last segment."""
    pieces = bytearray()
    remaining = size
    while remaining > 0:
        chunk = file.read(min(PIECE_LENGTH, remaining))
        while len(chunk) < min(PIECE_LENGTH, remaining):
            more = file.read(min(PIECE_LENGTH, remaining) - len(chunk))
            if not more:
                break
            chunk += more
        if not chunk:
            break
        pieces += hashlib.sha1(chunk, usedforsecurity=False).digest()
        remaining -= len(chunk)
    name = key.rstrip("/").rsplit("/", 1)[-1] or key
    info = {"length": size, "name": name, "piece length": PIECE_LENGTH, "pieces": bytes(pieces)}
    return bencode({"info": info, "url-list": [url]})
