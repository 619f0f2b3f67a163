"""Sequence numbers: 56-digit decimal strings, like the ones Kinesis hands out.

    4 | shard creation ms (14 digits) | shard number (12 digits) | position in the shard (29 digits)

Fixed width, so numeric and string order agree. Within a shard they grow with the
position; a child shard is created after its parents, so its numbers are greater than
theirs — which is what lets consumers compare sequence numbers across a reshard.
"""

from __future__ import annotations

from dataclasses import dataclass

LENGTH = 56


@dataclass(frozen=True)
class Decoded:
    shard_created_ms: int
    shard_index: int
    position: int


def encode(shard_created_ms: int, shard_index: int, position: int) -> str:
    return f"4{shard_created_ms:014d}{shard_index:012d}{position:029d}"


def decode(text: str) -> Decoded:
    """Raises ValueError for anything that is not one of ours."""
    if len(text) != LENGTH or not text.isdigit() or text[0] != "4":
        raise ValueError(f"not a sequence number: {text!r}")
    return Decoded(int(text[1:15]), int(text[15:27]), int(text[27:]))
