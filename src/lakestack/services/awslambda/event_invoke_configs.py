"""Asynchronous invocation configuration (Put/Update/Get/Delete/ListFunctionEventInvokeConfig):
how often the async queue retries an event, how old it may get, and where results go —
per version or alias ($LATEST for the unqualified function).
https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
"""

from __future__ import annotations

from lakestack.services.awslambda import errors
from lakestack.services.awslambda.asynchronous import DEFAULT_MAX_AGE, DEFAULT_MAX_RETRIES, QueuedEvent
from lakestack.services.awslambda.destinations import Destinations
from lakestack.services.awslambda.functions import Catalog, Function, timestamp
from lakestack.services.awslambda.names import LATEST, FunctionRef, function_arn
from lakestack.services.awslambda.qualifiers import check_qualifier


def put(catalog: Catalog, destinations: Destinations, ctx, ref: FunctionRef, params: dict, replace: bool) -> dict:
    """Put (replace=True) or Update an EventInvokeConfig; the config as answered."""
    function = catalog.require(ref)
    check_qualifier(function, ref)
    key = ref.qualifier or LATEST
    with catalog.lock:
        current = function.invoke_configs.get(key)
        if not replace and current is None:
            raise errors.not_found(f"The function {ref.arn} doesn't have an EventInvokeConfig")
        config = {} if replace or current is None else dict(current)
        for name in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if params.get(name) is not None:
                config[name] = params[name]
        if params.get("DestinationConfig") is not None:
            destinations.check(ctx, params["DestinationConfig"])
            config["DestinationConfig"] = params["DestinationConfig"]
        config["LastModified"] = timestamp()
        config["FunctionArn"] = function_arn(ref.region, ref.account, ref.name, key)
        function.invoke_configs[key] = config
        catalog.save(function)
    return _output(config)


def get(catalog: Catalog, ref: FunctionRef) -> dict:
    function = catalog.require(ref)
    config = function.invoke_configs.get(ref.qualifier or LATEST)
    if config is None:
        raise errors.not_found(f"The function {ref.arn} doesn't have an EventInvokeConfig")
    return _output(config)


def delete(catalog: Catalog, ref: FunctionRef) -> None:
    function = catalog.require(ref)
    with catalog.lock:
        if function.invoke_configs.pop(ref.qualifier or LATEST, None) is None:
            raise errors.not_found(f"The function {ref.arn} doesn't have an EventInvokeConfig")
        catalog.save(function)


def all_of(function: Function) -> list[dict]:
    """Every EventInvokeConfig of a function, as ListFunctionEventInvokeConfigs answers them."""
    return [_output(c) for _, c in sorted(function.invoke_configs.items())]


def retry_policy(catalog: Catalog, event: QueuedEvent) -> tuple[int, int]:
    """(maximum retries, maximum event age in seconds) for a queued event."""
    function = catalog.get(event.account, event.region, event.function_name)
    config = (function.invoke_configs.get(event.qualifier or LATEST) or {}) if function else {}
    retries = config.get("MaximumRetryAttempts")
    age = config.get("MaximumEventAgeInSeconds")
    return (DEFAULT_MAX_RETRIES if retries is None else retries), (DEFAULT_MAX_AGE if age is None else age)


def _output(config: dict) -> dict:
    from lakestack.aws.protocols.values import to_datetime

    out = dict(config)
    out["LastModified"] = to_datetime(_iso(config["LastModified"]))
    return out


def _iso(text: str) -> str:
    # LastModified is stored in Lambda's "+0000" form; the output shape wants a timestamp.
    return text.replace("+0000", "Z")
