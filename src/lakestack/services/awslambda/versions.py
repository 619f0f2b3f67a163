"""Versions and aliases.

PublishVersion freezes $LATEST as version N — unless nothing changed since the last
published version, in which case that one comes back (as on AWS). An alias points at a
version, optionally sending a weighted share of invocations to a second one.
https://docs.aws.amazon.com/lambda/latest/dg/configuration-versions.html
https://docs.aws.amazon.com/lambda/latest/dg/configuration-aliases.html
"""

from __future__ import annotations

import copy

from lakestack.services.awslambda import errors
from lakestack.services.awslambda.functions import Function, Version, new_revision, timestamp
from lakestack.services.awslambda.names import ALIAS_NAME, LATEST, function_arn

# What makes two versions "the same" for PublishVersion.
_PUBLISHED_FIELDS = ("Runtime", "Role", "Handler", "CodeSha256", "Timeout", "MemorySize", "Environment", "Layers",
                     "TracingConfig", "DeadLetterConfig", "VpcConfig", "LoggingConfig", "EphemeralStorage",
                     "Architectures", "KMSKeyArn")


def publish(function: Function, params: dict) -> Version:
    latest = function.latest
    if params.get("CodeSha256") and params["CodeSha256"] != latest.config["CodeSha256"]:
        raise errors.invalid_parameter(f"CodeSHA256 ({params['CodeSha256']}) is different from current CodeSHA256 in "
                                       f"$LATEST ({latest.config['CodeSha256']}). Please try again.")
    if params.get("RevisionId") and params["RevisionId"] != latest.revision:
        raise errors.precondition_failed()
    published = function.published()
    if published and all(published[-1].config.get(k) == latest.config.get(k) for k in _PUBLISHED_FIELDS):
        return published[-1]
    number = str(function.last_version + 1)
    config = copy.deepcopy(latest.config)
    config.update(Version=number, FunctionArn=function_arn(function.region, function.account, function.name, number),
                  RevisionId=new_revision(), LastModified=timestamp(), State="Active", LastUpdateStatus="Successful")
    if params.get("Description") is not None:
        config["Description"] = params["Description"]
    version = Version(config, latest.code_sha, list(latest.layer_shas))
    function.versions[number] = version
    function.last_version = int(number)
    return version


def check_deletable(function: Function, number: str) -> None:
    if number == LATEST:
        raise errors.invalid_parameter("$LATEST version cannot be deleted without deleting the function.")
    using = sorted(name for name, alias in function.aliases.items() if _references(alias, number))
    if using:
        raise errors.conflict(f"Unable to delete version because the following aliases reference it: {using}")


def _references(alias: dict, number: str) -> bool:
    weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return alias["FunctionVersion"] == number or number in weights


# -- aliases --------------------------------------------------------------------------------


def alias_arn(function: Function, name: str) -> str:
    return function_arn(function.region, function.account, function.name, name)


def _check_target(function: Function, version: str, routing: dict | None) -> dict | None:
    if version not in function.versions:
        raise errors.function_not_found(function_arn(function.region, function.account, function.name, version))
    weights = (routing or {}).get("AdditionalVersionWeights") or {}
    if not weights:
        return None
    if version == LATEST or LATEST in weights:
        raise errors.invalid_parameter("$LATEST is not supported for an alias pointing to more than 1 version")
    if len(weights) > 1:
        raise errors.invalid_parameter("Number of items in AdditionalVersionWeights cannot be greater than 1")
    for other, weight in weights.items():
        if other not in function.versions:
            raise errors.invalid_parameter(f"Function version {other} doesn't exist")
        if other == version:
            raise errors.invalid_parameter("Invalid function version: the version in AdditionalVersionWeights must "
                                           "differ from the alias's FunctionVersion")
        if not 0.0 <= weight <= 1.0:
            raise errors.invalid_parameter(f"Invalid weight {weight}: weights must be between 0.0 and 1.0")
    return {"AdditionalVersionWeights": dict(weights)}


def create_alias(function: Function, params: dict) -> dict:
    name = params["Name"]
    if not ALIAS_NAME.match(name):
        raise errors.invalid_parameter(f"Alias name {name} is not valid: it may not be a version number")
    if name in function.aliases:
        raise errors.conflict(f"Alias already exists: {alias_arn(function, name)}")
    routing = _check_target(function, params["FunctionVersion"], params.get("RoutingConfig"))
    alias = {"AliasArn": alias_arn(function, name), "Name": name, "FunctionVersion": params["FunctionVersion"],
             "Description": params.get("Description") or "", "RevisionId": new_revision()}
    if routing:
        alias["RoutingConfig"] = routing
    function.aliases[name] = alias
    return alias


def get_alias(function: Function, name: str) -> dict:
    alias = function.aliases.get(name)
    if alias is None:
        raise errors.not_found(f"Cannot find alias arn: {alias_arn(function, name)}")
    return alias


def update_alias(function: Function, params: dict) -> dict:
    alias = get_alias(function, params["Name"])
    if params.get("RevisionId") and params["RevisionId"] != alias["RevisionId"]:
        raise errors.precondition_failed()
    version = params.get("FunctionVersion") or alias["FunctionVersion"]
    routing = params.get("RoutingConfig", alias.get("RoutingConfig"))
    checked = _check_target(function, version, routing)
    alias["FunctionVersion"] = version
    if params.get("Description") is not None:
        alias["Description"] = params["Description"]
    if checked:
        alias["RoutingConfig"] = checked
    else:
        alias.pop("RoutingConfig", None)
    alias["RevisionId"] = new_revision()
    return alias
