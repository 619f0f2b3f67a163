"""SSE-C's cipher without a server: any range of an encrypted object (single stream or one
stream per part) decrypts to the same bytes as the whole, and keys are told apart."""

import base64
import os
import random

import pytest

from lakestack.aws.errors import AwsError
from lakestack.services.s3 import encryption


def key(raw: bytes) -> encryption.CustomerKey:
    return encryption.CustomerKey(raw, "unused")


def encrypt_parts(data_key: bytes, parts: list[bytes]) -> tuple[bytes, list[str]]:
    out, ivs = [], []
    for part in parts:
        cipher = encryption.Encryptor(data_key, encryption.new_iv())
        # in uneven pieces, as bodies arrive
        pieces, at = [], 0
        while at < len(part):
            step = random.randint(1, 5000)
            pieces.append(cipher.update(part[at:at + step]))
            at += step
        out.append(b"".join(pieces))
        ivs.append(base64.b64encode(cipher.iv).decode())
    return b"".join(out), ivs


@pytest.mark.parametrize("sizes", [[1], [15], [16], [17], [100_000], [5 * 1024 + 1, 5 * 1024, 7], [33, 1, 64]])
def test_any_range_decrypts(sizes):
    random.seed(sum(sizes))
    parts = [os.urandom(n) for n in sizes]
    plain = b"".join(parts)
    info, data_key = encryption.seal(key(os.urandom(32)))
    stored, ivs = encrypt_parts(data_key, parts)
    assert len(stored) == len(plain) and (stored != plain)
    if len(parts) == 1:
        info["iv"] = ivs[0]
    else:
        info["ivs"] = ivs
    cipher = encryption.ObjectCipher(data_key, info, sizes if len(parts) > 1 else None, len(plain))
    assert cipher.decrypt_at(0, stored) == plain
    for _ in range(200):
        first = random.randrange(len(plain))
        last = random.randrange(first, len(plain))
        assert cipher.decrypt_at(first, stored[first:last + 1]) == plain[first:last + 1]


def test_keys_are_told_apart_and_never_stored():
    raw = os.urandom(32)
    info, data_key = encryption.seal(key(raw))
    assert encryption.unseal(info, key(raw)) == data_key
    with pytest.raises(AwsError) as wrong:
        encryption.unseal(info, key(os.urandom(32)))
    assert (wrong.value.code, wrong.value.status) == ("AccessDenied", 403)
    with pytest.raises(AwsError) as missing:
        encryption.unseal(info, None)
    assert (missing.value.code, missing.value.status) == ("InvalidRequest", 400)
    assert base64.b64encode(raw).decode() not in str(info) and raw.hex() not in str(info)
    # a second object under the same customer key gets another data key
    assert encryption.seal(key(raw))[1] != data_key
