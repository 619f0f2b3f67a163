"""One request parser and one response serializer per AWS wire protocol, driven by
botocore's OperationModel. Services never see the wire."""

from __future__ import annotations

import importlib
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


# EC2's own protocol is the query protocol with another error document (query.serialize_error).
_MODULES = {"query": "query", "ec2": "query", "json": "json", "rest-json": "rest", "rest-xml": "rest",
            "smithy-rpc-v2-cbor": "cbor"}


def protocol_module(protocol: str):
    """The parser/serializer module of a botocore protocol name."""
    return importlib.import_module(f"lakestack.aws.protocols.{_MODULES[protocol]}")
