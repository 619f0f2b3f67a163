"""The authentication errors, one table for every service family (`auth_error`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lakestack.aws.errors import AwsError
from lakestack.aws.sigv4.info import AuthInfo

_S3_SIGNATURE_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)


_SIGNATURE_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)


_INVALID_TOKEN = "The security token included in the request is invalid."


# kind -> (code, status, message) as S3 answers.
_S3_ERRORS = {
    "missing": ("AccessDenied", 403, "Access Denied"),
    "malformed_header": ("AuthorizationHeaderMalformed", 400, "The authorization header is malformed."),
    "malformed_query": ("AuthorizationQueryParametersError", 400, "Error parsing the query parameters."),
    "malformed_v2": ("InvalidArgument", 400, "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature"),
    "malformed_v2_query": ("AccessDenied", 403, "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"),
    "unsupported": ("InvalidArgument", 400, "Unsupported Authorization Type"),
    "bad_scope_date": ("AuthorizationHeaderMalformed", 400, "The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date."),
    "unknown_key": ("InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not exist in our records."),
    "bad_token": ("InvalidToken", 400, "The provided token is malformed or otherwise invalid."),
    "expired_token": ("ExpiredToken", 400, "The provided token has expired."),
    "bad_signature": ("SignatureDoesNotMatch", 403, _S3_SIGNATURE_MESSAGE),
    "skewed": ("RequestTimeTooSkewed", 403, "The difference between the request time and the current time is too large."),
    "expired_request": ("AccessDenied", 403, "Request has expired"),
    "not_yet_valid": ("AccessDenied", 403, "Request is not yet valid"),
    "payload_mismatch": ("XAmzContentSHA256Mismatch", 400, "The provided 'x-amz-content-sha256' header does not match what was computed."),
    "missing_content_sha256": ("InvalidRequest", 400, "Missing required header for this request: x-amz-content-sha256"),
    "bad_content_sha256": ("InvalidArgument", 400, "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value."),
    "incomplete_body": ("IncompleteBody", 400, "The request body terminated unexpectedly"),
}


# kind -> (query code, query status, json / rest-json code, message) for every other service.
# The json services answer 400 for all of them and the rest-json ones 403 (as Lambda does).
_INCOMPLETE = ("IncompleteSignature", 400, "IncompleteSignatureException", "The request signature does not conform to AWS standards.")
_BAD_KEY = ("InvalidClientTokenId", 403, "UnrecognizedClientException", _INVALID_TOKEN)
_BAD_SIGNATURE = ("SignatureDoesNotMatch", 403, "InvalidSignatureException", _SIGNATURE_MESSAGE)
_OTHER_ERRORS = {
    "missing": ("MissingAuthenticationToken", 403, "MissingAuthenticationTokenException", "Request is missing Authentication Token"),
    "malformed_header": _INCOMPLETE,
    "malformed_query": _INCOMPLETE,
    "malformed_v2": _INCOMPLETE,
    "malformed_v2_query": _INCOMPLETE,
    "unsupported": _INCOMPLETE,
    "bad_scope_date": _BAD_SIGNATURE,
    "unknown_key": _BAD_KEY,
    "bad_token": _BAD_KEY,
    "expired_token": ("ExpiredToken", 403, "ExpiredTokenException", "The security token included in the request is expired"),
    "bad_signature": _BAD_SIGNATURE,
    "skewed": _BAD_SIGNATURE,
    "expired_request": _BAD_SIGNATURE,
    "not_yet_valid": _BAD_SIGNATURE,
    "payload_mismatch": _BAD_SIGNATURE,
    "missing_content_sha256": _BAD_SIGNATURE,
    "bad_content_sha256": _BAD_SIGNATURE,
    "incomplete_body": ("IncompleteBody", 400, "IncompleteBody", "The request body terminated unexpectedly"),
}


def auth_error(kind: str, service_protocol: str, service: str | None = None, *, message: str | None = None,
               **s3_fields) -> AwsError:
    """The error a service answers for the authentication failure `kind` (a key of the
    tables above). The protocol family decides; S3 (rest-xml) has its own codes.

    `s3_fields` are the extra members S3 puts in its error document (AWSAccessKeyId,
    StringToSign, RequestTime, …); the other services have no such members.
    """
    if service_protocol == "rest-xml" or service == "s3":
        code, status, default = _S3_ERRORS[kind]
        if message and kind == "malformed_header":
            message = f"The authorization header is malformed; {message}"
        return AwsError(code, message or default, status, **s3_fields)
    query_code, query_status, json_code, default = _OTHER_ERRORS[kind]
    if service_protocol == "query":
        return AwsError(query_code, message or default, query_status)
    return AwsError(json_code, message or default, 403 if service_protocol == "rest-json" else 400)


@dataclass
class _Check:
    protocol: str
    now: datetime
    max_skew: int

    @property
    def s3(self) -> bool:
        return self.protocol == "rest-xml"

    def fail(self, kind: str, message: str | None = None, **s3_fields) -> AwsError:
        return auth_error(kind, self.protocol, message=message, **s3_fields)


def _signature_mismatch(check: _Check, info: AuthInfo, canonical: str, to_sign: str) -> AwsError:
    if check.s3:
        return check.fail("bad_signature", AWSAccessKeyId=info.access_key_id, StringToSign=to_sign,
                          SignatureProvided=info.signature, CanonicalRequest=canonical)
    # The other services tell what they signed, which is how users debug their signers.
    return check.fail("bad_signature", f"{_SIGNATURE_MESSAGE}\n\nThe Canonical String for this request should "
                      f"have been\n'{canonical}'\n\nThe String-to-Sign should have been\n'{to_sign}'\n")


def _payload_mismatch(check: _Check, claimed: str, computed: str) -> AwsError:
    return check.fail("payload_mismatch", ClientComputedContentSHA256=claimed, S3ComputedContentSHA256=computed)
