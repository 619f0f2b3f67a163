"""What IAM must allow for each Lambda request: the action and the resource it is on, and
iam:PassRole when a request hands a role to Lambda.
https://docs.aws.amazon.com/service-authorization/latest/reference/list_awslambda.html
"""

from __future__ import annotations

from lakestack.aws.errors import AwsError
from lakestack.services.awslambda.names import layer_arn, parse

# IAM action names that differ from the operation's name.
_ACTION_NAMES = {"Invoke": "InvokeFunction", "GetLayerVersionByArn": "GetLayerVersion"}
_NO_FUNCTION_RESOURCE = {"CreateEventSourceMapping", "ListEventSourceMappings", "ListFunctions", "ListLayers",
                         "GetAccountSettings"}


def checks(ctx, params: dict, mapping_arn) -> list[tuple[str, str]]:
    """(action, resource) pairs the caller must be allowed; `mapping_arn(region, account,
    uuid)` names an event source mapping."""
    op = ctx.operation
    action = f"lambda:{_ACTION_NAMES.get(op, op)}"
    resource = "*"
    try:
        if op not in _NO_FUNCTION_RESOURCE and params.get("FunctionName"):
            resource = parse(params["FunctionName"], ctx.account_id, ctx.region, params.get("Qualifier")).arn
        elif params.get("LayerName"):
            name = params["LayerName"].rsplit(":", 1)[-1] if params["LayerName"].startswith("arn:") else \
                params["LayerName"]
            resource = layer_arn(ctx.region, ctx.account_id, name, params.get("VersionNumber"))
        elif op == "GetLayerVersionByArn":
            resource = params["Arn"]
        elif params.get("UUID"):
            resource = mapping_arn(ctx.region, ctx.account_id, params["UUID"])
        elif params.get("Resource"):
            resource = params["Resource"]
    except AwsError:
        resource = "*"  # a malformed name: the operation answers the error
    out = [(action, resource)]
    if op in ("CreateFunction", "UpdateFunctionConfiguration") and params.get("Role"):
        # Handing a role to Lambda needs iam:PassRole on it, as on AWS.
        out.append(("iam:PassRole", params["Role"]))
    return out
