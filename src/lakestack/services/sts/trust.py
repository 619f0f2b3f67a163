"""Who may assume a role: the role's trust policy together with the caller's own policies.

A trust policy is a resource-based policy on the role. For a caller in the role's account
it is enough that the trust policy names the caller itself (user, role or session ARN, or
"*"); if it only names the caller's account, the account delegates the decision to its
own IAM policies, which must then allow sts:AssumeRole on the role. A caller from another
account always needs both. An explicit Deny in either wins.
https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from lakestack.services.iam.policy import ALLOW, DENY, Caller, Policy, Request, evaluate

if TYPE_CHECKING:
    from lakestack.aws.context import Principal
    from lakestack.services.iam.authorizer import Authorizer
    from lakestack.services.iam.entities import Role


def caller_of(principal: Principal) -> Caller:
    """A role session is matched both as itself and as its role (role chaining)."""
    arns = [principal.arn]
    if principal.kind == "assumed-role" and principal.source_arn:
        arns.append(principal.source_arn)
    return Caller(account=principal.account_id, arns=tuple(arns))


def principal_may_assume(trust: Policy, role: Role, principal: Principal, action: str, context: dict[str, Any],
                         authorizer: Authorizer) -> bool:
    caller = caller_of(principal)
    trusted = evaluate([trust], Request(action, role.arn, context, caller))
    identity = authorizer.decide(principal, action, role.arn, context)
    if DENY in (trusted, identity) or trusted != ALLOW:
        return False
    if identity == ALLOW:
        return True
    if principal.account_id != role.account_id:
        return False
    named = dataclasses.replace(caller, match_account=False)
    return evaluate([trust], Request(action, role.arn, context, named)) == ALLOW


def service_may_assume(trust: Policy, role: Role, service_principal: str, context: dict[str, Any]) -> bool:
    request = Request("sts:AssumeRole", role.arn, context, Caller(service=service_principal))
    return evaluate([trust], request) == ALLOW
