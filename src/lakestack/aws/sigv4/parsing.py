"""Reading the signature scheme, key, scope and date from headers or query (`parse_auth`)."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from functools import lru_cache

from lakestack.aws.request import HttpRequest
from lakestack.aws.sigv4.info import _AMZ_DATE, ALGORITHM, UNSIGNED_PAYLOAD, AuthInfo, _basic


def parse_auth(http: HttpRequest) -> AuthInfo:
    """Find the signing scheme, key id, region and service. Never raises: a malformed
    signature is recorded in `problem` and raised by `verify` in the service's error shape."""
    headers = http.headers
    authorization = headers.get("authorization")
    if authorization:
        if authorization.startswith(ALGORITHM + " "):
            return _parse_v4_header(http, authorization)
        if authorization.startswith("AWS "):
            return _parse_v2_header(http, authorization)
        return AuthInfo(None, None, None, "header-v4", headers.get("x-amz-content-sha256"),
                        problem=("unsupported", "Unsupported Authorization Type"))
    qs = http.query_string
    # Substring tests first: parsing the query of every unsigned request would be waste.
    if "X-Amz-Credential=" in qs or "X-Amz-Signature=" in qs or "X-Amz-Algorithm=" in qs:
        return _parse_v4_query(http)
    if "AWSAccessKeyId=" in qs:
        return _parse_v2_query(http)
    return AuthInfo(None, None, None, "anonymous", headers.get("x-amz-content-sha256"))


def _parse_v4_header(http: HttpRequest, authorization: str) -> AuthInfo:
    headers = http.headers
    # Every SDK puts the signature last; what precedes it repeats from request to request,
    # so its parse is cached and only the signature is read each time.
    head, sep, signature = authorization.rpartition(", Signature=")
    if sep and "," not in signature:
        params = dict(_v4_params(head[len(ALGORITHM) + 1 :]))
        params["Signature"] = signature.strip()
    else:
        params = dict(_v4_params(authorization[len(ALGORITHM) + 1 :]))
    info = AuthInfo(None, None, None, "header-v4", headers.get("x-amz-content-sha256"),
                    signature=params.get("Signature"),
                    signed_headers=list(_signed_header_names(params.get("SignedHeaders", ""))),
                    security_token=headers.get("x-amz-security-token"))
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if name not in params]
    if missing:
        info.problem = ("malformed_header", " ".join(
            f"Authorization header requires '{name}' parameter." for name in missing
        ) + f" Authorization={authorization}")
    _read_scope(info, params.get("Credential"), "malformed_header")
    amz_date = headers.get("x-amz-date")
    if amz_date is None and "date" in headers:
        # SigV4 allows the Date header instead; the string to sign then carries it in ISO form.
        try:
            amz_date = _basic(parsedate_to_datetime(headers["date"]))
        except (TypeError, ValueError):
            amz_date = ""
    _read_date(info, amz_date, "malformed_header")
    return info


def _parse_v4_query(http: HttpRequest) -> AuthInfo:
    query = http.query_dict
    info = AuthInfo(None, None, None, "query-v4", query.get("X-Amz-Content-Sha256"),
                    signature=query.get("X-Amz-Signature"),
                    signed_headers=_signed_header_list(query.get("X-Amz-SignedHeaders", "")),
                    expires=query.get("X-Amz-Expires"),
                    security_token=query.get("X-Amz-Security-Token"))
    required = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders")
    if any(name not in query for name in required):
        info.problem = ("malformed_query", "Query-string authentication version 4 requires the X-Amz-Algorithm, "
                        "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
                        "X-Amz-Expires parameters.")
    elif query["X-Amz-Algorithm"] != ALGORITHM:
        info.problem = ("malformed_query", f'X-Amz-Algorithm only supports "{ALGORITHM}"')
    _read_scope(info, query.get("X-Amz-Credential"), "malformed_query")
    if info.service == "s3":
        if info.expires is None:
            info.problem = info.problem or ("malformed_query", "Query-string authentication version 4 requires "
                                            "the X-Amz-Expires parameter.")
        # S3 presigned URLs cannot know the payload: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
        info.content_sha256 = info.content_sha256 or UNSIGNED_PAYLOAD
    _read_date(info, query.get("X-Amz-Date", ""), "malformed_query")
    return info


def _parse_v2_header(http: HttpRequest, authorization: str) -> AuthInfo:
    access_key, sep, signature = authorization[4:].strip().rpartition(":")
    info = AuthInfo(access_key or None, None, None, "header-v2", http.headers.get("x-amz-content-sha256"),
                    signature=signature, security_token=http.headers.get("x-amz-security-token"))
    if not sep or not access_key or not signature:
        info.problem = ("malformed_v2", "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature")
    return info


def _parse_v2_query(http: HttpRequest) -> AuthInfo:
    query = http.query_dict
    # A '+' of the base64 signature that the client left unencoded was decoded to ' '.
    signature = query.get("Signature", "").replace(" ", "+")
    token = next((v for k, v in query.items() if k.lower() == "x-amz-security-token"), None)
    info = AuthInfo(query.get("AWSAccessKeyId") or None, None, None, "query-v2", None,
                    signature=signature, expires=query.get("Expires"), security_token=token)
    if not (info.access_key_id and signature and info.expires):
        info.problem = ("malformed_v2_query", "Query-string authentication requires the Signature, Expires and "
                        "AWSAccessKeyId parameters")
    return info


@lru_cache(maxsize=1024)
def _v4_params(text: str) -> tuple[tuple[str, str], ...]:
    """The `name=value` pairs of an Authorization header after the algorithm."""
    params = {}
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            params[name] = value.strip()
    return tuple(params.items())


def _signed_header_list(value: str) -> list[str]:
    return list(_signed_header_names(value))


@lru_cache(maxsize=1024)
def _signed_header_names(value: str) -> tuple[str, ...]:
    return tuple(name.strip().lower() for name in value.split(";") if name.strip())


def _read_scope(info: AuthInfo, credential: str | None, kind: str) -> None:
    if credential is None:
        return
    info.access_key_id, info.region, info.service, info.scope = _scope(credential)
    if info.scope is None:
        info.problem = info.problem or (kind, 'the Credential is mal-formed; expecting '
                                        '"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".')


@lru_cache(maxsize=1024)
def _scope(credential: str) -> tuple[str | None, str | None, str | None, str | None]:
    """(access key id, region, service, scope or None when malformed) of a Credential."""
    parts = credential.split("/")
    region = service = None
    if len(parts) == 5:
        region, service = parts[2] or None, parts[3] or None
    if len(parts) != 5 or not parts[1].isdigit() or len(parts[1]) != 8 or parts[4] != "aws4_request":
        return parts[0] or None, region, service, None
    return parts[0] or None, region, service, "/".join(parts[1:])


def _read_date(info: AuthInfo, amz_date: str | None, kind: str) -> None:
    if not amz_date:
        info.problem = info.problem or (kind, "Authorization header requires existence of either a "
                                        "'X-Amz-Date' or a 'Date' header.")
    elif not _AMZ_DATE(amz_date):
        info.problem = info.problem or (kind, "X-Amz-Date must be in the ISO8601 Long Format "
                                        "\"yyyyMMdd'T'HHmmss'Z'\"")
    else:
        info.amz_date = amz_date
