"""The 128-bit hash-key space: which shard a record belongs to.

A record's hash key is MD5(partition key) read as an unsigned 128-bit integer, or the
ExplicitHashKey the producer gave; it goes to the open shard whose range holds it.
https://docs.aws.amazon.com/streams/latest/dev/key-concepts.html#partition-key
"""

from __future__ import annotations

import hashlib

from lakestack.services.kinesis import errors

HASH_SPACE = 1 << 128
MAX_HASH_KEY = HASH_SPACE - 1


def hash_key(partition_key: str) -> int:
    return int.from_bytes(hashlib.md5(partition_key.encode()).digest(), "big")


def explicit_hash_key(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_HASH_KEY:
        raise errors.invalid_argument(
            f"Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {text}")
    return value


def even_ranges(count: int, start: int = 0, end: int = MAX_HASH_KEY) -> list[tuple[int, int]]:
    """`count` adjacent ranges covering [start, end] as evenly as integers allow (the way
    CreateStream and UpdateShardCount divide the space)."""
    width = end - start + 1
    bounds = [start + width * i // count for i in range(count + 1)]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(count)]
