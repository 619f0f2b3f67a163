"""The `smithy-rpc-v2-cbor` protocol (CloudWatch, DataSync, …): POST to
`/service/<ServiceName>/operation/<OperationName>` with a CBOR body both ways.

Spec: https://smithy.io/2.0/additional-specs/protocols/smithy-rpc-v2.html
"""

from __future__ import annotations

import datetime as dt
import io
import math

import cbor2
from botocore.model import NoShapeFoundError

from lakestack.aws.errors import AwsError
from lakestack.aws.protocols import Response
from lakestack.aws.protocols.values import to_datetime

CONTENT_TYPE = "application/cbor"
PROTOCOL_HEADER = ("smithy-protocol", "rpc-v2-cbor")

_EPOCH_TAG = 1  # RFC 8949 §3.4.2: epoch-based date/time, the only tag the protocol uses
_INT_LIMITS = {"integer": 1 << 31, "long": 1 << 63}
_SCALAR_TYPES = {"string": str, "boolean": bool, "blob": bytes}


def _refuse_sharing(*_):
    raise ValueError("shared values and string references are not supported")


# Value sharing (tags 28/29) can build cyclic or exponentially repeated values from a few
# bytes, and string references (25/256) are no SDK's; a request using them is malformed.
_SEMANTIC_DECODERS = {tag: _refuse_sharing for tag in (25, 28, 29, 256)}


def _path_segments(http) -> list[str] | None:
    # Only the last four segments route: a prefix (`/v1/service/…`) is allowed.
    parts = http.raw_path.split("?", 1)[0].rstrip("/").split("/")[-4:]
    if len(parts) == 4 and parts[0] == "service" and parts[2] == "operation" and parts[1] and parts[3]:
        return parts
    return None


def operation_name(http) -> str | None:
    parts = _path_segments(http)
    return parts[3] if parts else None


def service_shape_name(http) -> str | None:
    """The service shape's name, without a namespace: the spec has servers accept
    `com.example.TheService` as well as `TheService`. botocore keeps it in the model's
    `targetPrefix`, which is itself dotted for a few services (CodeConnections), so match
    it against `targetPrefix.rsplit(".", 1)[-1]`."""
    parts = _path_segments(http)
    return parts[1].rsplit(".", 1)[-1] if parts else None


def load_body(body: bytes) -> dict:
    if not body:
        return {}
    stream = io.BytesIO(body)
    try:
        data = cbor2.CBORDecoder(stream, semantic_decoders=_SEMANTIC_DECODERS,
                                 allow_duplicate_keys=False).decode()
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise AwsError("SerializationException", f"Malformed CBOR body: {exc}") from None
    if stream.tell() != len(body):
        raise AwsError("SerializationException", "Malformed CBOR body: data after the top-level item")
    if not isinstance(data, dict):
        raise AwsError("SerializationException", "The request body must be a CBOR map")
    return data


def parse_request(operation, http, body: bytes, path_params=None) -> dict:
    data = load_body(body)
    shape = operation.input_shape
    return decode(shape, data) if shape is not None else {}


def decode(shape, value):
    """Decoded CBOR value → Python value, checked against the shape. Integers may stand
    for floats (the spec allows it when exact); `undefined` reads as null."""
    if value is None or value is cbor2.undefined:
        return None
    t = shape.type_name
    if getattr(shape, "is_document_type", False):
        return value  # the spec has no documents in this protocol; passed through as decoded
    if t == "structure":
        # Keys are member names: the protocol ignores jsonName and other renames.
        if not isinstance(value, dict):
            raise _wrong_type(shape, value)
        out = {}
        for name, member in shape.members.items():
            item = value.get(name)
            if item is not None and item is not cbor2.undefined:
                out[name] = decode(member, item)
        return out
    if t == "list":
        if not isinstance(value, list):
            raise _wrong_type(shape, value)
        return [decode(shape.member, v) for v in value]
    if t == "map":
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise _wrong_type(shape, value)
        return {k: decode(shape.value, v) for k, v in value.items()}
    if t == "timestamp":
        # cbor2 already turned tag 1 into an aware datetime; a bare epoch number is accepted too.
        if isinstance(value, dt.datetime):
            return to_datetime(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                if math.isfinite(value):
                    return to_datetime(value)
            except (ValueError, OverflowError, OSError):
                pass
        raise _wrong_type(shape, value)
    if t in ("integer", "long"):
        limit = _INT_LIMITS[t]
        if isinstance(value, int) and not isinstance(value, bool) and -limit <= value < limit:
            return value
        raise _wrong_type(shape, value)
    if t in ("float", "double"):
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                return float(value)
            except OverflowError:
                pass
        raise _wrong_type(shape, value)
    if isinstance(value, _SCALAR_TYPES.get(t, object)):
        return value
    raise _wrong_type(shape, value)


def _wrong_type(shape, value) -> AwsError:
    return AwsError("SerializationException",
                    f"Unexpected {type(value).__name__} value for {shape.type_name} {shape.name}")


def encode(shape, value):
    """Python value → a value cbor2 writes as the protocol wants, following the shape."""
    if value is None:
        return None
    t = shape.type_name
    if getattr(shape, "is_document_type", False):
        return value
    if t == "structure":
        # No HTTP bindings in this protocol: every member goes in the body; nulls are omitted.
        return {name: encode(member, value[name]) for name, member in shape.members.items()
                if value.get(name) is not None}
    if t == "list":
        return [encode(shape.member, v) for v in value]
    if t == "map":
        return {k: encode(shape.value, v) for k, v in value.items()}
    if t == "timestamp":
        # Tag 1, epoch seconds with millisecond resolution; an integer when whole.
        seconds = round(to_datetime(value).timestamp(), 3)
        return cbor2.CBORTag(_EPOCH_TAG, int(seconds) if seconds.is_integer() else seconds)
    if t in ("float", "double"):
        return float(value)  # cbor2 writes NaN and ±Infinity as half-precision specials
    if t == "blob":
        return value.encode() if isinstance(value, str) else bytes(value)
    return value


def _dumps(data) -> bytes:
    # encode() tags the modeled timestamps; the option also covers a datetime in an
    # unmodeled error field, which cbor2 would otherwise write as a tag-0 string.
    return cbor2.dumps(data, datetime_as_timestamp=True, timezone=dt.UTC)


def serialize_response(operation, output: dict, ctx) -> Response:
    shape = operation.output_shape
    headers = [PROTOCOL_HEADER, ("x-amzn-RequestId", ctx.request_id)]
    if shape is None:
        # An operation with no output (Smithy's Unit) answers with no body and no
        # Content-Type (protocol test `no_output`); clients accept either.
        return Response(200, headers, b"")
    return Response(200, [("Content-Type", CONTENT_TYPE), *headers], _dumps(encode(shape, output or {})))


def _error_shape(service_model, code: str):
    """The error shape by name, else by its modeled (query-compatible) code."""
    try:
        shape = service_model.shape_for(code)
        if shape.metadata.get("exception"):
            return shape
    except NoShapeFoundError:
        pass
    return service_model.shape_for_error_code(code)


def _namespace(service_model) -> str:
    # botocore does not keep the Smithy namespace; AWS names it com.amazonaws.<sdk id> (a
    # dotted targetPrefix spells it out). Clients strip it, reading what follows `#`.
    prefix = service_model.metadata.get("targetPrefix", "")
    if "." in prefix:
        return prefix.rsplit(".", 1)[0]
    return "com.amazonaws." + service_model.metadata.get("serviceId", "").replace(" ", "").lower()


def error_body(service_model, error: AwsError, shape=None) -> dict:
    """`__type` is the error's absolute shape ID (spec: Operation error serialization)."""
    name = shape.name if shape is not None else error.code
    message_key = "Message" if shape is not None and "Message" in shape.members else "message"
    body = {"__type": f"{_namespace(service_model)}#{name}", message_key: error.message}
    for key, value in error.fields.items():
        member = shape.members.get(key) if shape is not None else None
        body[key] = encode(member, value) if member is not None else value
    return body


def serialize_error(service_model, error: AwsError, request_id: str) -> Response:
    shape = _error_shape(service_model, error.code)
    headers = [("Content-Type", CONTENT_TYPE), PROTOCOL_HEADER, ("x-amzn-RequestId", request_id)]
    if "awsQueryCompatible" in service_model.metadata:
        # A service that once spoke query (CloudWatch) also names the error by its old query
        # code, `<code>;<Sender|Receiver>`; botocore raises that code, as over query.
        code = shape.error_code if shape is not None else error.code
        headers.append(("x-amzn-query-error", f"{code};{'Sender' if error.sender_fault else 'Receiver'}"))
    return Response(error.status, headers, _dumps(error_body(service_model, error, shape)))
