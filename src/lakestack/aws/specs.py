"""botocore service models, loaded once per process, in each protocol a service speaks."""

from __future__ import annotations

import gzip
import json
import threading
from functools import cache
from pathlib import Path

from botocore.loaders import create_loader
from botocore.model import OperationModel, ServiceModel

from lakestack.aws.protocol_history import earlier_protocols

_loader = create_loader()
_lock = threading.Lock()

# Members bound to the URI, query string or headers in a REST protocol travel in the body in
# the others; a variant of a REST model for another protocol drops these bindings.
_REST_BINDINGS = ("location", "locationName")


@cache
def _description(service: str) -> dict:
    with _lock:
        return _loader.load_service_model(service, "service-2")


def service_model(service: str, protocol: str | None = None) -> ServiceModel:
    """The model of `service`, or of its variant in `protocol` (one it speaks or spoke:
    `spoken_protocols`), with the metadata that protocol needs."""
    if protocol is None or protocol == _description(service)["metadata"]["protocol"]:
        return _model(service)
    return _variant(service, protocol)


@cache
def _model(service: str) -> ServiceModel:
    return ServiceModel(_description(service), service_name=service)


@cache
def _variant(service: str, protocol: str) -> ServiceModel:
    description = _description(service)
    metadata = dict(description["metadata"], protocol=protocol)
    for earlier in earlier_protocols(service):
        if earlier.protocol == protocol:
            metadata.update(earlier.metadata)
    shapes = description["shapes"]
    if description["metadata"]["protocol"].startswith("rest-") and not protocol.startswith("rest-"):
        shapes = {name: _unbound(shape) for name, shape in shapes.items()}
    return ServiceModel(dict(description, metadata=metadata, shapes=shapes), service_name=service)


def _unbound(shape: dict) -> dict:
    if shape.get("type") != "structure":
        return shape
    members = {name: {k: v for k, v in member.items() if k not in _REST_BINDINGS}
               for name, member in shape.get("members", {}).items()}
    unbound = {k: v for k, v in shape.items() if k != "payload"}
    unbound["members"] = members
    return unbound


@cache
def spoken_protocols(service: str) -> tuple[str, ...]:
    """Every protocol the service answers: the model's own first, then the ones it spoke
    before a migration (aws/protocol_history.py)."""
    metadata = _description(service)["metadata"]
    spoken = [metadata["protocol"], *metadata.get("protocols", ())]
    spoken += [earlier.protocol for earlier in earlier_protocols(service)]
    return tuple(dict.fromkeys(spoken))


def operation_model(service: str, operation: str) -> OperationModel:
    return service_model(service).operation_model(operation)


def signing_name(model: ServiceModel) -> str:
    return model.metadata.get("signingName") or model.metadata["endpointPrefix"]


@cache
def error_shapes(service: str) -> dict:
    """Error code → error shape, for the HTTP status and message member name."""
    model = service_model(service)
    out = {}
    for name in model.shape_names:
        shape = model.shape_for(name)
        if shape.metadata.get("exception"):
            code = shape.metadata.get("error", {}).get("code", name)
            out[code] = shape
            out.setdefault(name, shape)
    return out


@cache
def known_services() -> dict[str, dict]:
    """service name → metadata, for every service botocore describes.

    Only the metadata is read: it sits at the start of each model file, and parsing all ~450
    whole models would take over ten seconds. Used to answer services lakestack does not
    serve yet in their own protocol.
    """
    out = {}
    decoder = json.JSONDecoder()
    for service in _loader.list_available_services("service-2"):
        try:
            head = _model_head(service)
            start = head.index("{", head.index('"metadata"'))
            out[service] = decoder.raw_decode(head, start)[0]
        except (OSError, ValueError):
            continue  # a model laid out otherwise: that service is just not recognised
    return out


def _model_head(service: str, size: int = 8192) -> str:
    version = _loader.determine_latest_version(service, "service-2")
    for directory in _loader.search_paths:
        base = Path(directory) / service / version
        for name, opener in (("service-2.json.gz", gzip.open), ("service-2.json", open)):
            if (base / name).is_file():
                with opener(base / name, "rb") as f:
                    return f.read(size).decode("utf-8", "replace")
    raise OSError(f"no model file for {service}")
