"""What every service provider is: a class whose methods are named after operations.

A provider method takes `(ctx, params)` — `params` is the operation's input as a dict keyed
by botocore member names, already parsed and validated — and returns the output dict.
It raises `AwsError` for anything the client should see.

Each provider declares the IAM action and resource ARN of its operations in `ACTIONS`;
the gateway asks the IAM evaluator before calling the method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from botocore import xform_name

if TYPE_CHECKING:
    from lakestack.aws.context import RequestContext
    from lakestack.stack import Stack


@dataclass(frozen=True)
class Action:
    """An IAM action and the resource ARN template it applies to.

    The template is formatted with the request's params plus `region`, `account`
    (e.g. "arn:aws:s3:::{Bucket}/{Key}"); a missing param leaves the resource "*".
    """

    name: str
    resource: str = "*"


class _Params(dict):
    def __missing__(self, key):
        raise KeyError(key)


class Provider:
    service: ClassVar[str]  # botocore service name, e.g. "s3"
    iam_prefix: ClassVar[str] = ""  # e.g. "s3"; defaults to the service name
    ACTIONS: ClassVar[dict[str, Action]] = {}

    def __init__(self, stack: Stack):
        self.stack = stack

    def start(self) -> None:
        """Called once the whole stack is built (background work may begin here)."""

    def stop(self) -> None:
        """Called on shutdown."""

    @classmethod
    def method_name(cls, operation: str) -> str:
        return xform_name(operation)

    @classmethod
    def implements(cls, operation: str) -> bool:
        return callable(getattr(cls, xform_name(operation), None))

    # True when resource_decision may change a decision (resources with their own policies or
    # ACLs): then it is asked for every check, the root's and anonymous callers' too.
    has_resource_policies: ClassVar[bool] = False

    def resource_decision(self, ctx: RequestContext, action: str, resource: str, identity: str,
                          context: dict) -> str:
        """The final decision for one (action, resource) check, given the identity-based one
        ("Allow", "Deny" or "ImplicitDeny"; "ImplicitDeny" for an anonymous caller, "Allow" for
        the root): where a resource-based policy or ACL may allow or deny on its own
        (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
        `context` holds the global condition keys."""
        return identity

    def runs_inline(self, ctx: RequestContext, params: dict) -> bool:
        """True when this call may run on the event loop thread itself rather than a worker:
        only calls that finish in well under a millisecond and never wait on the network.
        Handing such a call to a worker costs more in GIL hand-offs than the call does."""
        return False

    def authorization(self, ctx: RequestContext, params: dict) -> list[tuple[str, str]]:
        """(IAM action, resource ARN) pairs the caller must be allowed for this call."""
        spec = self.ACTIONS.get(ctx.operation)
        if spec is None:
            spec = Action(f"{self.iam_prefix or self.service}:{ctx.operation}")
        values = _Params({k: v for k, v in params.items() if isinstance(v, str)})
        values.update(region=ctx.region, account=ctx.account_id)
        try:
            resource = spec.resource.format_map(values)
        except KeyError:
            resource = "*"
        return [(spec.name, resource)]
