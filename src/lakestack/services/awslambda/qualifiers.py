"""What a Qualifier names — a version number, an alias or $LATEST — for calls that read or
configure one without invoking it (invocations route through the catalog's `resolve`)."""

from __future__ import annotations

from lakestack.services.awslambda import errors
from lakestack.services.awslambda.functions import Catalog, Function, Version
from lakestack.services.awslambda.names import LATEST, FunctionRef, is_version


def named_version(catalog: Catalog, ref: FunctionRef) -> tuple[Function, Version]:
    """The version a Get* call names: an alias gives its FunctionVersion (no routing)."""
    function = catalog.require(ref)
    qualifier = ref.qualifier or LATEST
    if not is_version(qualifier):
        alias = function.aliases.get(qualifier)
        if alias is None:
            raise errors.function_not_found(ref.arn)
        qualifier = alias["FunctionVersion"]
    version = function.versions.get(qualifier)
    if version is None:
        raise errors.function_not_found(ref.arn)
    return function, version


def check_qualifier(function: Function, ref: FunctionRef) -> None:
    """A qualified name must name an existing version or alias."""
    qualifier = ref.qualifier
    if qualifier and qualifier not in function.versions and qualifier not in function.aliases:
        raise errors.function_not_found(ref.arn)
