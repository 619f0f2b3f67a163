"""botocore service models, loaded once per process."""

from __future__ import annotations

import threading
from functools import cache

from botocore.loaders import create_loader
from botocore.model import OperationModel, ServiceModel

_loader = create_loader()
_lock = threading.Lock()


@cache
def service_model(service: str) -> ServiceModel:
    with _lock:
        return ServiceModel(_loader.load_service_model(service, "service-2"), service_name=service)


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
