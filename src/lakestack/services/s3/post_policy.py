"""The POST policy of a browser upload: who signed it, and whether the form keeps to it.

A signed form carries `policy` (base64 of a JSON document with `expiration` and
`conditions`) and a signature of that base64 text: SigV4 (`x-amz-algorithm`,
`x-amz-credential`, `x-amz-date`, `x-amz-signature`, hex HMAC-SHA256 with the day's signing
key) or SigV2 (`AWSAccessKeyId`, `signature`, base64 HMAC-SHA1 with the secret key). Every
field of the form must then match a condition, except those S3 exempts.

https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html
https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-post-example.html
https://docs.aws.amazon.com/AmazonS3/latest/userguide/HTTPPOSTForms.html (SigV2)

Error codes and messages are S3's (InvalidArgument naming a missing field, 400
InvalidPolicyDocument for a policy S3 cannot read, 403 AccessDenied "Invalid according to
Policy: …" for a form that breaks it).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import re
from dataclasses import dataclass

from lakestack.aws import sigv4
from lakestack.aws.context import Credential, Principal
from lakestack.aws.errors import AwsError

# Fields no condition has to name: the signature itself, the file, the policy, x-ignore-*
# (sigv4-HTTPPOSTConstructPolicy.html, "Condition matching"), and SigV2's key id and signature,
# which S3 never required conditions for.
EXEMPT = frozenset({"x-amz-signature", "file", "policy", "awsaccesskeyid", "signature"})
_EXPIRATION = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z\Z")


def missing_field(name: str) -> AwsError:
    return AwsError("InvalidArgument", f"Bucket POST must contain a field named '{name}'.  If it is specified, "
                    "please check the order of the fields.", 400, ArgumentName=name, ArgumentValue="")


def invalid_policy(detail: str) -> AwsError:
    return AwsError("InvalidPolicyDocument", f"Invalid Policy: {detail}", 400)


def against_policy(detail: str) -> AwsError:
    return AwsError("AccessDenied", f"Invalid according to Policy: {detail}", 403)


@dataclass(frozen=True)
class Condition:
    operator: str  # "eq", "starts-with" or "content-length-range"
    field: str  # lower-case field name ("" for content-length-range)
    value: str = ""
    low: int = 0
    high: int = 0
    text: str = ""  # as S3 quotes it when it fails

    def holds(self, actual: str) -> bool:
        if self.operator == "eq":
            return actual == self.value
        if self.field == "content-type" and "," in actual:
            # A Content-Type list: every type in it must match (sigv4-HTTPPOSTConstructPolicy.html,
            # "Matching Content-Types in a Comma-Separated List").
            return all(part.strip().startswith(self.value) for part in actual.split(","))
        return actual.startswith(self.value)


@dataclass
class Policy:
    expiration: dt.datetime
    conditions: list[Condition]

    @property
    def length_range(self) -> tuple[int, int] | None:
        """The tightest content-length-range, or None."""
        ranges = [(c.low, c.high) for c in self.conditions if c.operator == "content-length-range"]
        if not ranges:
            return None
        return max(low for low, _ in ranges), min(high for _, high in ranges)


def parse(encoded: str) -> Policy:
    try:
        text = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise invalid_policy("invalid Base64 encoding.") from None
    if not text.strip():
        raise invalid_policy("Expecting '{' but found End-of-Input")
    try:
        document = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise invalid_policy("Invalid JSON.") from None
    if not isinstance(document, dict):
        raise invalid_policy("Invalid JSON.")
    for name in document:
        if name not in ("expiration", "conditions"):  # the names are case-sensitive
            raise invalid_policy(f'Unexpected: "{name}"')
    if "expiration" not in document:
        raise invalid_policy("Policy missing expiration.")
    expiration = document["expiration"]
    if not isinstance(expiration, str) or not _EXPIRATION.match(expiration):
        raise invalid_policy(f"Invalid 'expiration' value: '{expiration}'")
    try:
        moment = dt.datetime.fromisoformat(expiration[:19]).replace(tzinfo=dt.UTC)
    except ValueError:
        raise invalid_policy(f"Invalid 'expiration' value: '{expiration}'") from None
    if "conditions" not in document:
        raise invalid_policy("Policy missing conditions.")
    if not isinstance(document["conditions"], list):
        raise invalid_policy("Invalid 'conditions' value: must be a List.")
    return Policy(moment, [_condition(c) for c in document["conditions"]])


def _condition(item) -> Condition:
    if isinstance(item, dict):
        if len(item) != 1:
            raise invalid_policy("Invalid Simple-Condition: Simple-Conditions must have exactly one property "
                                 "specified.")
        [(name, value)] = item.items()
        if not isinstance(value, str):
            raise invalid_policy("Invalid Simple-Condition: value must be a string.")
        return Condition("eq", name.lower(), value, text=json.dumps(["eq", f"${name}", value]))
    if not isinstance(item, list):
        raise invalid_policy("Invalid condition test: must be a List or Object.")
    if not item or not isinstance(item[0], str):
        raise invalid_policy("Invalid Condition: missing operation identifier.")
    operator = item[0].lower()
    if operator not in ("eq", "starts-with", "content-length-range"):
        raise invalid_policy(f"Invalid Condition: unknown operation '{item[0]}'.")
    if len(item) != 3:
        raise invalid_policy(f"Invalid {item[0]}: wrong number of arguments.")
    if operator == "content-length-range":
        low, high = item[1], item[2]
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (low, high)):
            raise invalid_policy("Invalid content-length-range: values must be non-negative integers.")
        return Condition(operator, "", low=low, high=high, text=json.dumps(item))
    name, value = item[1], item[2]
    if not isinstance(name, str) or not name.startswith("$") or not isinstance(value, str):
        raise invalid_policy(f"Invalid {item[0]}: wrong arguments.")
    return Condition(operator, name[1:].lower(), value, text=json.dumps(item))


def check(policy: Policy, fields: dict[str, str], bucket: str, now: dt.datetime) -> None:
    """The form's fields (lower-case names, the file's excepted) against the policy; the
    file's size is checked against content-length-range while it is received."""
    if now >= policy.expiration:
        raise against_policy("Policy expired.")
    values = dict(fields)
    values["bucket"] = bucket  # the bucket the form is posted to, whatever a field says
    named = set()
    for condition in policy.conditions:
        if condition.operator == "content-length-range":
            continue
        named.add(condition.field)
        if not condition.holds(values.get(condition.field, "")):
            raise against_policy(f"Policy Condition failed: {condition.text}")
    # The file's checksum describes the file, like its length: s3-tests' test_post_object_upload_checksum
    # (not marked fails_on_aws) posts one that no condition names.
    extra = [name for name in values if name not in named and name not in EXEMPT
             and not name.startswith(("x-ignore-", "x-amz-checksum-"))]
    if extra:
        raise against_policy(f"Extra input fields: {', '.join(extra)}")


@dataclass
class Signer:
    """Who signed a form, as its fields say."""

    version: int  # 2 or 4; 0 when the form is not signed
    access_key_id: str = ""
    signature: str = ""
    scope: str = ""  # SigV4: date/region/service/aws4_request
    region: str = ""


def signer_of(fields: dict[str, str]) -> Signer:
    """How the form is signed; InvalidArgument for a field the scheme needs and lacks."""
    v4 = [name for name in ("x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature")
          if name in fields]
    if v4:
        for name in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Signature"):
            if name.lower() not in fields:
                raise missing_field(name)
        if "policy" not in fields:
            raise missing_field("Policy")
        if fields["x-amz-algorithm"] != sigv4.ALGORITHM:
            raise AwsError("InvalidArgument", f"Only {sigv4.ALGORITHM} is supported", 400,
                           ArgumentName="X-Amz-Algorithm", ArgumentValue=fields["x-amz-algorithm"])
        credential = fields["x-amz-credential"]
        parts = credential.split("/")
        if len(parts) != 5 or not parts[0] or not (parts[1].isdigit() and len(parts[1]) == 8) \
                or parts[4] != "aws4_request":
            raise AwsError("InvalidArgument", 'the Credential is mal-formed; expecting '
                           '"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".', 400,
                           ArgumentName="X-Amz-Credential", ArgumentValue=credential)
        if parts[3] != "s3":
            raise AwsError("InvalidArgument", f'incorrect service "{parts[3]}". This endpoint belongs to "s3".',
                           400, ArgumentName="X-Amz-Credential", ArgumentValue=credential)
        return Signer(4, parts[0], fields["x-amz-signature"], "/".join(parts[1:]), parts[2])
    if "awsaccesskeyid" in fields or "signature" in fields or "policy" in fields:
        for name in ("AWSAccessKeyId", "Signature", "Policy"):
            if name.lower() not in fields:
                raise missing_field(name)
        return Signer(2, fields["awsaccesskeyid"], fields["signature"])
    return Signer(0)


def authenticate(signer: Signer, policy_text: str, credential: Credential | None, token: str | None,
                 now: dt.datetime) -> Principal:
    """The principal whose key signed the policy; InvalidAccessKeyId, SignatureDoesNotMatch, …"""
    def fail(kind: str, **fields) -> AwsError:
        return sigv4.auth_error(kind, "rest-xml", **fields)

    if credential is None or not credential.active:
        raise fail("unknown_key", AWSAccessKeyId=signer.access_key_id)
    if credential.session_token:
        if not token:
            raise fail("unknown_key", AWSAccessKeyId=signer.access_key_id)
        if not hmac.compare_digest(token.encode(), credential.session_token.encode()):
            raise fail("bad_token")
    elif token:
        raise fail("bad_token")
    if credential.expiration is not None and credential.expiration.astimezone(dt.UTC) <= now:
        raise fail("expired_token")
    if signer.version == 4:
        date, region, service = signer.scope.split("/")[:3]
        key = sigv4.signing_key(credential.secret_access_key, date, region, service)
        expected = hmac.new(key, policy_text.encode(), hashlib.sha256).hexdigest()
    else:
        expected = base64.b64encode(hmac.new(credential.secret_access_key.encode(), policy_text.encode(),
                                             hashlib.sha1).digest()).decode()
    if not hmac.compare_digest(expected.encode(), signer.signature.encode("utf-8", "replace")):
        raise fail("bad_signature", AWSAccessKeyId=signer.access_key_id, StringToSign=policy_text,
                   SignatureProvided=signer.signature)
    return credential.principal
