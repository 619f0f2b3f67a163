"""ListObjects / ListObjectsV2 pagination: prefix, delimiter roll-up into CommonPrefixes,
markers and continuation tokens, in UTF-8 byte order of keys (as S3 returns them).

Keys are read from the index in order, a page at a time. When a key rolls up into a common
prefix, the scan jumps past every key with that prefix in one seek, so a prefix holding a
million keys costs one query, not a million rows.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from lakestack.services.s3 import errors
from lakestack.services.s3.keys import key_bytes

MAX_KEYS = 1000

# fetch(lower, lower_inclusive, upper, limit) -> rows with a `key`, in UTF-8 byte order of key,
# with lower <= key (or lower < key) and key < upper (upper None: no bound).
Fetch = Callable[[bytes, bool, bytes | None, int], Sequence]


def successor(prefix: str) -> bytes:
    """The least byte string greater than every string that starts with `prefix`.

    UTF-8 never uses bytes above 0xF4, so incrementing the last byte cannot overflow.
    """
    data = key_bytes(prefix)
    return data[:-1] + bytes([data[-1] + 1])


@dataclass
class Page:
    contents: list = field(default_factory=list)
    common_prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    # The last key or common prefix returned, and which of the two it was.
    last: str | None = None
    last_is_prefix: bool = False

    @property
    def count(self) -> int:
        return len(self.contents) + len(self.common_prefixes)


def paginate(fetch: Fetch, prefix: str = "", delimiter: str = "", after: str | None = None,
             after_is_prefix: bool = False, max_keys: int = MAX_KEYS) -> Page:
    """One page of a listing.

    `after`: resume strictly after this key (StartAfter, Marker, or a token's last key), or,
    with `after_is_prefix`, after every key under this common prefix.
    """
    page = Page()
    if max_keys <= 0:
        return page
    lower, inclusive = key_bytes(prefix), True
    if after is not None:
        bound, bound_inclusive = (successor(after), True) if after_is_prefix else (key_bytes(after), False)
        if bound > lower or (bound == lower and not bound_inclusive):
            lower, inclusive = bound, bound_inclusive
    upper = successor(prefix) if prefix else None
    while True:
        limit = min(max_keys - page.count + 1, MAX_KEYS + 1)
        rows = fetch(lower, inclusive, upper, limit)
        jumped = False
        for row in rows:
            key = row["key"]
            common = _common_prefix(key, prefix, delimiter)
            if common is not None:
                lower, inclusive, jumped = successor(common), True, True
                # A marker inside (or equal to) this prefix means the prefix was already returned.
                if after is not None and common <= after:
                    break
                if page.count == max_keys:
                    page.truncated = True
                    return page
                page.common_prefixes.append(common)
                page.last, page.last_is_prefix = common, True
                break
            if page.count == max_keys:
                page.truncated = True
                return page
            page.contents.append(row)
            page.last, page.last_is_prefix = key, False
            lower, inclusive = key_bytes(key), False
        if not jumped and len(rows) < limit:
            return page


def _common_prefix(key: str, prefix: str, delimiter: str) -> str | None:
    if not delimiter:
        return None
    index = key.find(delimiter, len(prefix))
    if index < 0:
        return None
    return key[: index + len(delimiter)]


# -- continuation tokens (ListObjectsV2) --------------------------------------------------

def make_token(page: Page) -> str:
    kind = b"P" if page.last_is_prefix else b"K"
    return base64.urlsafe_b64encode(kind + key_bytes(page.last)).decode()


def read_token(token: str) -> tuple[str, bool]:
    """(last key or prefix, whether it is a prefix)."""
    try:
        raw = base64.urlsafe_b64decode(token.encode())
        kind, value = raw[:1], raw[1:].decode("utf-8", "surrogatepass")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raw, kind, value = b"", b"", ""
    if kind not in (b"P", b"K"):
        raise errors.invalid_argument("The continuation token provided is incorrect", "continuation-token",
                                      token)
    return value, kind == b"P"


def url_encode(value: str | None) -> str | None:
    """EncodingType=url: S3 percent-encodes keys (spaces as '+', which SDKs decode)."""
    if value is None:
        return None
    return quote(value, safe="/").replace("%20", "+")


def check_max_keys(value) -> int:
    if value is None:
        return MAX_KEYS
    if value < 0:
        raise errors.invalid_argument("Argument maxKeys must be an integer between 0 and 2147483647", "maxKeys",
                                      value)
    return min(value, MAX_KEYS)


def sql_fetch(db_query, bucket: str, columns: str) -> Fetch:
    """A Fetch over the objects index. CAST(bytes AS TEXT) lets a bound be any byte string
    while comparing with SQLite's BINARY collation (memcmp of UTF-8), i.e. S3's order."""

    def fetch(lower: bytes, inclusive: bool, upper: bytes | None, limit: int):
        op = ">=" if inclusive else ">"
        sql = f"SELECT {columns} FROM objects WHERE bucket = ? AND key {op} CAST(? AS TEXT)"
        args: list = [bucket, lower]
        if upper is not None:
            sql += " AND key < CAST(? AS TEXT)"
            args.append(upper)
        sql += " ORDER BY key LIMIT ?"
        args.append(limit)
        return db_query(sql, tuple(args))

    return fetch


# -- the two ListObjects answers ------------------------------------------------------------

CONTENT_COLUMNS = "key, size, etag, last_modified, storage_class, checksum_algorithm, checksum_type"


def _content(row, owner: dict | None) -> dict:
    item = {
        "Key": row["key"],
        "LastModified": dt.datetime.fromtimestamp(row["last_modified"], dt.UTC),
        "ETag": row["etag"],
        "Size": row["size"],
        "StorageClass": row["storage_class"] or "STANDARD",
    }
    if row["checksum_algorithm"]:
        item["ChecksumAlgorithm"] = [row["checksum_algorithm"]]
        item["ChecksumType"] = row["checksum_type"] or "FULL_OBJECT"
    if owner is not None:
        item["Owner"] = owner
    return item


def _encode_answer(out: dict, names: tuple[str, ...]) -> None:
    for name in names:
        if out.get(name) is not None:
            out[name] = url_encode(out[name])
    for item in out.get("Contents") or ():
        item["Key"] = url_encode(item["Key"])
    for common in out.get("CommonPrefixes") or ():
        common["Prefix"] = url_encode(common["Prefix"])


def _check_encoding(value: str | None) -> bool:
    if value is None:
        return False
    if value != "url":
        raise errors.invalid_argument("Invalid Encoding Method specified in Request", "encoding-type", value)
    return True


def list_v2(fetch: Fetch, bucket: str, params: dict, owner: dict) -> dict:
    prefix = params.get("Prefix") or ""
    delimiter = params.get("Delimiter") or ""
    max_keys = check_max_keys(params.get("MaxKeys"))
    encode = _check_encoding(params.get("EncodingType"))
    token = params.get("ContinuationToken")
    start_after = params.get("StartAfter")
    if token:  # an empty token is no token, echoed back as sent (MinIO and Ozone found S3 so)
        after, after_is_prefix = read_token(token)
    else:
        after, after_is_prefix = start_after or None, False
    page = paginate(fetch, prefix, delimiter, after, after_is_prefix, max_keys)
    fetch_owner = owner if params.get("FetchOwner") else None
    out = {
        "Name": bucket,
        "Prefix": prefix,
        "Delimiter": delimiter or None,
        "MaxKeys": max_keys,
        "KeyCount": page.count,
        "IsTruncated": page.truncated,
        "Contents": [_content(row, fetch_owner) for row in page.contents] or None,
        "CommonPrefixes": [{"Prefix": p} for p in page.common_prefixes] or None,
        "ContinuationToken": token,
        "StartAfter": start_after,
    }
    if page.truncated:
        out["NextContinuationToken"] = make_token(page)
    if encode:
        out["EncodingType"] = "url"
        _encode_answer(out, ("Prefix", "Delimiter", "StartAfter"))
    return out


def list_v1(fetch: Fetch, bucket: str, params: dict, owner: dict) -> dict:
    prefix = params.get("Prefix") or ""
    delimiter = params.get("Delimiter") or ""
    max_keys = check_max_keys(params.get("MaxKeys"))
    encode = _check_encoding(params.get("EncodingType"))
    marker = params.get("Marker") or ""
    page = paginate(fetch, prefix, delimiter, marker or None, False, max_keys)
    out = {
        "Name": bucket,
        "Prefix": prefix,
        "Marker": marker,
        "Delimiter": delimiter or None,
        "MaxKeys": max_keys,
        "IsTruncated": page.truncated,
        "Contents": [_content(row, owner) for row in page.contents] or None,
        "CommonPrefixes": [{"Prefix": p} for p in page.common_prefixes] or None,
    }
    # NextMarker is returned only with a delimiter; without one, clients resume at the last key.
    if page.truncated and delimiter:
        out["NextMarker"] = page.last
    if encode:
        out["EncodingType"] = "url"
        _encode_answer(out, ("Prefix", "Delimiter", "Marker", "NextMarker"))
    return out
