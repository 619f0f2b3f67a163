"""The resource policies that AddPermission & co. keep: a function's, one per qualifier
(none for the unqualified function), and a layer version's. Each change is checked against
the RevisionId the caller last saw and gets a new one. The statements themselves, and how
a service's request is evaluated against them, are policies.py's.
"""

from __future__ import annotations

from lakestack.aws.errors import AwsError
from lakestack.services.awslambda import errors, policies
from lakestack.services.awslambda.functions import Catalog, new_revision
from lakestack.services.awslambda.layers import Layers, layer_statement
from lakestack.services.awslambda.names import FunctionRef, layer_arn, parse
from lakestack.services.awslambda.qualifiers import check_qualifier

# -- functions (AddPermission, RemovePermission, GetPolicy) -------------------------------------


def add_function_permission(catalog: Catalog, ref: FunctionRef, params: dict) -> dict:
    """The statement added, as AddPermission answers it."""
    function = catalog.require(ref)
    qualifier = ref.qualifier or ""
    check_qualifier(function, ref)
    with catalog.lock:
        if params.get("RevisionId") and params["RevisionId"] != function.policy_revisions.get(qualifier):
            raise errors.precondition_failed()
        statement = policies.statement(params, ref.arn)
        function.policies[qualifier] = policies.add(function.policies.get(qualifier), statement)
        function.policy_revisions[qualifier] = new_revision()
        catalog.save(function)
    return statement


def remove_function_permission(catalog: Catalog, ref: FunctionRef, params: dict) -> None:
    function = catalog.require(ref)
    qualifier = ref.qualifier or ""
    check_qualifier(function, ref)
    with catalog.lock:
        if params.get("RevisionId") and params["RevisionId"] != function.policy_revisions.get(qualifier):
            raise errors.precondition_failed()
        remaining = policies.remove(function.policies.get(qualifier), params["StatementId"])
        if remaining is None:
            function.policies.pop(qualifier, None)
        else:
            function.policies[qualifier] = remaining
        function.policy_revisions[qualifier] = new_revision()
        catalog.save(function)


def function_policy(catalog: Catalog, ref: FunctionRef) -> tuple[dict, str]:
    """(policy document, RevisionId) of the function or the version or alias `ref` names."""
    function = catalog.require(ref)
    check_qualifier(function, ref)
    policy = function.policies.get(ref.qualifier or "")
    if not policy:
        raise errors.not_found("The resource you requested does not exist.")
    return policy, function.policy_revisions.get(ref.qualifier or "", "")


def service_target(function_arn: str, source_account: str | None) -> FunctionRef:
    """The function (version or alias) another service names by ARN."""
    return parse(function_arn, source_account or "", _arn_region(function_arn))


def service_may_invoke(catalog: Catalog, function_arn: str, service: str, source_arn: str | None,
                       source_account: str | None) -> bool:
    """Does the function's policy, for the version or alias named in the ARN, let `service`
    invoke it on behalf of `source_arn`? False if there is no such function."""
    try:
        ref = service_target(function_arn, source_account)
        function = catalog.require(ref)
        catalog.resolve(ref)
    except AwsError:
        return False
    return policies.allows_service(function.policies.get(ref.qualifier or ""), service, "lambda:InvokeFunction",
                                   ref.arn, source_arn, source_account)


def _arn_region(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and arn.startswith("arn:") else ""


# -- layer versions (Add/RemoveLayerVersionPermission, GetLayerVersionPolicy) ---------------------


def add_layer_permission(layers: Layers, region: str, account: str, name: str, params: dict) -> tuple[dict, str]:
    """(statement added, new RevisionId)."""
    number = params["VersionNumber"]
    layers.version(account, region, name, number)
    layer = layers.get(account, region, name)
    if params.get("RevisionId") and params["RevisionId"] != (layer.policies.get(number) or {}).get("RevisionId"):
        raise errors.precondition_failed()
    statement = layer_statement(params, layer_arn(region, account, name, number))
    policy = policies.add(_without_revision(layer.policies.get(number)), statement)
    policy["RevisionId"] = new_revision()
    layers.set_policy(layer, number, policy)
    return statement, policy["RevisionId"]


def layer_policy(layers: Layers, region: str, account: str, name: str, number: int) -> tuple[dict, str]:
    """(policy document, RevisionId) of a layer version."""
    layers.version(account, region, name, number)
    policy = layers.get(account, region, name).policies.get(number)
    if not policy:
        raise errors.not_found("No policy is associated with the given resource.")
    return _without_revision(policy), policy["RevisionId"]


def remove_layer_permission(layers: Layers, region: str, account: str, name: str, params: dict) -> None:
    number = params["VersionNumber"]
    layers.version(account, region, name, number)
    layer = layers.get(account, region, name)
    current = layer.policies.get(number)
    if params.get("RevisionId") and params["RevisionId"] != (current or {}).get("RevisionId"):
        raise errors.precondition_failed()
    remaining = policies.remove(_without_revision(current), params["StatementId"])
    if remaining is not None:
        remaining["RevisionId"] = new_revision()
    layers.set_policy(layer, number, remaining)


def _without_revision(policy: dict | None) -> dict | None:
    # A layer version's policy document is stored with its RevisionId inside.
    if policy is None:
        return None
    return {k: v for k, v in policy.items() if k != "RevisionId"}

