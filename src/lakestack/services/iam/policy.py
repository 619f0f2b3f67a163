"""The IAM policy language: parse and validate a policy document, and evaluate requests.

Pure functions, no storage. The authorizer, STS and (later) resource owners such as S3
build `Request`s and call `evaluate` / `decide`.

How a decision is reached (reference_policies_evaluation-logic.html):
1. an explicit Deny in any applicable policy wins;
2. otherwise the identity-based policies must Allow;
3. and every limiting layer present — session policies today; permissions boundaries and
   SCP-like layers slot in the same way — must Allow too;
4. anything else is an implicit deny.
Resource-based policies (bucket policies, role trust policies) are evaluated with
`evaluate` and a `Caller`, because their statements name principals; how their Allow
combines with identity policies depends on the resource owner (see `services/sts`).
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lakestack.services.iam.conditions import Condition, compile_condition, is_known_operator, parse_date
from lakestack.services.iam.matching import Template, glob, template

ALLOW = "Allow"
DENY = "Deny"
IMPLICIT_DENY = "ImplicitDeny"

VERSIONS = ("2012-10-17", "2008-10-17")
CURRENT_VERSION = "2012-10-17"

# Which kind of policy a document is decides which elements it may hold.
IDENTITY = "identity"  # managed, inline and session policies: no Principal
TRUST = "trust"  # a role's trust policy: Principal, no Resource, STS actions only
RESOURCE = "resource"  # bucket policies and the like: Principal and Resource

_TOP_ELEMENTS = {"Version", "Id", "Statement"}
_STATEMENT_ELEMENTS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
_PRINCIPAL_ELEMENTS = {"Principal", "NotPrincipal"}
_PRINCIPAL_TYPES = {"AWS", "Service", "Federated", "CanonicalUser"}
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_AWS_PRINCIPAL_ARN = re.compile(
    r"^arn:aws[a-z-]*:(iam::(\d{12}|aws):(root|user/.+|role/.+|federated-user/.+)"
    r"|sts::\d{12}:(assumed-role/.+/.+|federated-user/.+))$"
)
_VENDOR = re.compile(r"^[a-zA-Z0-9\-.]+$")
_SID = re.compile(r"^[0-9A-Za-z]*$")
_PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
# What a role trust policy may grant: the ways to assume a role, and what may ride along.
TRUST_ACTIONS = (
    "sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity",
    "sts:tagsession", "sts:setsourceidentity", "sts:setcontext",
)


class MalformedPolicy(ValueError):
    """A policy document IAM would refuse; the message is the one AWS gives."""

    @property
    def message(self) -> str:
        return str(self.args[0])


# --- who is asking (for policies whose statements name principals) ----------------------


@dataclass(frozen=True)
class Caller:
    """The principal a resource-based or trust policy is matched against.

    `arns` are the identities the caller is, most specific first (an assumed-role
    session is both its session ARN and its role's ARN); `service` is set instead for a
    service principal such as "lambda.amazonaws.com". With match_account=False a
    statement naming the caller's whole account ("AWS": "<account id>") does not match;
    STS uses that to tell a grant to the caller itself from a delegation to its account.
    """

    account: str = ""
    arns: tuple[str, ...] = ()
    service: str = ""
    match_account: bool = True
    # S3 names an account also by its canonical user ID ("CanonicalUser" principals).
    canonical_id: str = ""


# An anonymous (unsigned) request: only "Principal": "*" (or {"AWS": "*"}) matches it.
ANONYMOUS = Caller()


@dataclass(frozen=True)
class PrincipalSpec:
    everyone: bool = False
    aws: frozenset[str] = frozenset()
    service: frozenset[str] = frozenset()
    federated: frozenset[str] = frozenset()
    canonical: frozenset[str] = frozenset()

    def matches(self, caller: Caller) -> bool:
        if self.everyone:
            return True
        if caller.service:
            return caller.service.lower() in self.service
        # {"AWS": "*"} is everyone too, anonymous callers included:
        # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-anonymous
        if "*" in self.aws:
            return True
        if not caller.arns:
            return False
        if any(arn in self.aws for arn in caller.arns):
            return True
        if not caller.match_account:
            return False
        return (f"arn:aws:iam::{caller.account}:root" in self.aws
                or bool(caller.canonical_id and caller.canonical_id in self.canonical))


def _principal(value: Any) -> PrincipalSpec:
    if value == "*":
        return PrincipalSpec(everyone=True)
    if not isinstance(value, dict) or not value:
        raise MalformedPolicy("Syntax errors in policy.")
    aws: set[str] = set()
    service: set[str] = set()
    federated: set[str] = set()
    canonical: set[str] = set()
    for kind, entries in value.items():
        if kind not in _PRINCIPAL_TYPES:
            raise MalformedPolicy("Syntax errors in policy.")
        for entry in _strings(entries, "Syntax errors in policy."):
            if kind == "AWS":
                aws.add(_aws_principal(entry))
            elif kind == "Service":
                if not entry or any(c.isspace() for c in entry):
                    raise MalformedPolicy(f'Invalid principal in policy: "SERVICE":"{entry}"')
                service.add(entry.lower())
            elif kind == "CanonicalUser":
                canonical.add(entry.lower())
            else:
                federated.add(entry)
    return PrincipalSpec(aws=frozenset(aws), service=frozenset(service), federated=frozenset(federated),
                         canonical=frozenset(canonical))


def is_aws_principal(entry: str) -> bool:
    """Whether an "AWS" principal entry is one IAM accepts: "*", an account ID, or the ARN of
    an account root, user, role or session."""
    try:
        _aws_principal(entry)
    except MalformedPolicy:
        return False
    return True


def _aws_principal(entry: str) -> str:
    if entry == "*" or _AWS_PRINCIPAL_ARN.match(entry):
        return entry
    if _ACCOUNT_ID.match(entry):
        # An account ID stands for the account's root ARN: the whole account.
        return f"arn:aws:iam::{entry}:root"
    raise MalformedPolicy(f'Invalid principal in policy: "AWS":"{entry}"')


# --- the request --------------------------------------------------------------------------


class Request:
    """What is being asked: action, resource ARN, condition context (and caller, if the
    policies name principals). Context keys are case-insensitive, so they are lower-cased
    once here; values may be strings, numbers, booleans, datetimes or lists of them."""

    __slots__ = ("action", "resource", "context", "caller")

    def __init__(self, action: str, resource: str = "*", context: Mapping[str, Any] | None = None,
                 caller: Caller | None = None, *, lowered: bool = False):
        """lowered=True: the context's keys are lower-case already (it is used as given)."""
        self.action = action.lower()
        self.resource = resource
        if lowered and context is not None:
            self.context = context
        else:
            self.context = {k.lower(): v for k, v in (context or {}).items()} if context else {}
        self.caller = caller


# --- compiled policies -------------------------------------------------------------------


class _Actions:
    """Action patterns, case-insensitive: exact names in a set, wildcards as regexes."""

    __slots__ = ("exact", "patterns", "everything")

    def __init__(self, names: Iterable[str]):
        self.exact: set[str] = set()
        self.patterns: list[re.Pattern] = []
        self.everything = False
        for name in names:
            low = name.lower()
            if low == "*":
                self.everything = True
            elif "*" in low or "?" in low:
                self.patterns.append(glob(low))
            else:
                self.exact.add(low)

    def match(self, action: str) -> bool:
        return (self.everything or action in self.exact
                or any(p.fullmatch(action) for p in self.patterns))


@dataclass(frozen=True)
class Statement:
    effect: str
    sid: str = ""
    actions: _Actions | None = None
    not_actions: _Actions | None = None
    resources: tuple[Template, ...] | None = None
    not_resources: tuple[Template, ...] | None = None
    principal: PrincipalSpec | None = None
    not_principal: PrincipalSpec | None = None
    conditions: tuple[Condition, ...] = ()

    @property
    def uses_context(self) -> bool:
        return bool(self.conditions) or any(
            not t.static for t in (*(self.resources or ()), *(self.not_resources or ())))

    def applies(self, request: Request) -> bool:
        if self.actions is not None and not self.actions.match(request.action):
            return False
        if self.not_actions is not None and self.not_actions.match(request.action):
            return False
        if self.resources is not None and not _any_resource(self.resources, request):
            return False
        if self.not_resources is not None and _any_resource(self.not_resources, request):
            return False
        if self.principal is not None:
            if request.caller is None or not self.principal.matches(request.caller):
                return False
        if self.not_principal is not None:
            if request.caller is None or self.not_principal.matches(request.caller):
                return False
        return all(c.holds(request.context) for c in self.conditions)


def _any_resource(patterns: tuple[Template, ...], request: Request) -> bool:
    for pattern in patterns:
        if pattern.source == "*":
            return True
        matcher = pattern.arn_matcher if pattern.static else pattern.matcher(request.context, arn=True)
        if matcher is not None and matcher.fullmatch(request.resource):
            return True
    return False


@dataclass(frozen=True)
class Policy:
    statements: tuple[Statement, ...]
    version: str = "2008-10-17"
    id: str = ""
    document: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def uses_context(self) -> bool:
        """Whether a decision can depend on the request context (a Condition, or a policy
        variable in a resource); if not, action and resource alone decide."""
        return any(s.uses_context for s in self.statements)


# --- evaluation --------------------------------------------------------------------------


def evaluate(policies: Iterable[Policy], request: Request) -> str:
    """ALLOW, DENY or IMPLICIT_DENY for one set of policies: a Deny anywhere wins."""
    allowed = False
    for policy in policies:
        for statement in policy.statements:
            if statement.applies(request):
                if statement.effect == DENY:
                    return DENY
                allowed = True
    return ALLOW if allowed else IMPLICIT_DENY


def decide(request: Request, identity: Sequence[Policy], limits: Sequence[Sequence[Policy]] = ()) -> str:
    """The decision for identity-based policies capped by limiting layers.

    Each entry of `limits` is one layer (the session policies of an assumed role; later a
    permissions boundary or an organization's SCPs): it can only take permissions away,
    so the request must be allowed by the identity policies and by every layer.
    """
    results = [evaluate(identity, request)] + [evaluate(layer, request) for layer in limits]
    if DENY in results:
        return DENY
    return ALLOW if all(r == ALLOW for r in results) else IMPLICIT_DENY


# --- parsing and validation --------------------------------------------------------------


def load_document(document: str | bytes | dict) -> dict:
    """The JSON object of a policy document, or MalformedPolicy."""
    if isinstance(document, dict):
        return document
    try:
        parsed = json.loads(document)
    except (ValueError, TypeError):
        raise MalformedPolicy("This policy contains invalid Json") from None
    if not isinstance(parsed, dict):
        raise MalformedPolicy("Syntax errors in policy.")
    return parsed


def parse_policy(document: str | bytes | dict, kind: str = IDENTITY, require_version: bool = False) -> Policy:
    """Validate a policy document as IAM does and compile it for evaluation.

    require_version: managed policies must say Version 2012-10-17 (inline and trust
    policies may omit it, and then get 2008-10-17, which has no policy variables).
    """
    doc = load_document(document)
    statements = _check_syntax(doc, kind)
    version = doc.get("Version", "2008-10-17")
    if require_version and version != CURRENT_VERSION:
        raise MalformedPolicy("Policy document must be version 2012-10-17 or greater.")
    _check_legacy(statements)
    sids = [s["Sid"] for s in statements if s.get("Sid")]
    if len(sids) != len(set(sids)):
        raise MalformedPolicy("Statement IDs (SID) in a single policy must be unique.")
    if kind == IDENTITY and any(not _SID.match(sid) for sid in sids):
        raise MalformedPolicy("Statement IDs (SID) must be alpha-numeric. Check that your input satisfies "
                              "the regular expression [0-9A-Za-z]*")
    for s in statements:
        if not _present(s, "Action") and not _present(s, "NotAction"):
            raise MalformedPolicy("Policy statement must contain actions.")
    if kind in (IDENTITY, RESOURCE):
        for s in statements:
            if not _present(s, "Resource") and not _present(s, "NotResource"):
                raise MalformedPolicy("Policy statement must contain resources.")
    for s in statements:
        for key in ("Resource", "NotResource"):
            for resource in _strings(s.get(key, []), ""):
                _check_resource(resource)
        for key in ("Action", "NotAction"):
            for action in _strings(s.get(key, []), ""):
                _check_action(action)
    if kind == TRUST:
        _check_trust(statements)
    variables = version == CURRENT_VERSION
    compiled = tuple(_compile_statement(s, variables) for s in statements)
    return Policy(compiled, version, str(doc.get("Id", "")), doc)


def _present(statement: dict, key: str) -> bool:
    return key in statement and statement[key] != []


def _strings(value: Any, message: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise MalformedPolicy(message or "Syntax errors in policy.")


def _check_syntax(doc: dict, kind: str) -> list[dict]:
    syntax = "Syntax errors in policy."
    if any(key not in _TOP_ELEMENTS for key in doc):
        raise MalformedPolicy(syntax)
    if "Version" in doc and doc["Version"] not in VERSIONS:
        raise MalformedPolicy(syntax)
    if "Id" in doc and not isinstance(doc["Id"], str):
        raise MalformedPolicy(syntax)
    raw = doc.get("Statement")
    if isinstance(raw, dict):
        statements = [raw]
    elif isinstance(raw, list) and raw:
        statements = raw
    else:
        raise MalformedPolicy(syntax)
    allowed = _STATEMENT_ELEMENTS | (_PRINCIPAL_ELEMENTS if kind != IDENTITY else set())
    for s in statements:
        if not isinstance(s, dict):
            raise MalformedPolicy(syntax)
        if kind == IDENTITY and any(key in s for key in _PRINCIPAL_ELEMENTS):
            raise MalformedPolicy("Policy document should not specify a principal.")
        if kind == TRUST and any(key in s for key in ("Resource", "NotResource")):
            name = "Resource" if "Resource" in s else "NotResource"
            raise MalformedPolicy(f"Has prohibited field {name}")
        if any(key not in allowed for key in s):
            raise MalformedPolicy(syntax)
        for a, b in (("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal")):
            if a in s and b in s:
                raise MalformedPolicy(syntax)
        effect = s.get("Effect")
        if effect is None:
            raise MalformedPolicy("Missing required field Effect")
        if not isinstance(effect, str) or effect.lower() not in ("allow", "deny"):
            raise MalformedPolicy(syntax)
        for key in ("Action", "NotAction", "Resource", "NotResource"):
            if key in s:
                _strings(s[key], syntax)
        if "Sid" in s and not isinstance(s["Sid"], str):
            raise MalformedPolicy(syntax)
        if "Condition" in s:
            _check_condition_syntax(s["Condition"])
        if kind != IDENTITY and not any(key in s for key in _PRINCIPAL_ELEMENTS):
            raise MalformedPolicy("Missing required field Principal")
        for key in _PRINCIPAL_ELEMENTS:
            if key in s:
                _principal(s[key])
    return statements


def _check_condition_syntax(block: Any) -> None:
    syntax = "Syntax errors in policy."
    if not isinstance(block, dict):
        raise MalformedPolicy(syntax)
    for operator, tests in block.items():
        if not isinstance(tests, dict):
            raise MalformedPolicy(syntax)
        if not is_known_operator(operator):
            raise MalformedPolicy(syntax)
        for key, values in tests.items():
            items = values if isinstance(values, list) else [values]
            if not all(isinstance(v, str | bool | int | float) for v in items):
                raise MalformedPolicy(syntax)
            if ":" not in key:
                raise MalformedPolicy("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")


def _check_legacy(statements: list[dict]) -> None:
    # IAM still runs its original parser, which is case-sensitive about Effect and strict
    # about dates; its failures all read the same.
    legacy = "The policy failed legacy parsing"
    for s in statements:
        if s["Effect"] not in (ALLOW, DENY):
            raise MalformedPolicy(legacy)
        for operator, tests in s.get("Condition", {}).items():
            if "Date" not in operator:
                continue
            for values in tests.values():
                for value in values if isinstance(values, list) else [values]:
                    if parse_date(value) is None:
                        raise MalformedPolicy(legacy)


def _check_resource(resource: str) -> None:
    if resource == "*" or resource.startswith("${"):
        return
    parts = resource.split(":")
    if len(parts) < 2 or parts[0] != "arn":
        raise MalformedPolicy(f'Resource {resource} must be in ARN format or "*".')
    if parts[1] not in _PARTITIONS and "*" not in parts[1] and "${" not in parts[1]:
        raise MalformedPolicy(f'Partition "{parts[1]}" is not valid for resource "{resource}".')
    if len(parts) < 3 or not parts[2]:
        raise MalformedPolicy("Resource vendor must be fully qualified and cannot contain regexes.")


def _check_action(action: str) -> None:
    if action == "*":
        return
    parts = action.split(":")
    if len(parts) == 1:
        raise MalformedPolicy("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
    if len(parts) > 2:
        raise MalformedPolicy("Actions/Condition can contain only one colon.")
    if parts[0] != "*" and not _VENDOR.match(parts[0]):
        raise MalformedPolicy(f"Vendor {parts[0]} is not valid")


def _check_trust(statements: list[dict]) -> None:
    for s in statements:
        for action in _strings(s.get("Action", s.get("NotAction", [])), ""):
            low = action.lower()
            if low != "*" and not any(glob(low).fullmatch(a) for a in TRUST_ACTIONS):
                raise MalformedPolicy("AssumeRole policy may only specify STS AssumeRole actions.")


def _compile_statement(s: dict, variables: bool) -> Statement:
    def patterns(key: str) -> tuple[Template, ...] | None:
        if key not in s:
            return None
        return tuple(template(r, variables) for r in _strings(s[key], ""))

    def actions(key: str) -> _Actions | None:
        return _Actions(_strings(s[key], "")) if key in s else None

    conditions = tuple(
        compile_condition(operator, key, values, variables)
        for operator, tests in s.get("Condition", {}).items()
        for key, values in tests.items()
    )
    return Statement(
        effect=s["Effect"],
        sid=s.get("Sid", ""),
        actions=actions("Action"),
        not_actions=actions("NotAction"),
        resources=patterns("Resource"),
        not_resources=patterns("NotResource"),
        principal=_principal(s["Principal"]) if "Principal" in s else None,
        not_principal=_principal(s["NotPrincipal"]) if "NotPrincipal" in s else None,
        conditions=conditions,
    )
