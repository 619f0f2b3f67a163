"""ListObjects pagination over an in-memory index: UTF-8 byte order, prefixes, delimiters,
markers, continuation tokens, and the seek past a rolled-up common prefix."""

import sqlite3

import pytest

from lakestack.aws.errors import AwsError
from lakestack.services.s3.listing import (
    list_v1,
    list_v2,
    make_token,
    paginate,
    read_token,
    sql_fetch,
    successor,
    url_encode,
)

KEYS = [
    "a", "a/b", "a/c/d", "a/c/e", "a0", "b c", "b+c", "photos/2024/jan.jpg", "photos/2024/feb.jpg",
    "photos/2025/mar.jpg", "photos/readme", "z", "é", "😀", "\u00ff", "\uffff",
]
OWNER = {"ID": "x", "DisplayName": "y"}


class Index:
    """A sorted list standing in for the objects table; counts fetches."""

    def __init__(self, keys):
        self.keys = sorted(keys, key=lambda k: k.encode())
        self.fetches = 0

    def fetch(self, lower, inclusive, upper, limit):
        self.fetches += 1
        out = []
        for key in self.keys:
            raw = key.encode()
            if (raw < lower) or (raw == lower and not inclusive):
                continue
            if upper is not None and raw >= upper:
                break
            out.append({"key": key, "size": 1, "etag": '"e"', "last_modified": 0.0, "storage_class": None,
                        "checksum_algorithm": None, "checksum_type": None})
            if len(out) == limit:
                break
        return out


def keys_of(page):
    return [row["key"] for row in page.contents]


def everything(index, **kwargs):
    """Follow continuation tokens to the end; (keys, prefixes, pages)."""
    keys, prefixes, after, is_prefix, pages = [], [], None, False, 0
    while True:
        page = paginate(index.fetch, after=after, after_is_prefix=is_prefix, **kwargs)
        pages += 1
        keys += keys_of(page)
        prefixes += page.common_prefixes
        if not page.truncated:
            return keys, prefixes, pages
        after, is_prefix = read_token(make_token(page))


def test_order_is_utf8_bytes():
    index = Index(KEYS)
    page = paginate(index.fetch)
    assert keys_of(page) == sorted(KEYS, key=lambda k: k.encode())
    # Code point order agrees with UTF-8 byte order, unlike UTF-16 order ("😀" < "\uffff" there).
    assert keys_of(page)[-2:] == ["\uffff", "😀"]


def test_prefix():
    page = paginate(Index(KEYS).fetch, prefix="photos/2024/")
    assert keys_of(page) == ["photos/2024/feb.jpg", "photos/2024/jan.jpg"]
    assert not page.truncated


def test_delimiter_rolls_up_and_seeks_past_each_prefix():
    index = Index(KEYS + [f"a/c/many-{i:04d}" for i in range(5000)])
    page = paginate(index.fetch, delimiter="/")
    assert page.common_prefixes == ["a/", "photos/"]
    assert keys_of(page) == ["a", "a0", "b c", "b+c", "z", "é", "\u00ff", "\uffff", "😀"]
    assert index.fetches < 10  # 5000 keys under a/ cost one seek, not a scan


def test_prefix_and_delimiter():
    page = paginate(Index(KEYS).fetch, prefix="photos/", delimiter="/")
    assert page.common_prefixes == ["photos/2024/", "photos/2025/"]
    assert keys_of(page) == ["photos/readme"]


def test_multi_character_delimiter():
    page = paginate(Index(["x--1", "x--2", "y", "x-3"]).fetch, delimiter="--")
    assert page.common_prefixes == ["x--"]
    assert keys_of(page) == ["x-3", "y"]


@pytest.mark.parametrize("max_keys", [1, 2, 3, 5, 1000])
def test_pages_join_up_to_the_full_listing(max_keys):
    index = Index(KEYS)
    keys, prefixes, pages = everything(index, delimiter="/", max_keys=max_keys)
    full = paginate(index.fetch, delimiter="/")
    assert keys == keys_of(full)
    assert prefixes == full.common_prefixes
    assert pages == max(1, -(-(len(keys) + len(prefixes)) // max_keys))


def test_truncation_is_exact():
    index = Index(["a", "b", "c"])
    assert paginate(index.fetch, max_keys=3).truncated is False
    assert paginate(index.fetch, max_keys=2).truncated is True
    assert paginate(index.fetch, max_keys=0).truncated is False


def test_start_after_and_marker_inside_a_prefix_skip_it():
    index = Index(KEYS)
    page = paginate(index.fetch, delimiter="/", after="a/")
    assert page.common_prefixes == ["photos/"]
    assert keys_of(page)[0] == "a0"
    page = paginate(index.fetch, delimiter="/", after="photos/2024/feb.jpg")
    assert "photos/" not in page.common_prefixes
    page = paginate(index.fetch, after="photos/2024/feb.jpg")
    assert keys_of(page)[0] == "photos/2024/jan.jpg"


def test_start_after_before_the_prefix_is_ignored():
    page = paginate(Index(KEYS).fetch, prefix="photos/", after="a")
    assert keys_of(page)[0] == "photos/2024/feb.jpg"


def test_successor_bounds_every_key_with_the_prefix():
    for prefix in ["a/", "é", "😀", "\u00ff"]:
        bound = successor(prefix)
        assert (prefix + "\U0010ffff").encode() < bound
        assert prefix.encode() < bound


def test_tokens_round_trip_and_reject_garbage():
    index = Index(KEYS)
    page = paginate(index.fetch, delimiter="/", max_keys=1)
    assert read_token(make_token(page)) == ("a", False)
    page = paginate(index.fetch, delimiter="/", max_keys=2)
    assert read_token(make_token(page)) == ("a/", True)
    with pytest.raises(AwsError) as caught:
        read_token("not-a-token")
    assert caught.value.code == "InvalidArgument"


def test_url_encoding():
    assert url_encode("a b+c/ü?&=%") == "a+b%2Bc/%C3%BC%3F%26%3D%25"


def test_list_v2_answer():
    index = Index(KEYS)
    out = list_v2(index.fetch, "bkt", {"Prefix": "photos/", "Delimiter": "/", "MaxKeys": 1,
                                       "EncodingType": "url"}, OWNER)
    assert out["KeyCount"] == 1 and out["IsTruncated"] is True
    assert out["CommonPrefixes"] == [{"Prefix": "photos/2024/"}]
    assert out["Contents"] is None
    assert out["EncodingType"] == "url"
    following = list_v2(index.fetch, "bkt", {"Prefix": "photos/", "Delimiter": "/",
                                             "ContinuationToken": out["NextContinuationToken"]}, OWNER)
    assert following["CommonPrefixes"] == [{"Prefix": "photos/2025/"}]
    assert [c["Key"] for c in following["Contents"]] == ["photos/readme"]
    assert following["ContinuationToken"] == out["NextContinuationToken"]
    with pytest.raises(AwsError):
        list_v2(index.fetch, "bkt", {"MaxKeys": -1}, OWNER)
    with pytest.raises(AwsError):
        list_v2(index.fetch, "bkt", {"EncodingType": "base64"}, OWNER)


def test_list_v1_next_marker_only_with_a_delimiter():
    index = Index(KEYS)
    assert "NextMarker" not in list_v1(index.fetch, "bkt", {"MaxKeys": 2}, OWNER)
    out = list_v1(index.fetch, "bkt", {"MaxKeys": 2, "Delimiter": "/"}, OWNER)
    assert out["NextMarker"] == "a/"
    following = list_v1(index.fetch, "bkt", {"Marker": out["NextMarker"], "Delimiter": "/"}, OWNER)
    assert [c["Key"] for c in following["Contents"]][0] == "a0"


def test_sql_fetch_uses_sqlite_binary_order():
    db = sqlite3.connect(":memory:")
    db.row_factory = sqlite3.Row
    db.execute("CREATE TABLE objects (bucket TEXT, key TEXT, PRIMARY KEY (bucket, key)) WITHOUT ROWID")
    db.executemany("INSERT INTO objects VALUES ('bkt', ?)", [(k,) for k in KEYS])
    db.execute("INSERT INTO objects VALUES ('other', 'a/zzz')")
    fetch = sql_fetch(lambda sql, args: db.execute(sql, args).fetchall(), "bkt", "key")
    expected = paginate(Index(KEYS).fetch, delimiter="/")
    page = paginate(fetch, delimiter="/")
    assert keys_of(page) == keys_of(expected)
    assert page.common_prefixes == expected.common_prefixes
    assert keys_of(paginate(fetch, prefix="a/")) == ["a/b", "a/c/d", "a/c/e"]
