"""The `query` protocol (IAM, STS): form-encoded input, XML output."""

from __future__ import annotations

from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from lakestack.aws.errors import AwsError
from lakestack.aws.protocols import Response
from lakestack.aws.protocols.values import parse_scalar
from lakestack.aws.protocols.xml import encode_members


def request_params(http, body: bytes) -> dict[str, str]:
    params = dict(http.query)
    if body:
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return params


def operation_name(http, body: bytes) -> str | None:
    return request_params(http, body).get("Action")


def parse_request(operation, http, body: bytes, path_params=None) -> dict:
    params = request_params(http, body)
    shape = operation.input_shape
    if shape is None:
        return {}
    try:
        return _parse_structure(shape, params, "")
    except ValueError as exc:
        raise AwsError("ValidationError", str(exc)) from None


def _present(params: dict, key: str) -> bool:
    if key in params:
        return True
    dotted = key + "."
    return any(k.startswith(dotted) for k in params)


def _parse_structure(shape, params: dict, prefix: str) -> dict:
    out = {}
    for name, member in shape.members.items():
        key = member.serialization.get("name", name)
        key = f"{prefix}.{key}" if prefix else key
        if _present(params, key):
            out[name] = _parse(member, params, key)
    return out


def _parse(shape, params: dict, key: str):
    t = shape.type_name
    if t == "structure":
        return _parse_structure(shape, params, key)
    if t == "list":
        if params.get(key) == "":
            return []
        if shape.serialization.get("flattened"):
            item_prefix = key
        else:
            item_prefix = f"{key}.{shape.member.serialization.get('name', 'member')}"
        items, i = [], 1
        while _present(params, f"{item_prefix}.{i}"):
            items.append(_parse(shape.member, params, f"{item_prefix}.{i}"))
            i += 1
        return items
    if t == "map":
        base = key if shape.serialization.get("flattened") else f"{key}.entry"
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        out, i = {}, 1
        while _present(params, f"{base}.{i}"):
            k = _parse(shape.key, params, f"{base}.{i}.{key_name}")
            out[k] = _parse(shape.value, params, f"{base}.{i}.{value_name}")
            i += 1
        return out
    return parse_scalar(shape, params[key])


def _namespace(operation) -> str:
    return operation.service_model.metadata.get("xmlNamespace", "")


def serialize_response(operation, output: dict, ctx) -> Response:
    name = operation.name
    out = [f'<{name}Response xmlns="{_namespace(operation)}">']
    shape = operation.output_shape
    wrapper = shape.serialization.get("resultWrapper") if shape is not None else None
    wrapper = wrapper or f"{name}Result"
    if shape is not None:
        out.append(f"<{wrapper}>")
        encode_members(shape, output or {}, out)
        out.append(f"</{wrapper}>")
    out.append(f"<ResponseMetadata><RequestId>{ctx.request_id}</RequestId></ResponseMetadata>")
    out.append(f"</{name}Response>")
    return Response(
        200,
        [("Content-Type", "text/xml"), ("x-amzn-RequestId", ctx.request_id)],
        "".join(out).encode(),
    )


def serialize_error(service_model, error: AwsError, request_id: str) -> Response:
    if service_model.protocol == "ec2":
        # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html#api-error-response
        body = (f"<Response><Errors><Error><Code>{escape(error.code)}</Code>"
                f"<Message>{escape(error.message)}</Message></Error></Errors>"
                f"<RequestID>{request_id}</RequestID></Response>")
        return Response(error.status, [("Content-Type", "text/xml")], body.encode())
    kind = "Sender" if error.sender_fault else "Receiver"
    body = (
        f'<ErrorResponse xmlns="{service_model.metadata.get("xmlNamespace", "")}">'
        f"<Error><Type>{kind}</Type><Code>{escape(error.code)}</Code>"
        f"<Message>{escape(error.message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return Response(
        error.status,
        [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)],
        body.encode(),
    )
