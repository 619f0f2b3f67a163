"""One request parser and one response serializer per AWS wire protocol, driven by
botocore's OperationModel. Services never see the wire."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Response:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    # bytes, or a streaming body: an object with read(n) (closed after) or an iterable of bytes.
    body: Any = b""
    # A long-lived streamed answer (an event stream): the gateway stops iterating the body
    # when the client goes away instead of producing events for nobody.
    watch_disconnect: bool = False

    def header(self, name: str, value: str) -> None:
        self.headers.append((name, value))


def protocol_module(protocol: str):
    from lakestack.aws.protocols import json as json_protocol
    from lakestack.aws.protocols import query, rest

    return {"query": query, "json": json_protocol, "rest-json": rest, "rest-xml": rest}[protocol]
