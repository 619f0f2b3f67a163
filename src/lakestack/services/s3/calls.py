"""What the S3 provider's operations share: the ARN templates of IAM checks, and how a request's
body, SSE-C key and Location are read from it.
"""

from __future__ import annotations

from contextlib import contextmanager
from urllib.parse import quote

from lakestack.aws.errors import AwsError
from lakestack.aws.request import BytesBody
from lakestack.services.s3 import encryption, errors
from lakestack.services.s3.spool import Incoming

BUCKET = "arn:aws:s3:::{Bucket}"
OBJECT = "arn:aws:s3:::{Bucket}/{Key}"
# Larger unread bodies are the gateway's to discard (by closing the connection).
DRAIN_LIMIT = 8 << 20
# Writes whose ACL headers need s3:PutObjectAcl as well.
ACL_WRITES = frozenset({"PutObject", "CopyObject", "CreateMultipartUpload"})


def object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def secure(ctx) -> bool:
    # A call from another service (no HTTP request) never crossed a network.
    return ctx.http is None or ctx.http.secure


def customer_key(ctx, params, copy_source: bool = False) -> encryption.CustomerKey | None:
    """The request's SSE-C key (or its copy source's), checked."""
    return encryption.customer_key(params, secure(ctx), copy_source)


def read_key(ctx, params) -> encryption.CustomerKey | None:
    """GetObject/HeadObject: the SSE-C key; x-amz-server-side-encryption is for writes only (400)."""
    if ctx.http is not None and ctx.http.headers.get("x-amz-server-side-encryption") is not None:
        raise errors.invalid_argument("x-amz-server-side-encryption header is not supported for this operation.",
                                      "x-amz-server-side-encryption", ctx.http.headers["x-amz-server-side-encryption"])
    return customer_key(ctx, params)


def incoming(ctx, params) -> Incoming:
    """The body and what the headers promise about it."""
    body = params.get("Body")
    if isinstance(body, str):
        body = body.encode()
    if isinstance(body, bytes | bytearray):  # a cross-service call passes bytes
        body = BytesBody(bytes(body))
    headers = ctx.http.headers if ctx.http is not None else {}
    decoded = headers.get("x-amz-decoded-content-length")
    if decoded is not None and decoded.isdigit():
        expected = int(decoded)
    elif "aws-chunked" in headers.get("content-encoding", ""):
        expected = None  # Content-Length counts the chunk framing
    else:
        expected = params.get("ContentLength")
    trailer_names = [t.strip() for t in headers.get("x-amz-trailer", "").split(",") if t.strip()]
    return Incoming(body, expected, trailer_names, ctx.extra.get("trailers") or {})


@contextmanager
def drained_on_error(incoming: Incoming):
    """An error found before the body was read (bad Content-MD5, missing bucket) must still
    consume a small body, or its bytes would be parsed as the connection's next request."""
    try:
        yield
    except AwsError:
        reader = incoming.reader
        if reader is not None and (incoming.expected_size or 0) <= DRAIN_LIMIT:
            try:
                drained = 0
                while drained <= DRAIN_LIMIT and (chunk := reader.read(1 << 16)):
                    drained += len(chunk)
            except Exception:  # the client went away; nothing left to protect
                pass
        raise


def location(ctx, bucket: str, key: str) -> str:
    host = ctx.http.headers.get("host", "") if ctx.http is not None else ""
    base = f"http://{host}" if host else ctx.stack.settings.endpoint_url
    return f"{base}/{bucket}/{quote(key)}"
