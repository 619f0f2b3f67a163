"""May this principal do this? Asked by the gateway before every operation.

The policies that apply to a principal are gathered and compiled once and cached until
IAM changes (see caching.py), so a request costs a dictionary lookup and the statement
matching itself.

- root: everything (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user.html);
- an IAM user: its inline and attached policies and those of its groups;
- an assumed role: the role's inline and attached policies, capped by the session
  policies passed to AssumeRole, if any;
- credentials from GetSessionToken act as their user (or root) but cannot call IAM, nor
  STS beyond AssumeRole and GetCallerIdentity (no MFA here, so never):
  https://docs.aws.amazon.com/STS/latest/APIReference/API_GetSessionToken.html
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lakestack.services.iam.caching import GenerationCache
from lakestack.services.iam.policy import (
    ALLOW,
    DENY,
    IMPLICIT_DENY,
    MalformedPolicy,
    Policy,
    Request,
    decide,
    parse_policy,
)

if TYPE_CHECKING:
    from lakestack.aws.context import Principal
    from lakestack.services.iam.store import IamStore

log = logging.getLogger("lakestack.iam")

_STS_WITH_SESSION_TOKEN = {"sts:assumerole", "sts:getcalleridentity"}


@dataclass(frozen=True)
class Permissions:
    """Everything that decides a principal's requests, compiled."""

    identity: tuple[Policy, ...] = ()
    limits: tuple[tuple[Policy, ...], ...] = ()
    context: dict[str, Any] = field(default_factory=dict)  # the principal's condition keys
    unrestricted: bool = False  # root
    session_token_only: bool = False  # GetSessionToken credentials
    # Whether any policy has a Condition or a policy variable in a resource; if none does,
    # requests are decided without building their condition context.
    uses_context: bool = True


NO_PERMISSIONS = Permissions()


class Authorizer:
    def __init__(self, store: IamStore):
        self.store = store
        self._cache = GenerationCache(store)

    def is_allowed(self, principal: Principal, action: str, resource: str, context: dict | None = None) -> bool:
        return self.decide(principal, action, resource, context) == ALLOW

    def decide(self, principal: Principal, action: str, resource: str, context: dict | None = None) -> str:
        """ALLOW, DENY (an explicit Deny applies) or IMPLICIT_DENY."""
        context = context or {}
        self._note_use(principal, action, context)
        permissions = self.permissions(principal)
        if permissions.session_token_only and not _allowed_with_session_token(action):
            return IMPLICIT_DENY
        if permissions.unrestricted:
            return ALLOW
        if permissions.uses_context:
            request = Request(action, resource, self._request_context(permissions, context), lowered=True)
        else:
            request = Request(action, resource)
        return decide(request, permissions.identity, permissions.limits)

    def uses_context(self, principal: Principal) -> bool:
        """Whether this principal's requests need their condition context at all (a caller
        may skip building it when not: `decide` then reads only the requested region)."""
        permissions = self.permissions(principal)
        return permissions.uses_context and not permissions.unrestricted

    def request_context(self, principal: Principal, context: dict | None = None) -> dict[str, Any]:
        """The condition keys of a request by this principal (lower-cased), for other
        policy evaluations such as a role's trust policy."""
        return self._request_context(self.permissions(principal), context or {})

    def permissions(self, principal: Principal) -> Permissions:
        key = (principal.kind, principal.user_id, principal.account_id, principal.access_key_id,
               bool(principal.session_token))
        return self._cache.get_or_load(key, lambda: self._load(principal)) or NO_PERMISSIONS

    # --- gathering -----------------------------------------------------------------------

    def _load(self, principal: Principal) -> Permissions:
        try:
            return self._gather(principal)
        except MalformedPolicy as exc:
            # Stored documents were validated when written; if one cannot be read now,
            # skipping it could drop a Deny, so the principal gets nothing instead.
            log.error("cannot evaluate the policies of %s: %s", principal.arn, exc)
            return NO_PERMISSIONS

    def _gather(self, principal: Principal) -> Permissions:
        temporary = bool(principal.session_token)
        context: dict[str, Any] = {
            "aws:principalaccount": principal.account_id,
            "aws:userid": principal.user_id,
        }
        if temporary:
            context["aws:multifactorauthpresent"] = False
            session = self.store.sessions.get(principal.access_key_id) if principal.access_key_id else None
            if session is not None:
                context["aws:tokenissuetime"] = dt.datetime.fromtimestamp(session.created, dt.UTC)
        session_token_only = temporary and principal.kind in ("root", "user")
        if principal.kind == "root":
            context.update({"aws:principalarn": principal.arn, "aws:principaltype": "Account"})
            return Permissions(context=context, unrestricted=True, session_token_only=session_token_only)
        if principal.kind == "user":
            user = self.store.users.by_id(principal.user_id)
            if user is None or user.account_id != principal.account_id:
                return NO_PERMISSIONS
            documents = self._documents("user", user.user_id)
            for group in self.store.groups.for_user(user):
                documents += self._documents("group", group.group_id)
            context.update({"aws:principalarn": user.arn, "aws:principaltype": "User", "aws:username": user.name})
            _add_tags(context, user.tags)
            identity = _compile(documents)
            return Permissions(identity=identity, context=context, session_token_only=session_token_only,
                               uses_context=_uses_context(identity))
        if principal.kind == "assumed-role":
            role = self.store.roles.by_id(principal.user_id.split(":", 1)[0])
            if role is None or role.account_id != principal.account_id:
                return NO_PERMISSIONS  # the role was deleted: its sessions can do nothing
            limits = ()
            if principal.session_policies:
                limits = (_compile([("session policy", doc) for doc in principal.session_policies]),)
            context.update({"aws:principalarn": role.arn, "aws:principaltype": "AssumedRole"})
            _add_tags(context, role.tags)
            session = self.store.sessions.get(principal.access_key_id) if principal.access_key_id else None
            if session is not None:
                _add_tags(context, session.tags)  # session tags win over the role's
            identity = _compile(self._documents("role", role.role_id))
            return Permissions(identity=identity, limits=limits, context=context,
                               uses_context=_uses_context(identity, *limits))
        return NO_PERMISSIONS

    def _documents(self, entity_type: str, entity_id: str) -> list[tuple[str, str]]:
        return (self.store.inline.documents(entity_type, entity_id)
                + self.store.policies.attached_documents(entity_type, entity_id))

    # --- per request ---------------------------------------------------------------------

    @staticmethod
    def _request_context(permissions: Permissions, context: dict) -> dict[str, Any]:
        merged = {k.lower(): v for k, v in context.items()}
        merged.update(permissions.context)  # who the caller is is not the caller's to say
        if "aws:currenttime" not in merged:
            now = time.time()
            merged["aws:currenttime"] = dt.datetime.fromtimestamp(now, dt.UTC)
            merged["aws:epochtime"] = int(now)
        return merged

    def _note_use(self, principal: Principal, action: str, context: dict) -> None:
        key = principal.access_key_id
        if key and not principal.session_token and key.startswith("AKIA"):
            region = context.get("aws:RequestedRegion") or context.get("aws:requestedregion") or ""
            self.store.access_keys.note_use(key, action.partition(":")[0], region)


def _allowed_with_session_token(action: str) -> bool:
    low = action.lower()
    if low.startswith("iam:"):
        return False
    return not low.startswith("sts:") or low in _STS_WITH_SESSION_TOKEN


def _add_tags(context: dict, tags: list[dict]) -> None:
    for tag in tags:
        context[f"aws:principaltag/{tag['Key'].lower()}"] = tag.get("Value", "")


def _uses_context(*layers: tuple[Policy, ...]) -> bool:
    return any(policy.uses_context for layer in layers for policy in layer)


def _compile(documents: list[tuple[str, Any]]) -> tuple[Policy, ...]:
    return tuple(parse_policy(document) for _name, document in documents)


__all__ = ["ALLOW", "DENY", "IMPLICIT_DENY", "Authorizer", "Permissions"]
