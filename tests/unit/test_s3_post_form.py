"""The pieces of POST Object without a server: the streaming multipart/form-data reader (whatever
the network's chunking) and the POST policy's parsing and condition checks."""

import base64
import datetime as dt
import io
import json
import os

import pytest
import requests

from lakestack.aws.errors import AwsError
from lakestack.services.s3 import post_policy
from lakestack.services.s3.form_data import FormReader, boundary_of

NOW = dt.datetime(2026, 12, 8, 12, 0, tzinfo=dt.UTC)


class Trickle:
    """A body that hands out at most `size` bytes per read, like a slow network."""

    def __init__(self, data: bytes, size: int):
        self._data, self._size = io.BytesIO(data), size

    def read(self, n: int = -1) -> bytes:
        return self._data.read(min(n, self._size) if n >= 0 else self._size)


def encoded(fields: list) -> tuple[bytes, str]:
    prepared = requests.Request("POST", "http://localhost/bucket", files=fields).prepare()
    return prepared.body, prepared.headers["Content-Type"]


@pytest.mark.parametrize("chunk", [1, 3, 37, 4096, 1 << 20])
def test_reader_finds_every_part_whatever_the_chunking(chunk):
    data = os.urandom(200_000) + b"\r\n--" + os.urandom(50)  # a boundary-like run inside the file
    body, content_type = encoded([("key", (None, "k/${filename}")), ("x-amz-meta-a", (None, "é")),
                                  ("file", ("photo.jpg", data, "image/jpeg")), ("after", (None, "late"))])
    reader = FormReader(Trickle(body, chunk), boundary_of(content_type))
    parts = []
    while (part := reader.next_part()) is not None:
        content = b"".join(iter(lambda: part.read_chunk(7000), b"")) if part.name == "file" else part.read()
        parts.append((part.name, part.filename, content))
    assert parts == [("key", None, b"k/${filename}"), ("x-amz-meta-a", None, "é".encode()),
                     ("file", "photo.jpg", data), ("after", None, b"late")]


def test_reader_refuses_a_body_cut_inside_a_part():
    body, content_type = encoded([("key", (None, "k")), ("file", ("f", b"x" * 1000))])
    reader = FormReader(Trickle(body[:-200], 64), boundary_of(content_type))
    reader.next_part().read()
    part = reader.next_part()
    with pytest.raises(AwsError) as caught:
        part.read()
    assert caught.value.code == "MalformedPOSTRequest"


@pytest.mark.parametrize("content_type", ["multipart/form-data", "text/plain; boundary=x", "multipart/mixed; boundary=x"])
def test_boundary_is_required(content_type):
    with pytest.raises(AwsError) as caught:
        boundary_of(content_type)
    assert caught.value.code == "MalformedPOSTRequest"


def policy_of(document) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def test_conditions_case_insensitive_names_and_content_type_lists():
    policy = post_policy.parse(policy_of({"expiration": "2026-12-08T13:00:00.000Z", "conditions": [
        {"bUcKeT": "b"}, ["StArTs-WiTh", "$KeY", "user/"], ["starts-with", "$Content-Type", "image/"],
        ["content-length-range", 10, 20], ["content-length-range", 0, 15]]}))
    assert policy.length_range == (10, 15)  # the tightest
    fields = {"key": "user/a.png", "content-type": "image/png, image/gif"}
    post_policy.check(policy, fields, "b", NOW)
    with pytest.raises(AwsError) as caught:
        post_policy.check(policy, {**fields, "content-type": "image/png, text/html"}, "b", NOW)
    assert caught.value.message == ('Invalid according to Policy: Policy Condition failed: '
                                    '["starts-with", "$Content-Type", "image/"]')
    with pytest.raises(AwsError) as caught:
        post_policy.check(policy, fields, "other", NOW)  # the bucket posted to, not a field, decides
    assert caught.value.status == 403


@pytest.mark.parametrize("document, message", [
    ({"expiration": "2026-12-08T13:00:00Z"}, "Invalid Policy: Policy missing conditions."),
    ({"conditions": []}, "Invalid Policy: Policy missing expiration."),
    ({"EXPIRATION": "2026-12-08T13:00:00Z", "conditions": []}, 'Invalid Policy: Unexpected: "EXPIRATION"'),
    ({"expiration": "2026-12-08 13:00:00", "conditions": []},
     "Invalid Policy: Invalid 'expiration' value: '2026-12-08 13:00:00'"),
    ({"expiration": "2026-12-08T13:00:00Z", "conditions": [["content-length-range", -1, 0]]},
     "Invalid Policy: Invalid content-length-range: values must be non-negative integers."),
    ({"expiration": "2026-12-08T13:00:00Z", "conditions": [["ends-with", "$key", "x"]]},
     "Invalid Policy: Invalid Condition: unknown operation 'ends-with'."),
    ({"expiration": "2026-12-08T13:00:00Z", "conditions": [{"key": 1}]},
     "Invalid Policy: Invalid Simple-Condition: value must be a string."),
])
def test_policy_documents_s3_cannot_read(document, message):
    with pytest.raises(AwsError) as caught:
        post_policy.parse(policy_of(document))
    assert (caught.value.code, caught.value.status, caught.value.message) == ("InvalidPolicyDocument", 400, message)
