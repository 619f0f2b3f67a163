"""Key → file path: lake keys become plain relative paths, the rest are stored by hash."""

import hashlib

import pytest

from lakestack.services.s3.keys import choose_relpath, fits_on_disk, hashed_relpath, lake_relpath


@pytest.mark.parametrize("key", [
    "a", "a/b/c.parquet", "year=2024/month=01/part-0000.snappy.parquet", "with space/ünïcödé 😀.csv",
    ".hidden", "a/.b", "...", "a..b/c", "x" * 255, "/".join(["y" * 255] * 3),
])
def test_lake_keys(key):
    assert lake_relpath(key) == key


@pytest.mark.parametrize("key", [
    "", "dir/", "/abs", "a//b", "./a", "a/./b", "a/..", "../escape", "a/../../b", "nul\x00byte",
    "x" * 256, "é" * 128 + "x",  # a segment over 255 bytes in UTF-8
    "a/" * 1600 + "b",  # a path too long for PATH_MAX
    "lone\udc80surrogate",
])
def test_keys_that_cannot_be_paths(key):
    assert lake_relpath(key) is None


def test_hashed_path_is_sha256_of_the_key():
    assert hashed_relpath("bkt", "a//b") == f"s3-objects/bkt/{hashlib.sha256(b'a//b').hexdigest()}"


def test_fits_on_disk_checks_what_is_already_there(tmp_path):
    bucket = tmp_path / "bkt"
    (bucket / "dir").mkdir(parents=True)
    (bucket / "file").write_bytes(b"x")
    assert fits_on_disk(bucket, "new")
    assert fits_on_disk(bucket, "new/deeper/still")
    assert fits_on_disk(bucket, "file")  # overwriting a file is fine
    assert fits_on_disk(bucket, "dir/inside")
    assert not fits_on_disk(bucket, "dir")  # a directory is in the way
    assert not fits_on_disk(bucket, "file/child")  # a file is in the way of the parent


def test_fits_on_disk_refuses_symlinks(tmp_path):
    bucket = tmp_path / "bkt"
    bucket.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (bucket / "link").symlink_to(tmp_path / "elsewhere")
    assert not fits_on_disk(bucket, "link/x")
    assert not fits_on_disk(bucket, "link")


def test_choose_relpath(tmp_path):
    (tmp_path / "s3" / "bkt" / "a").mkdir(parents=True)
    assert choose_relpath(tmp_path, "bkt", "b/c") == ("s3/bkt/b/c", True)
    assert choose_relpath(tmp_path, "bkt", "a") == (hashed_relpath("bkt", "a"), False)
    assert choose_relpath(tmp_path, "bkt", "x//y") == (hashed_relpath("bkt", "x//y"), False)
