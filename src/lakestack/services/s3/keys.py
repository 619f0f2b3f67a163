"""Where an object's bytes live on disk.

A key becomes `<home>/s3/<bucket>/<key>` whenever it can be an ordinary relative path, so
DuckDB, Spark and pyiceberg read lake files in place (DESIGN.md principle 7). S3 keys are
arbitrary strings, though: `a//b`, `../x`, `dir/`, or both `a` and `a/b` at once. Those are
stored flat under `<home>/s3-objects/<bucket>/<sha256 of key>`, and the object row records
which layout it used, so reading never has to guess.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

LAKE_DIR = "s3"
HASHED_DIR = "s3-objects"

MAX_KEY_BYTES = 1024  # S3's limit on key length
# NAME_MAX on Linux and macOS filesystems.
MAX_SEGMENT_BYTES = 255
# Keep the whole path below PATH_MAX (4096) with room for the home directory.
MAX_LAKE_PATH_BYTES = 3072


def key_bytes(key: str) -> bytes:
    # surrogatepass: a key that is not valid UTF-8 must still hash and compare stably.
    return key.encode("utf-8", "surrogatepass")


def lake_relpath(key: str) -> str | None:
    """The key as a relative path, or None when the key cannot be one by its shape alone."""
    if not key or key.startswith("/") or key.endswith("/") or "\x00" in key:
        return None
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        return None
    if len(encoded) > MAX_LAKE_PATH_BYTES:
        return None
    for segment in key.split("/"):
        if segment in ("", ".", "..") or len(segment.encode()) > MAX_SEGMENT_BYTES:
            return None
    return key


def hashed_relpath(bucket: str, key: str) -> str:
    return f"{HASHED_DIR}/{bucket}/{hashlib.sha256(key_bytes(key)).hexdigest()}"


def fits_on_disk(bucket_dir: Path, relpath: str) -> bool:
    """True when every existing ancestor of the path is a real directory and the path itself
    is not a directory — i.e. a file can be renamed onto it. A key `a/b` next to a key `a`
    fails this test for whichever of the two is written second."""
    # Plain strings rather than Path objects: this runs on every PUT.
    parts = relpath.split("/")
    current = str(bucket_dir)
    for part in parts[:-1]:
        current = f"{current}/{part}"
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            return True  # nothing further down exists either
        if not stat.S_ISDIR(mode):
            return False
    try:
        mode = os.lstat(f"{current}/{parts[-1]}").st_mode
    except FileNotFoundError:
        return True
    return stat.S_ISREG(mode)


def choose_relpath(home: Path, bucket: str, key: str, plain: bool = True) -> tuple[str, bool]:
    """(path relative to home, whether it is the lake layout) for a key being written now.
    An encrypted object (`plain` False, SSE-C) is never put in the lake layout.

    Must be called under the bucket's layout lock, since the answer depends on what else
    is on disk at this moment.
    """
    rel = lake_relpath(key) if plain else None
    if rel is not None and fits_on_disk(home / LAKE_DIR / bucket, rel):
        return f"{LAKE_DIR}/{bucket}/{rel}", True
    return hashed_relpath(bucket, key), False
