"""The REST protocols (`rest-json`: Lambda, IoT, Lake Formation; `rest-xml`: S3): operations
are found by HTTP method + URI template, members bound to the path, query string, headers
and body as the model says."""

from __future__ import annotations

import base64
import json as jsonlib
import re
from dataclasses import dataclass
from functools import cache
from urllib.parse import unquote
from xml.etree.ElementTree import ParseError
from xml.sax.saxutils import escape

from lakestack.aws.errors import AwsError
from lakestack.aws.protocols import Response
from lakestack.aws.protocols import json as json_protocol
from lakestack.aws.protocols.values import parse_scalar, scalar_text
from lakestack.aws.protocols.xml import decode_structure, encode_members, encode_value, parse_document

S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"

# S3's response documents are named by the S3 API reference, not by botocore's model.
# https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html
XML_ROOTS = {
    "ListBuckets": "ListAllMyBucketsResult",
    "ListObjects": "ListBucketResult",
    "ListObjectsV2": "ListBucketResult",
    "ListObjectVersions": "ListVersionsResult",
    "CreateMultipartUpload": "InitiateMultipartUploadResult",
    "CompleteMultipartUpload": "CompleteMultipartUploadResult",
    "ListParts": "ListPartsResult",
    "ListMultipartUploads": "ListMultipartUploadsResult",
    "DeleteObjects": "DeleteResult",
    "GetBucketTagging": "Tagging",
    "GetObjectTagging": "Tagging",
    "GetBucketLocation": "LocationConstraint",
    "GetBucketNotificationConfiguration": "NotificationConfiguration",
    "GetBucketVersioning": "VersioningConfiguration",
    "GetBucketEncryption": "ServerSideEncryptionConfiguration",
    "GetBucketAcl": "AccessControlPolicy",
    "GetObjectAcl": "AccessControlPolicy",
    "GetBucketCors": "CORSConfiguration",
    "GetBucketLifecycleConfiguration": "LifecycleConfiguration",
    "GetObjectAttributes": "GetObjectAttributesResponse",
    "GetPublicAccessBlock": "PublicAccessBlockConfiguration",
    "GetBucketOwnershipControls": "OwnershipControls",
}


@dataclass
class Route:
    operation: str
    method: str
    pattern: re.Pattern
    literal_query: dict[str, str | None]
    literal_keys: frozenset[str]
    required_query: frozenset[str]
    required_headers: frozenset[str]
    score: tuple


def _template_regex(template: str) -> tuple[re.Pattern, int]:
    parts, literal = [], 0
    for token in re.split(r"(\{[^}]+\})", template):
        if token.startswith("{"):
            name = token[1:-1]
            if name.endswith("+"):
                parts.append(f"(?P<{name[:-1]}>.+)")
            else:
                parts.append(f"(?P<{name}>[^/]+)")
        else:
            parts.append(re.escape(token))
            literal += len(token)
    regex = "".join(parts)
    if not template.endswith("+}"):
        regex = regex.rstrip("/") + "/?" if template != "/" else "/"
    return re.compile(regex), literal


class RestRouter:
    """Finds the operation for a request. The most specific template wins: more literal
    query keys, then more required query/header members present, then longer literal path."""

    def __init__(self, service_model):
        self.routes: list[Route] = []
        self.xml = service_model.protocol == "rest-xml"
        for name in service_model.operation_names:
            op = service_model.operation_model(name)
            uri = op.http.get("requestUri", "/")
            path, _, query = uri.partition("?")
            literal_query = {}
            for item in filter(None, query.split("&")):
                k, eq, v = item.partition("=")
                literal_query[k] = v if eq else None
            req_query, req_headers = [], []
            shape = op.input_shape
            if shape is not None:
                for mname in shape.required_members:
                    m = shape.members[mname]
                    loc = m.serialization.get("location")
                    if loc == "querystring":
                        req_query.append(m.serialization.get("name", mname))
                    elif loc == "header":
                        req_headers.append(m.serialization.get("name", mname).lower())
            pattern, literal_len = _template_regex(path)
            # Last tie-break: a current operation wins over a deprecated one with the same
            # route (PutBucketNotificationConfiguration over PutBucketNotification).
            score = (len(literal_query), len(req_query) + len(req_headers), literal_len, not op.deprecated)
            self.routes.append(
                Route(name, op.http["method"], pattern, literal_query, frozenset(literal_query),
                      frozenset(req_query), frozenset(req_headers), score)
            )
        self.routes.sort(key=lambda r: r.score, reverse=True)
        self.by_method: dict[str, list[Route]] = {}
        for route in self.routes:
            self.by_method.setdefault(route.method, []).append(route)

    def match(self, method: str, path: str, query: dict[str, str], headers: dict[str, str]):
        # Set checks first (C speed); the regex only for routes still in the running.
        query_keys = query.keys()
        header_keys = headers.keys()
        for route in self.by_method.get(method, ()):
            if not (query_keys >= route.literal_keys and query_keys >= route.required_query
                    and header_keys >= route.required_headers):
                continue
            if route.literal_keys and any(v is not None and query[k] != v for k, v in route.literal_query.items()):
                continue
            m = route.pattern.fullmatch(path)
            if m is None:
                continue
            return route.operation, {k: self._unquote(v) for k, v in m.groupdict().items()}
        return None, {}

    def _unquote(self, value: str) -> str:
        if not self.xml:
            return unquote(value)
        try:
            return unquote(value, errors="strict")
        except UnicodeDecodeError:
            # S3: a path whose percent-escapes are not UTF-8 (a key sent as raw Latin-1 bytes)
            # names no key: 400 InvalidURI, rather than a key of U+FFFD replacement characters.
            raise AwsError("InvalidURI", "Couldn't parse the specified URI.", status=400,
                           URI=value) from None


def _is_xml(operation) -> bool:
    return operation.service_model.protocol == "rest-xml"


@dataclass(frozen=True)
class Bindings:
    """Where each member of a shape lives on the wire, worked out once per shape."""

    uri: tuple = ()
    query: tuple = ()
    headers: tuple = ()
    prefixed: tuple = ()  # header maps such as x-amz-meta-*
    status: str | None = None
    body_members: bool = False


@cache
def bindings(shape) -> Bindings:
    groups: dict[str, list] = {"uri": [], "querystring": [], "header": [], "headers": []}
    status, body_members = None, False
    for name, member in shape.members.items():
        loc = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if loc is None:
            body_members = True
        elif loc == "statusCode":
            status = name
        elif loc in groups:
            groups[loc].append((name, member, wire.lower() if loc in ("header", "headers") else wire, wire))
    return Bindings(tuple(groups["uri"]), tuple(groups["querystring"]), tuple(groups["header"]),
                    tuple(groups["headers"]), status, body_members)


def parse_request(operation, http, body, path_params: dict) -> dict:
    """`body` is bytes, or for streaming-blob input the request's BodyReader."""
    shape = operation.input_shape
    if shape is None:
        return {}
    out: dict = {}
    plan = bindings(shape)
    wire = ""
    try:
        for name, member, wire, _ in plan.uri:
            if wire in path_params:
                out[name] = parse_scalar(member, path_params[wire])
        if plan.query and http.query:
            values: dict[str, list[str]] = {}
            for k, v in http.query:
                values.setdefault(k, []).append(v)
            for name, member, wire, _ in plan.query:
                if member.type_name == "map":
                    out[name] = {k: v[0] for k, v in values.items()}
                elif wire in values:
                    if member.type_name == "list":
                        out[name] = [parse_scalar(member.member, v) for v in values[wire]]
                    else:
                        out[name] = parse_scalar(member, values[wire][0])
        headers = http.headers
        for name, member, wire, _ in plan.headers:
            value = headers.get(wire)
            if value is not None:
                out[name] = _parse_header(member, value)
        for name, _member, prefix, _ in plan.prefixed:
            found = {k[len(prefix):]: v for k, v in headers.items() if k.startswith(prefix)}
            if found:
                out[name] = found
    except (ValueError, TypeError):
        raise AwsError(_invalid_code(operation), f"Invalid value for parameter {wire}") from None
    payload = shape.serialization.get("payload")
    if payload:
        member = shape.members[payload]
        if member.type_name in ("blob", "string"):
            if operation.has_streaming_input:
                out[payload] = body
            else:
                data = body if isinstance(body, bytes | bytearray) else body.read()
                if data:
                    try:
                        out[payload] = data if member.type_name == "blob" else data.decode()
                    except UnicodeDecodeError:  # a text payload (e.g. a bucket policy) that is not UTF-8
                        raise AwsError(_invalid_code(operation), f"The {payload} must be UTF-8 text") from None
        elif body:
            out[payload] = _decode_body(operation, member, body)
    elif body and plan.body_members:
        out.update(_decode_body(operation, shape, body))
    return out


def _invalid_code(operation) -> str:
    return "InvalidArgument" if _is_xml(operation) else "ValidationException"


def _decode_body(operation, shape, body: bytes) -> dict:
    if _is_xml(operation):
        try:
            root = parse_document(body)
        except ParseError:
            raise AwsError(
                "MalformedXML",
                "The XML you provided was not well-formed or did not validate against our published schema",
            ) from None
        try:
            return decode_structure(shape, root)
        except (ValueError, TypeError) as exc:
            raise AwsError("MalformedXML", str(exc)) from None
    return json_protocol.decode(shape, json_protocol.load_body(body))


def _parse_header(shape, value: str):
    t = shape.type_name
    if t == "list":
        return [parse_scalar(shape.member, v.strip()) for v in value.split(",")]
    if shape.serialization.get("jsonvalue"):
        return jsonlib.loads(base64.b64decode(value))
    return parse_scalar(shape, value)


def _header_text(shape, value) -> str:
    if shape.type_name == "list":
        return ",".join(scalar_text(shape.member, v, "rfc822") for v in value)
    if shape.serialization.get("jsonvalue"):
        return base64.b64encode(jsonlib.dumps(value).encode()).decode()
    return scalar_text(shape, value, "rfc822")


def serialize_response(operation, output: dict, ctx) -> Response:
    output = output or {}
    resp = Response(operation.http.get("responseCode", 200))
    request_id = ctx.request_id
    if _is_xml(operation):
        resp.header("x-amz-request-id", request_id)
        resp.header("x-amz-id-2", request_id)
    else:
        resp.header("x-amzn-RequestId", request_id)
    shape = operation.output_shape
    if shape is None:
        if ctx.response_status:
            resp.status = ctx.response_status
        return resp
    plan = bindings(shape)
    body_members = plan.body_members
    if plan.status and output.get(plan.status) is not None:
        resp.status = int(output[plan.status])
    for name, member, _, wire in plan.headers:
        value = output.get(name)
        if value is not None:
            resp.header(wire, _header_text(member, value))
    for name, _, _, wire in plan.prefixed:
        for k, v in (output.get(name) or {}).items():
            resp.header(f"{wire}{k}", str(v))
    if ctx.response_status:
        resp.status = ctx.response_status
    payload = shape.serialization.get("payload")
    if payload:
        member = shape.members[payload]
        value = output.get(payload)
        if member.type_name in ("blob", "string"):
            if value is not None:
                resp.body = value.encode() if isinstance(value, str) else value
        elif value is not None:
            if _is_xml(operation):
                tag = member.serialization.get("name", member.name)
                resp.body = _xml_document(member, tag, value)
                resp.header("Content-Type", "application/xml")
            else:
                resp.body = jsonlib.dumps(json_protocol.encode(member, value)).encode()
                resp.header("Content-Type", "application/json")
    elif body_members:
        if _is_xml(operation):
            tag = XML_ROOTS.get(operation.name) or shape.serialization.get("name") or f"{operation.name}Result"
            resp.body = _xml_document(shape, tag, output)
            resp.header("Content-Type", "application/xml")
        else:
            resp.body = jsonlib.dumps(json_protocol.encode(shape, output)).encode()
            resp.header("Content-Type", "application/json")
    for k, v in ctx.response_headers.items():
        resp.header(k, v)
    return resp


def _xml_document(shape, tag: str, value: dict) -> bytes:
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n']
    if shape.type_name == "structure" and len(shape.members) == 1 and tag == "LocationConstraint":
        # GetBucketLocation's document is the bare constraint element.
        text = escape(value.get("LocationConstraint") or "")
        return (out[0] + f'<LocationConstraint xmlns="{S3_NAMESPACE}">{text}</LocationConstraint>').encode()
    inner: list[str] = []
    encode_value(shape, tag, value, inner)
    first = inner[0]
    if "xmlns=" not in first:
        inner[0] = first[:-1] + f' xmlns="{S3_NAMESPACE}">' if first.endswith(">") else first
    out.extend(inner)
    return "".join(out).encode()


def serialize_error(service_model, error: AwsError, request_id: str) -> Response:
    if service_model.protocol == "rest-xml":
        fields = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in error.fields.items())
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
            f"{fields}<RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>"
        )
        return Response(
            error.status,
            [("Content-Type", "application/xml"), ("x-amz-request-id", request_id), ("x-amz-id-2", request_id)],
            body.encode(),
        )
    return Response(
        error.status,
        [
            ("Content-Type", "application/json"),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", error.code),
        ],
        jsonlib.dumps(json_protocol.error_body(service_model, error)).encode(),
    )


__all__ = ["RestRouter", "parse_request", "serialize_response", "serialize_error", "encode_members"]
