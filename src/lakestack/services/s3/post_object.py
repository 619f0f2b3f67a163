"""POST Object: a browser's upload of one file through an HTML form.

https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html

The request is `multipart/form-data` to the bucket's URL; its headers are not signed.
The fields before the file are read (at most 20 KB, as S3 allows), the form's signature and
policy checked (post_policy.py), and the file part handed to the PutObject path as its body,
streamed to disk with the policy's content-length-range enforced on the way. The answer is
what `success_action_redirect` / `success_action_status` ask for.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit, urlunsplit
from xml.sax.saxutils import escape

from lakestack.aws.context import Principal
from lakestack.aws.errors import AwsError
from lakestack.aws.protocols.values import to_datetime
from lakestack.services.s3 import checksums, errors, post_policy
from lakestack.services.s3.form_data import FormReader, Part, boundary_of

MAX_FIELDS_BYTES = 20 * 1024
# What is left of the body after the file (the closing boundary, fields S3 ignores) is read
# and dropped up to this much, so the connection can carry the next request.
DRAIN_LIMIT = 1 << 20

# Form fields that become PutObject members (names compared in lower case).
_MEMBERS = {
    "cache-control": "CacheControl",
    "content-type": "ContentType",
    "content-disposition": "ContentDisposition",
    "content-encoding": "ContentEncoding",
    "content-language": "ContentLanguage",
    "expires": "Expires",
    "acl": "ACL",
    "x-amz-storage-class": "StorageClass",
    "x-amz-website-redirect-location": "WebsiteRedirectLocation",
    "x-amz-server-side-encryption": "ServerSideEncryption",
    "x-amz-server-side-encryption-customer-algorithm": "SSECustomerAlgorithm",
    "x-amz-server-side-encryption-customer-key": "SSECustomerKey",
    "x-amz-server-side-encryption-customer-key-md5": "SSECustomerKeyMD5",
    "x-amz-server-side-encryption-aws-kms-key-id": "SSEKMSKeyId",
    "x-amz-object-lock-mode": "ObjectLockMode",
    "x-amz-object-lock-retain-until-date": "ObjectLockRetainUntilDate",
    "x-amz-object-lock-legal-hold": "ObjectLockLegalHoldStatus",
    **{f"x-amz-checksum-{a.lower()}": checksums.member(a) for a in ("CRC32", "CRC32C", "CRC64NVME", "SHA1",
                                                                   "SHA256")},
}


@dataclass
class PostForm:
    """A browser upload's form, authenticated: the file part is still unread."""

    bucket: str
    key: str
    fields: dict[str, str]  # lower-case names, the file's excepted
    file: Part
    reader: FormReader
    principal: Principal | None
    region: str | None  # the SigV4 scope's, when signed so
    length_range: tuple[int, int] | None

    def drain(self) -> None:
        self.reader.drain(DRAIN_LIMIT)


def read_form(http, bucket: str, lookup, now: dt.datetime) -> PostForm:
    """Read the fields up to the file and authenticate them. `lookup(access_key_id)` is the
    stack's credential lookup."""
    reader = FormReader(http.body, boundary_of(http.headers.get("content-type", "")))
    fields: dict[str, str] = {}
    total = 0
    while True:
        part = reader.next_part()
        if part is None:
            raise errors.invalid_argument("POST requires exactly one file upload per request.", "file", "0")
        name = part.name.lower()
        if name == "file":
            break
        value = part.read(MAX_FIELDS_BYTES - total + 1)
        total += len(value)
        if total > MAX_FIELDS_BYTES or part.read(1):
            raise AwsError("MaxPostPreDataLengthExceeded",
                           "Your POST request fields preceding the upload file were too large.", 400)
        fields.setdefault(name, value.decode("utf-8", "replace"))
    if "key" not in fields:
        raise post_policy.missing_field("key")
    # ${filename}: the name the browser gave the file (https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html)
    fields["key"] = fields["key"].replace("${filename}", part.filename or "")
    if not fields["key"]:
        raise errors.invalid_argument("User key must have a length greater than 0.", "key", "")
    signer = post_policy.signer_of(fields)
    principal, length_range = None, None
    if signer.version:
        principal = post_policy.authenticate(signer, fields["policy"], lookup(signer.access_key_id),
                                             fields.get("x-amz-security-token"), now)
        policy = post_policy.parse(fields["policy"])
        post_policy.check(policy, fields, bucket, now)
        length_range = policy.length_range
    return PostForm(bucket, fields["key"], fields, part, reader, principal, signer.region or None, length_range)


def put_params(form: PostForm) -> dict:
    """The PutObject members the form asks for (its body excepted)."""
    params: dict = {"Bucket": form.bucket, "Key": form.key}
    metadata = {}
    for name, value in form.fields.items():
        member = _MEMBERS.get(name)
        if member is not None:
            params[member] = value
        elif name.startswith("x-amz-meta-"):
            metadata[name[len("x-amz-meta-"):]] = value
    if metadata:
        params["Metadata"] = metadata
    if "Expires" in params:
        try:
            to_datetime(params["Expires"])
        except (TypeError, ValueError, OverflowError):
            raise errors.invalid_argument("Invalid Expires field", "Expires", params["Expires"]) from None
    if "tagging" in form.fields:
        params["Tagging"] = _tagging_query(form.fields["tagging"])
    return params


def _tagging_query(document: str) -> str:
    """The `tagging` field's XML (a Tagging element) as x-amz-tagging's query string."""
    try:
        root = ET.fromstring(document)
    except ET.ParseError:
        raise errors.malformed_xml() from None
    tags = []
    for tag in root.iter():
        if tag.tag.rsplit("}", 1)[-1] == "Tag":
            values = {child.tag.rsplit("}", 1)[-1]: child.text or "" for child in tag}
            if "Key" not in values:
                raise errors.malformed_xml()
            tags.append((values["Key"], values.get("Value", "")))
    return urlencode(tags)


class SizedFile:
    """The file part as a body, held to the policy's content-length-range while it is read:
    EntityTooLarge as soon as it passes the maximum, EntityTooSmall at its end (before the
    object is committed)."""

    def __init__(self, part: Part, length_range: tuple[int, int] | None):
        self._part = part
        self._low, self._high = length_range if length_range is not None else (0, None)
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        return self._checked(self._part.read(n))

    def read_chunk(self, hint: int = 1 << 20) -> bytes:
        return self._checked(self._part.read_chunk(hint))

    def _checked(self, data: bytes) -> bytes:
        self.size += len(data)
        if self._high is not None and self.size > self._high:
            raise errors.entity_too_large(self.size, self._high)
        if not data and self.size < self._low:
            raise AwsError("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size", 400,
                           ProposedSize=self.size, MinSizeAllowed=self._low)
        return data


def answer(form: PostForm, output: dict, location: str) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) for a stored upload: a 303 to success_action_redirect, else
    success_action_status 200, 201 (a PostResponse document) or 204, the default."""
    headers = {"ETag": output["ETag"], "Location": location}
    if output.get("VersionId"):
        headers["x-amz-version-id"] = output["VersionId"]
    if output.get("ServerSideEncryption"):
        headers["x-amz-server-side-encryption"] = output["ServerSideEncryption"]
    redirect = form.fields.get("success_action_redirect") or form.fields.get("redirect")
    if redirect:
        parts = urlsplit(redirect)
        if parts.scheme in ("http", "https") and parts.netloc:
            query = f"bucket={quote(form.bucket, safe='')}&key={quote(form.key, safe='')}" \
                    f"&etag={quote(output['ETag'], safe='')}"
            headers["Location"] = urlunsplit(parts._replace(query=f"{parts.query}&{query}" if parts.query else query))
            return 303, headers, b""
    status = form.fields.get("success_action_status")
    if status == "200":
        return 200, headers, b""
    if status == "201":
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse><Location>{escape(location)}</Location>'
                f"<Bucket>{escape(form.bucket)}</Bucket><Key>{escape(form.key)}</Key>"
                f"<ETag>{escape(output['ETag'])}</ETag></PostResponse>").encode()
        headers["Content-Type"] = "application/xml"
        return 201, headers, body
    return 204, headers, b""  # also for any other value (RESTObjectPOST.html, success_action_status)
