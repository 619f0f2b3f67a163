"""$LATEST's FunctionConfiguration as CreateFunction builds it and UpdateFunctionConfiguration
changes it, with the checks that need more than the parameters: the role must be one Lambda
can assume (STS is asked), and every layer must exist and be usable by the caller. The
rules for the parameters alone are configuration.py's.
"""

from __future__ import annotations

from lakestack.aws.errors import AwsError
from lakestack.services.awslambda import configuration, errors
from lakestack.services.awslambda.code import Package
from lakestack.services.awslambda.deployment_packages import IMAGES_NOT_SUPPORTED
from lakestack.services.awslambda.functions import Version, new_revision, timestamp
from lakestack.services.awslambda.layers import Layers
from lakestack.services.awslambda.names import LATEST, FunctionRef

# Set as given by UpdateFunctionConfiguration.
_FUNCTION_FIELDS = ("Description", "Timeout", "MemorySize", "Handler", "Runtime", "Role", "TracingConfig",
                    "DeadLetterConfig", "VpcConfig", "KMSKeyArn", "EphemeralStorage")


def check_create(ref: FunctionRef, params: dict) -> dict | None:
    """CreateFunction's parameter rules; the Environment as stored (None: no variables)."""
    if ref.qualifier:
        raise errors.invalid_parameter("Qualifiers are not allowed in the function name of CreateFunction.")
    if params.get("PackageType") == "Image":
        raise errors.invalid_parameter(IMAGES_NOT_SUPPORTED)
    configuration.check_runtime(params.get("Runtime"))
    if not params.get("Handler"):
        raise errors.invalid_parameter("Runtime and Handler are mandatory parameters for functions created with "
                                       "deployment packages.")
    configuration.check_limits(params.get("Timeout"), params.get("MemorySize"))
    return configuration.check_environment(params.get("Environment"))


def check_update(params: dict) -> dict | None:
    """UpdateFunctionConfiguration's parameter rules; the Environment as stored."""
    if params.get("Runtime"):
        configuration.check_runtime(params["Runtime"])
    configuration.check_limits(params.get("Timeout"), params.get("MemorySize"))
    return configuration.check_environment(params.get("Environment"))


def check_role(stack, role: str, name: str, ctx) -> None:
    """The execution role is well formed and Lambda may assume it."""
    configuration.check_role(role)
    try:
        stack.provider("sts").assume_role_for_service(role, "lambda.amazonaws.com", name, duration=900,
                                                      region=ctx.region)
    except AwsError:
        raise errors.invalid_parameter("The role defined for the function cannot be assumed by Lambda.") from None


def function_layers(layers: Layers, ctx, arns: list[str] | None) -> tuple[list[dict], list[str]]:
    """(FunctionConfiguration.Layers, layer package hashes) for the Layers parameter."""
    arns = list(arns or [])
    if len(arns) > configuration.MAX_LAYERS:
        raise errors.invalid_parameter(f"Cannot reference more than {configuration.MAX_LAYERS} layers.")
    seen: dict[str, str] = {}
    out, shas = [], []
    for arn in arns:
        base = arn.rsplit(":", 1)[0]
        if base in seen:
            raise errors.invalid_parameter(
                f"Two different versions of the same layer are not allowed to be referenced in the same function. "
                f"{seen[base]} and {arn} are versions of the same layer.")
        seen[base] = arn
        found = layers.for_function(arn, ctx.account_id)
        out.append({"Arn": arn, "CodeSize": found["info"]["Content"]["CodeSize"]})
        shas.append(found["sha"])
    return out, shas


def new_configuration(ref: FunctionRef, params: dict, package: Package, environment: dict | None,
                      layers: list[dict]) -> dict:
    """$LATEST's FunctionConfiguration for a CreateFunction request."""
    config = {
        "FunctionName": ref.name,
        "FunctionArn": ref.unqualified_arn,
        "Runtime": params["Runtime"],
        "Role": params["Role"],
        "Handler": params["Handler"],
        "CodeSize": package.size,
        "Description": params.get("Description") or "",
        "Timeout": params.get("Timeout") or configuration.DEFAULT_TIMEOUT,
        "MemorySize": params.get("MemorySize") or configuration.DEFAULT_MEMORY,
        "LastModified": timestamp(),
        "CodeSha256": package.sha256,
        "Version": LATEST,
        "TracingConfig": params.get("TracingConfig") or {"Mode": "PassThrough"},
        "RevisionId": new_revision(),
        "PackageType": "Zip",
        "Architectures": params.get("Architectures") or ["x86_64"],
        "EphemeralStorage": params.get("EphemeralStorage") or {"Size": 512},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "RuntimeVersionConfig": {"RuntimeVersionArn": configuration.runtime_version_arn(ref.region,
                                                                                        params["Runtime"])},
        "LoggingConfig": configuration.logging_config(params.get("LoggingConfig"), ref.name),
    }
    if environment:
        config["Environment"] = environment
    if layers:
        config["Layers"] = layers
    for key in ("DeadLetterConfig", "VpcConfig", "KMSKeyArn"):
        if params.get(key):
            config[key] = params[key]
    return config


def apply_update(latest: Version, ref: FunctionRef, params: dict, environment: dict | None,
                 layers: list[dict] | None, layer_shas: list[str] | None) -> None:
    """Change $LATEST as an UpdateFunctionConfiguration request asks (layers None: keep them)."""
    config = latest.config
    for key in _FUNCTION_FIELDS:
        if params.get(key) is not None:
            config[key] = params[key]
    if "Environment" in params:
        if environment:
            config["Environment"] = environment
        else:
            config.pop("Environment", None)
    if layers is not None:
        latest.layer_shas = layer_shas
        if layers:
            config["Layers"] = layers
        else:
            config.pop("Layers", None)
    if params.get("LoggingConfig"):
        config["LoggingConfig"] = configuration.logging_config(params["LoggingConfig"], ref.name,
                                                               config.get("LoggingConfig"))
    if params.get("Runtime"):
        config["RuntimeVersionConfig"] = {
            "RuntimeVersionArn": configuration.runtime_version_arn(ref.region, params["Runtime"])}
    config.update(LastModified=timestamp(), RevisionId=new_revision())
