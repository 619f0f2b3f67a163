"""Configuration bodies S3 accepts only with an integrity header: the operations botocore's
model marks `httpChecksum.requestChecksumRequired` (PutObjectLockConfiguration,
PutObjectRetention, PutObjectLegalHold, PutBucketLifecycleConfiguration, …). The body must come
with Content-MD5 or an x-amz-checksum-* header, and match it.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
"""

from __future__ import annotations

import hashlib

from lakestack.aws.request import BytesBody
from lakestack.services.s3 import checksums, errors


def check(ctx) -> None:
    """For a request whose body the gateway has read and parsed (a small XML document)."""
    http = ctx.http
    if http is None:  # another service's call: no wire to guard
        return
    headers = http.headers
    md5 = headers.get("content-md5")
    named = [h for h in headers if h.startswith("x-amz-checksum-") and h not in ("x-amz-checksum-type",
                                                                                   "x-amz-checksum-mode")]
    if md5 is None and not named:
        raise errors.invalid_request("Missing required header for this request: Content-MD5")
    if not isinstance(http.body, BytesBody):
        return  # not buffered here (aws-chunked framing was checked as it was decoded)
    body = http.body.read()
    if md5 is not None and checksums.content_md5(md5) != hashlib.md5(body).digest():
        raise errors.bad_digest_md5()
    for header in named:
        algorithm = checksums.normalize_algorithm(header[len("x-amz-checksum-"):])
        expected = checksums.decode_expected(algorithm, headers[header])
        hasher = checksums.new(algorithm)
        hasher.update(body)
        if checksums.encode(hasher.digest()) != expected:
            raise errors.bad_digest_checksum(algorithm)
