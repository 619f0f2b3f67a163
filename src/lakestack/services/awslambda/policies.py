"""Resource-based policies on functions and layer versions (AddPermission & co.), and the
check a service such as S3 must pass before it may invoke a function.

Statements are written as Lambda writes them, so GetPolicy answers what AWS would:
https://docs.aws.amazon.com/lambda/latest/dg/access-control-resource-based.html
They are evaluated with lakestack's IAM policy engine, with the service as the caller and
aws:SourceArn / aws:SourceAccount in the request context.
"""

from __future__ import annotations

import json
import re

from lakestack.services.awslambda import errors
from lakestack.services.iam.policy import (
    ALLOW,
    RESOURCE,
    Caller,
    MalformedPolicy,
    Request,
    evaluate,
    parse_policy,
)

MAX_POLICY_BYTES = 20480
_ACCOUNT = re.compile(r"^\d{12}$")


def principal_element(principal: str):
    """How Lambda writes the Principal of AddPermission into the statement."""
    if principal == "*":
        return "*"
    if _ACCOUNT.match(principal):
        return {"AWS": f"arn:aws:iam::{principal}:root"}
    if principal.startswith("arn:"):
        return {"AWS": principal}
    return {"Service": principal}


def statement(params: dict, resource: str) -> dict:
    """The statement AddPermission adds."""
    conditions: dict[str, dict[str, str]] = {}
    if params.get("SourceAccount"):
        conditions.setdefault("StringEquals", {})["AWS:SourceAccount"] = params["SourceAccount"]
    if params.get("PrincipalOrgID"):
        conditions.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = params["PrincipalOrgID"]
    if params.get("EventSourceToken"):
        conditions.setdefault("StringEquals", {})["lambda:EventSourceToken"] = params["EventSourceToken"]
    if params.get("FunctionUrlAuthType"):
        conditions.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = params["FunctionUrlAuthType"]
    if params.get("SourceArn"):
        conditions.setdefault("ArnLike", {})["AWS:SourceArn"] = params["SourceArn"]
    out = {
        "Sid": params["StatementId"],
        "Effect": "Allow",
        "Principal": principal_element(params["Principal"]),
        "Action": params["Action"],
        "Resource": resource,
    }
    if conditions:
        out["Condition"] = conditions
    return out


def add(policy: dict | None, new: dict) -> dict:
    """The policy with `new` added; ResourceConflictException for a statement ID in use."""
    document = json.loads(json.dumps(policy)) if policy else {"Version": "2012-10-17", "Id": "default",
                                                              "Statement": []}
    if any(s.get("Sid") == new["Sid"] for s in document["Statement"]):
        raise errors.conflict(f"The statement id ({new['Sid']}) provided already exists. Please provide a new "
                              "statement id, or remove the existing statement.")
    document["Statement"].append(new)
    try:
        parse_policy(document, RESOURCE)
    except MalformedPolicy as exc:
        raise errors.invalid_parameter(f"The provided policy is not valid: {exc.message}") from None
    size = len(json.dumps(document, separators=(",", ":")))
    if size > MAX_POLICY_BYTES:
        raise errors.error("PolicyLengthExceededException",
                           f"The final policy size ({size}) is bigger than the limit ({MAX_POLICY_BYTES}).")
    return document


def remove(policy: dict | None, sid: str) -> dict | None:
    """The policy without statement `sid` (None once empty); ResourceNotFoundException if
    there is no such statement."""
    statements = (policy or {}).get("Statement") or []
    kept = [s for s in statements if s.get("Sid") != sid]
    if len(kept) == len(statements):
        raise errors.not_found(f"Statement {sid} is not found in resource policy.")
    if not kept:
        return None
    return {**policy, "Statement": kept}


def allows_service(policy: dict | None, service: str, action: str, resource: str, source_arn: str | None,
                   source_account: str | None) -> bool:
    """Does the policy let `service` (e.g. "s3.amazonaws.com") do `action` on `resource`
    on behalf of `source_arn` in `source_account`?"""
    if not policy:
        return False
    try:
        compiled = parse_policy(policy, RESOURCE)
    except MalformedPolicy:
        return False
    context = {}
    if source_arn:
        context["aws:SourceArn"] = source_arn
    if source_account:
        context["aws:SourceAccount"] = source_account
    return evaluate([compiled], Request(action, resource, context, Caller(service=service))) == ALLOW


def allows_account(policy: dict | None, account: str, action: str, resource: str) -> bool:
    """Does the policy grant `action` to (any principal in) `account` — for layers shared
    with other accounts."""
    if not policy:
        return False
    try:
        compiled = parse_policy(policy, RESOURCE)
    except MalformedPolicy:
        return False
    caller = Caller(account=account, arns=(f"arn:aws:iam::{account}:root",))
    return evaluate([compiled], Request(action, resource, {}, caller)) == ALLOW
