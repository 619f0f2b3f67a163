"""The `json` protocol (Kinesis, Glue, Athena, …): X-Amz-Target + a JSON body both ways."""

from __future__ import annotations

import json

from lakestack.aws.errors import AwsError
from lakestack.aws.protocols import Response, eventstream
from lakestack.aws.protocols.values import b64decode, b64encode, format_timestamp, to_datetime


def content_type(service_model) -> str:
    return f"application/x-amz-json-{service_model.metadata.get('jsonVersion', '1.0')}"


def operation_name(http) -> str | None:
    target = http.headers.get("x-amz-target", "")
    return target.rsplit(".", 1)[-1] if "." in target else None


def load_body(body: bytes, code: str = "SerializationException") -> dict:
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        raise AwsError(code, "Start of structure or map found where not expected.") from None
    if not isinstance(data, dict):
        raise AwsError(code, "Start of list found where not expected")
    return data


def parse_request(operation, http, body: bytes, path_params=None) -> dict:
    shape = operation.input_shape
    data = load_body(body)
    return decode(shape, data) if shape is not None else {}


def decode(shape, value):
    """JSON value → Python value: timestamps to datetime, blobs to bytes."""
    if value is None:
        return None
    t = shape.type_name
    if shape.metadata.get("document"):
        return value  # a document is free-form JSON (botocore types it as a flagged structure)
    try:
        if t == "structure":
            if not isinstance(value, dict):
                raise AwsError("SerializationException", f"Expected a structure for {shape.name}")
            out = {}
            for name, member in shape.members.items():
                key = member.serialization.get("name", name)
                if key in value and value[key] is not None:
                    out[name] = decode(member, value[key])
            return out
        if t == "list":
            if not isinstance(value, list):
                raise AwsError("SerializationException", f"Expected a list for {shape.name}")
            return [decode(shape.member, v) for v in value]
        if t == "map":
            if not isinstance(value, dict):
                raise AwsError("SerializationException", f"Expected a map for {shape.name}")
            return {k: decode(shape.value, v) for k, v in value.items()}
        if t == "timestamp":
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise TypeError("expected a number or a date string")
            return to_datetime(value)
        if t == "blob":
            if not isinstance(value, str):
                raise TypeError("expected a base64 string")
            return b64decode(value)
        if t in _SCALAR_TYPES and not isinstance(value, _SCALAR_TYPES[t]) or (
                isinstance(value, bool) and t not in ("boolean", "document")):
            # A JSON value of the wrong type: AWS refuses it before the operation runs.
            raise AwsError("SerializationException",
                           f"Unexpected {type(value).__name__} value for {shape.type_name} {shape.name}")
        if t == "string":
            value.encode("utf-8")  # lone surrogates (\ud800) are not text AWS accepts
    except (ValueError, TypeError) as exc:
        raise AwsError("SerializationException", f"Invalid value for {shape.name}: {exc}") from None
    return value


_SCALAR_TYPES = {
    "string": str,
    "integer": int,
    "long": int,
    "float": int | float,
    "double": int | float,
    "boolean": bool,
}


def encode(shape, value, timestamp_format: str = "unixTimestamp"):
    """Python value → JSON value, following the output shape."""
    if value is None:
        return None
    t = shape.type_name
    if shape.metadata.get("document"):
        return value
    if t == "structure":
        out = {}
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                if member.serialization.get("location"):
                    continue
                out[member.serialization.get("name", name)] = encode(member, value[name], timestamp_format)
        return out
    if t == "list":
        return [encode(shape.member, v, timestamp_format) for v in value]
    if t == "map":
        return {k: encode(shape.value, v, timestamp_format) for k, v in value.items()}
    if t == "timestamp":
        return format_timestamp(value, shape.serialization.get("timestampFormat", timestamp_format))
    if t == "blob":
        return b64encode(value)
    if t == "document":
        return value
    return value


def serialize_response(operation, output: dict, ctx) -> Response:
    shape = operation.output_shape
    if shape is not None and shape.event_stream_name:
        return _event_stream_response(shape, output or {}, ctx)
    data = encode(shape, output or {}) if shape is not None else {}
    return Response(
        200,
        [("Content-Type", content_type(operation.service_model)), ("x-amzn-RequestId", ctx.request_id)],
        json.dumps(data, separators=(",", ":")).encode(),
    )


def error_body(service_model, error: AwsError) -> dict:
    from lakestack.aws.specs import error_shapes

    shape = error_shapes(service_model.service_name).get(error.code)
    message_key = "Message" if shape is not None and "Message" in shape.members else "message"
    body = {"__type": error.code, message_key: error.message}
    body.update(error.fields)
    return body


def serialize_error(service_model, error: AwsError, request_id: str) -> Response:
    return Response(
        error.status,
        [
            ("Content-Type", content_type(service_model)),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", error.code),
        ],
        json.dumps(error_body(service_model, error)).encode(),
    )


def _event_stream_response(shape, output: dict, ctx) -> Response:
    """An event-stream answer (SubscribeToShard): an `initial-response` event carrying the
    other output members, then one event per item the provider's iterator yields.

    The provider yields `{event_name: payload}` dicts, or `{}` when it has nothing to send
    yet (the gateway then checks the client is still there); an `AwsError` it raises ends
    the stream with that error as an event, as AWS does mid-stream.
    """
    name = shape.event_stream_name
    union = shape.members[name]
    events = output.get(name) or iter(())
    initial = {k: v for k, v in output.items() if k != name}

    def frames():
        try:
            yield eventstream.event("initial-response", json.dumps(encode(shape, initial)).encode())
            for item in events:
                if not item:
                    yield b""
                    continue
                for event_name, payload in item.items():
                    body = json.dumps(encode(union.members[event_name], payload), separators=(",", ":"))
                    yield eventstream.event(event_name, body.encode())
        except AwsError as error:
            body = json.dumps({"message": error.message}).encode()
            if error.code in union.members:
                yield eventstream.exception(error.code, body)
            else:
                yield eventstream.error(error.code, error.message)
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()

    return Response(
        200,
        [("Content-Type", eventstream.CONTENT_TYPE), ("x-amzn-RequestId", ctx.request_id)],
        frames(),
        watch_disconnect=True,
    )
