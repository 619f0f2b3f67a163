"""Server-side encryption headers. S3 encrypts every object at rest (SSE-S3, the default and
all lakestack answers); customer-provided keys (SSE-C) are refused until they are
implemented, never accepted and ignored.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerSideEncryptionCustomerKeys.html
"""

from __future__ import annotations

from lakestack.services.s3 import errors

_SSE_C = frozenset({"SSECustomerAlgorithm", "SSECustomerKey", "SSECustomerKeyMD5"})
_COPY_SOURCE_SSE_C = frozenset({"CopySourceSSECustomerAlgorithm", "CopySourceSSECustomerKey",
                                "CopySourceSSECustomerKeyMD5"})
_ANY_SSE_C = _SSE_C | _COPY_SOURCE_SSE_C


def check_sse_c(params: dict, secure: bool) -> None:
    """Refuse a request carrying SSE-C headers as S3 would, or as not implemented."""
    if not params.keys() & _ANY_SSE_C:
        return
    sse = params.get("ServerSideEncryption")
    if sse is not None and params.keys() & _SSE_C:
        raise errors.invalid_argument("Server Side Encryption with Customer provided key is incompatible with "
                                      "the encryption method specified", "x-amz-server-side-encryption", sse)
    if not secure:
        raise errors.invalid_request("Requests specifying Server Side Encryption with Customer provided keys "
                                     "must be made over a secure connection.")
    raise errors.not_implemented_feature("server-side encryption with customer-provided keys (SSE-C)")
