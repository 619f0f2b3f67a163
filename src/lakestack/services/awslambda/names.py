"""Function names as Lambda accepts them, and the ARNs it answers with.

A `FunctionName` parameter may be a name (`my-function`), a name with a qualifier
(`my-function:v1`), a partial ARN (`123456789012:function:my-function`) or a full ARN, each
optionally qualified by a version or alias.
https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#lambda-Invoke-request-FunctionName
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lakestack.services.awslambda import errors

LATEST = "$LATEST"
_QUALIFIER = r"(\$LATEST|[a-zA-Z0-9-_]+)"
_FULL = re.compile(rf"^arn:aws[a-zA-Z-]*:lambda:([a-z0-9-]+):(\d{{12}}):function:([a-zA-Z0-9-_]+)(?::{_QUALIFIER})?$")
_PARTIAL = re.compile(rf"^(\d{{12}}):function:([a-zA-Z0-9-_]+)(?::{_QUALIFIER})?$")
_SHORT = re.compile(rf"^([a-zA-Z0-9-_]+)(?::{_QUALIFIER})?$")
_VERSION = re.compile(r"^[0-9]+$")
ALIAS_NAME = re.compile(r"^(?!^[0-9]+$)([a-zA-Z0-9-_]+)$")
LAYER_NAME = re.compile(r"^[a-zA-Z0-9-_]+$")
_LAYER_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:lambda:([a-z0-9-]+):(\d{12}):layer:([a-zA-Z0-9-_]+)(?::([0-9]+))?$")
MAX_NAME = 64


@dataclass(frozen=True)
class FunctionRef:
    """Which function (and maybe which version or alias) a request names."""

    account: str
    region: str
    name: str
    qualifier: str | None = None

    @property
    def arn(self) -> str:
        return function_arn(self.region, self.account, self.name, self.qualifier)

    @property
    def unqualified_arn(self) -> str:
        return function_arn(self.region, self.account, self.name)


def function_arn(region: str, account: str, name: str, qualifier: str | None = None) -> str:
    base = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


def layer_arn(region: str, account: str, name: str, version: int | None = None) -> str:
    base = f"arn:aws:lambda:{region}:{account}:layer:{name}"
    return f"{base}:{version}" if version is not None else base


def is_version(qualifier: str | None) -> bool:
    return qualifier == LATEST or bool(qualifier and _VERSION.match(qualifier))


def parse(text: str, account: str, region: str, qualifier: str | None = None) -> FunctionRef:
    """The function a FunctionName (plus optional Qualifier parameter) names."""
    found = _FULL.match(text)
    if found:
        ref_region, ref_account, name, named_qualifier = found.groups()
    elif (found := _PARTIAL.match(text)) is not None:
        ref_account, name, named_qualifier = found.groups()
        ref_region = region
    elif (found := _SHORT.match(text)) is not None:
        name, named_qualifier = found.groups()
        ref_account, ref_region = account, region
    else:
        raise errors.error("ValidationException", f"1 validation error detected: Value '{text}' at 'functionName' "
                           "failed to satisfy constraint: Member must satisfy regular expression pattern: "
                           "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?"
                           "(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?")
    if len(name) > MAX_NAME:
        raise errors.error("ValidationException", f"1 validation error detected: Value '{name}' at 'functionName' "
                           f"failed to satisfy constraint: Member must have length less than or equal to {MAX_NAME}")
    if qualifier is not None and named_qualifier is not None and qualifier != named_qualifier:
        raise errors.invalid_parameter("The derived qualifier from the function name does not match the specified "
                                       "qualifier.")
    if ref_region != region:
        # Functions live in the region the request is signed for.
        raise errors.invalid_parameter(f"Region {ref_region} in the function ARN does not match the request's region "
                                       f"{region}")
    return FunctionRef(ref_account, ref_region, name, qualifier if qualifier is not None else named_qualifier)


def parse_layer_version_arn(text: str) -> tuple[str, str, str, int] | None:
    """(region, account, name, version) of a layer version ARN, or None."""
    found = _LAYER_ARN.match(text)
    if found is None or found.group(4) is None:
        return None
    region, account, name, version = found.groups()
    return region, account, name, int(version)
