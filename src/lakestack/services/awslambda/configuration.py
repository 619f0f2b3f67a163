"""A function's configuration: Lambda's rules for the parameters of CreateFunction and
UpdateFunctionConfiguration, and the FunctionConfiguration they produce.

The model's own constraints (lengths, ranges, patterns, enums) are checked by the gateway;
the rules here are the ones only the service knows.
"""

from __future__ import annotations

import json
import re
import sys

from lakestack.services.awslambda import errors

# Runtimes lakestack runs: every one on the host interpreter (see docs/lambda.md).
SUPPORTED_RUNTIMES = ("python3.10", "python3.11", "python3.12", "python3.13")
# https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html#runtimes-deprecated
DEPRECATED_RUNTIMES = ("python2.7", "python3.6", "python3.7", "python3.8", "python3.9")
DEFAULT_TIMEOUT = 3
DEFAULT_MEMORY = 128
MAX_TIMEOUT = 900
MIN_MEMORY, MAX_MEMORY = 128, 10240
MAX_LAYERS = 5
MAX_ENVIRONMENT_BYTES = 4096
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
RESERVED_VARIABLES = (
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
)
_ROLE = re.compile(r"^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")


def check_runtime(runtime: str | None) -> None:
    if runtime is None:
        raise errors.invalid_parameter("Runtime and Handler are mandatory parameters for functions created with "
                                       "deployment packages.")
    if runtime in DEPRECATED_RUNTIMES:
        raise errors.invalid_parameter(
            f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda "
            "functions. We recommend you use a supported runtime while creating or updating functions.")
    if runtime not in SUPPORTED_RUNTIMES:
        raise errors.invalid_parameter(
            f"The runtime parameter of {runtime} is not supported by lakestack, which runs Python functions only "
            f"({', '.join(SUPPORTED_RUNTIMES)}).")


def check_role(role: str) -> None:
    if not _ROLE.match(role):
        raise errors.error("ValidationException", f"1 validation error detected: Value '{role}' at 'role' failed to "
                           "satisfy constraint: Member must satisfy regular expression pattern: "
                           r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+")


def check_environment(environment: dict | None) -> dict | None:
    """The Environment as stored, or None when there are no variables."""
    if environment is None:
        return None
    variables = environment.get("Variables") or {}
    reserved = [k for k in variables if k in RESERVED_VARIABLES]
    if reserved:
        raise errors.invalid_parameter(
            "Lambda was unable to configure your environment variables because the environment variables you have "
            "provided contains reserved keys that are currently not supported for modification. Reserved keys used "
            f"in this request: {', '.join(reserved)}")
    measured = json.dumps(variables, separators=(",", ":"))
    if len(measured.encode()) > MAX_ENVIRONMENT_BYTES:
        raise errors.invalid_parameter(
            "Lambda was unable to configure your environment variables because the environment variables you have "
            f"provided exceeded the 4KB limit. String measured: {measured}")
    return {"Variables": dict(variables)} if variables else None


def check_limits(timeout: int | None, memory: int | None) -> None:
    if timeout is not None and not 1 <= timeout <= MAX_TIMEOUT:
        raise errors.error("ValidationException", f"1 validation error detected: Value '{timeout}' at 'timeout' "
                           f"failed to satisfy constraint: Member must have value less than or equal to {MAX_TIMEOUT}")
    if memory is not None and not MIN_MEMORY <= memory <= MAX_MEMORY:
        raise errors.error("ValidationException", f"1 validation error detected: Value '{memory}' at 'memorySize' "
                           f"failed to satisfy constraint: Member must have value less than or equal to {MAX_MEMORY}")


def logging_config(requested: dict | None, name: str, current: dict | None = None) -> dict:
    config = dict(current or {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"})
    for key in ("LogFormat", "ApplicationLogLevel", "SystemLogLevel", "LogGroup"):
        if requested and requested.get(key) is not None:
            config[key] = requested[key]
    if config.get("LogFormat") == "Text":
        # Log levels only apply to JSON logs.
        if requested and (requested.get("ApplicationLogLevel") or requested.get("SystemLogLevel")):
            raise errors.invalid_parameter("Application log level and system log level are only supported for "
                                           "functions with JSON log format.")
        config.pop("ApplicationLogLevel", None)
        config.pop("SystemLogLevel", None)
    else:
        config.setdefault("ApplicationLogLevel", "INFO")
        config.setdefault("SystemLogLevel", "INFO")
    return config


def runtime_version_arn(region: str, runtime: str) -> str:
    # AWS names the exact runtime build; here it is the host interpreter that runs it.
    host = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
    return f"arn:aws:lambda:{region}::runtime:lakestack-{runtime}-host-python{host}"
