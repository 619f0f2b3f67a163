"""Server-side AWS request authentication.

Checks what clients sign: SigV4 in the Authorization header, SigV4 presigned query strings,
S3's aws-chunked payloads (signed chunks, or unsigned chunks with a trailing checksum) and
S3's legacy SigV2 (header and presigned query). Every failure is the error the calling
service family answers, from one table (`auth_error`).

The gateway calls `parse_auth` first (cheap: it only reads headers and query, and tells the
signing region and service used for routing), then `verify` once it knows the protocol.

Specs:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
  https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html
  https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
  https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
  https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/RESTAuthentication.html (SigV2)

Modules: info (AuthInfo, constants), parsing (parse_auth), canonical (canonical forms and
signing keys), verification (verify), payload (body readers), errors (the error table).
"""

from lakestack.aws.sigv4.canonical import (
    canonical_query,
    canonical_request,
    canonical_uri,
    s3_v2_resources,
    s3_v2_string_to_sign,
    signing_key,
    string_to_sign,
)
from lakestack.aws.sigv4.errors import auth_error
from lakestack.aws.sigv4.info import (
    ALGORITHM,
    EMPTY_SHA256,
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    UNSIGNED_PAYLOAD,
    AuthInfo,
)
from lakestack.aws.sigv4.parsing import parse_auth
from lakestack.aws.sigv4.payload import AwsChunkedReader, PayloadReader
from lakestack.aws.sigv4.verification import verify

__all__ = [
    "ALGORITHM", "EMPTY_SHA256", "STREAMING_SIGNED", "STREAMING_SIGNED_TRAILER", "STREAMING_UNSIGNED_TRAILER",
    "UNSIGNED_PAYLOAD", "AuthInfo", "AwsChunkedReader", "PayloadReader", "auth_error", "canonical_query",
    "canonical_request", "canonical_uri", "parse_auth", "s3_v2_resources", "s3_v2_string_to_sign",
    "signing_key", "string_to_sign", "verify",
]
