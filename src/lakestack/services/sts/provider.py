"""STS: who am I, and temporary credentials (AssumeRole, GetSessionToken).

STS and IAM are one identity system here: sessions are stored in the IAM store and found
by IAM's credential resolver like any other key. Other services obtain credentials for
their execution roles through `assume_role_for_service`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from lakestack.aws.context import Credential, Principal, RequestContext
from lakestack.aws.errors import AwsError
from lakestack.services.base import Action, Provider
from lakestack.services.iam.errors import access_denied, malformed_policy, validation_error
from lakestack.services.iam.policy import IDENTITY, TRUST, MalformedPolicy, load_document, parse_policy
from lakestack.services.iam.sessions import ASSUMED_ROLE, SESSION_TOKEN
from lakestack.services.sts.trust import principal_may_assume, service_may_assume

if TYPE_CHECKING:
    from lakestack.services.iam.entities import Role
    from lakestack.services.iam.provider import IamProvider

DEFAULT_ROLE_SESSION = 3600
MIN_SESSION = 900
CHAINED_MAX = 3600  # role chaining is capped at one hour
USER_SESSION_TOKEN = (43200, 129600)  # (default, max) for GetSessionToken by an IAM user
ROOT_SESSION_TOKEN = (3600, 3600)
SESSION_POLICY_SIZE = 2048
_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")

# Operations nobody needs permission for: GetCallerIdentity answers even when denied,
# GetSessionToken only re-issues the caller's own identity, and AssumeRole is decided
# here from the trust policy together with the caller's policies.
_UNCHECKED = {"GetCallerIdentity", "GetSessionToken", "AssumeRole"}


class StsProvider(Provider):
    service = "sts"
    ACTIONS = {
        "AssumeRole": Action("sts:AssumeRole", "{RoleArn}"),
        "GetAccessKeyInfo": Action("sts:GetAccessKeyInfo"),
    }

    @property
    def iam(self) -> IamProvider:
        return self.stack.provider("iam")

    def runs_inline(self, ctx: RequestContext, params: dict) -> bool:
        # The answer is the already-authenticated caller: no storage, a few microseconds.
        # A worker thread would cost ~0.1 ms of GIL hand-offs (docs/performance.md).
        return ctx.operation == "GetCallerIdentity"

    def authorization(self, ctx: RequestContext, params: dict) -> list[tuple[str, str]]:
        if ctx.operation in _UNCHECKED:
            return []
        return super().authorization(ctx, params)

    # --- operations ----------------------------------------------------------------------------

    def get_caller_identity(self, ctx: RequestContext, params: dict) -> dict:
        principal = _require_caller(ctx)
        return {"UserId": principal.user_id, "Account": principal.account_id, "Arn": principal.arn}

    def get_access_key_info(self, ctx: RequestContext, params: dict) -> dict:
        credential = self.iam.credentials.lookup(params["AccessKeyId"])
        if credential is None:
            raise AwsError("InvalidParameterValue", "The access key ID is not valid.", 400)
        return {"Account": credential.principal.account_id}

    def assume_role(self, ctx: RequestContext, params: dict) -> dict:
        principal = _require_caller(ctx)
        role_arn, session_name = params["RoleArn"], params["RoleSessionName"]
        _check_session_name(session_name)
        denied = access_denied(f"User: {principal.arn} is not authorized to perform: sts:AssumeRole on resource: "
                               f"{role_arn}")
        if principal.is_root:
            # https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_switch-role-api.html
            raise access_denied("Roles may not be assumed by root accounts.")
        role = self.iam.store.roles.by_arn(role_arn)
        if role is None:
            raise denied
        duration = params.get("DurationSeconds") or DEFAULT_ROLE_SESSION
        _check_duration(duration, role, chained=principal.kind == "assumed-role")
        tags = params.get("Tags") or []
        context = self.iam.authorizer.request_context(principal, _assume_context(ctx, params, tags))
        trust = parse_policy(role.trust_policy, TRUST)
        authorizer = self.iam.authorizer
        actions = ["sts:AssumeRole"] + (["sts:TagSession"] if tags else [])
        for action in actions:
            if not principal_may_assume(trust, role, principal, action, context, authorizer):
                raise denied if action == "sts:AssumeRole" else access_denied(
                    f"User: {principal.arn} is not authorized to perform: {action} on resource: {role_arn}")
        session_policies, packed = self._session_policies(role, params)
        credential = self._issue_role_session(role, session_name, duration, session_policies, tags, ctx.region)
        out: dict[str, Any] = {
            "Credentials": _credentials(credential),
            "AssumedRoleUser": {"AssumedRoleId": credential.principal.user_id, "Arn": credential.principal.arn},
        }
        if packed is not None:
            out["PackedPolicySize"] = packed
        if params.get("SourceIdentity"):
            out["SourceIdentity"] = params["SourceIdentity"]
        return out

    def get_session_token(self, ctx: RequestContext, params: dict) -> dict:
        principal = _require_caller(ctx)
        if principal.session_token or principal.kind not in ("user", "root"):
            raise access_denied("Cannot call GetSessionToken with session credentials")
        default, maximum = ROOT_SESSION_TOKEN if principal.is_root else USER_SESSION_TOKEN
        duration = params.get("DurationSeconds") or default
        if duration < MIN_SESSION:
            raise validation_error(f"1 validation error detected: Value '{duration}' at 'durationSeconds' failed to "
                                   f"satisfy constraint: Member must have value greater than or equal to {MIN_SESSION}")
        if duration > maximum and not principal.is_root:
            raise validation_error(f"1 validation error detected: Value '{duration}' at 'durationSeconds' failed to "
                                   f"satisfy constraint: Member must have value less than or equal to {maximum}")
        session = self.iam.store.sessions.create(
            account_id=principal.account_id, kind=SESSION_TOKEN,
            subject_id=None if principal.is_root else principal.user_id, arn=principal.arn,
            principal_id=principal.user_id, source_arn=principal.arn, duration=min(duration, maximum))
        return {"Credentials": _credentials(self.iam.credentials.lookup(session.access_key_id))}

    # --- for other services --------------------------------------------------------------------

    def assume_role_for_service(self, role_arn: str, service_principal: str, session_name: str,
                                duration: int = DEFAULT_ROLE_SESSION, context: dict | None = None,
                                region: str | None = None) -> Credential:
        """Credentials for `service_principal` (e.g. "lambda.amazonaws.com") acting as a role.

        The role's trust policy must allow the service; `context` may carry the keys AWS
        services send along, such as aws:SourceArn and aws:SourceAccount. Raises AwsError
        AccessDenied otherwise. The credential's `principal` is what to pass to
        `Stack.call`; its keys are what to hand to code that runs as the role.
        """
        denied = access_denied(f"{service_principal} is not authorized to perform: sts:AssumeRole on resource: "
                               f"{role_arn}")
        role = self.iam.store.roles.by_arn(role_arn)
        if role is None:
            raise denied
        trust = parse_policy(role.trust_policy, TRUST)
        if not service_may_assume(trust, role, service_principal, dict(context or {})):
            raise denied
        session_name = re.sub(r"[^\w+=,.@-]", "_", session_name)[:64] or "session"
        return self._issue_role_session(role, session_name, min(duration, role.max_session_duration), [], [],
                                        region or self.stack.settings.region)

    # --- helpers -------------------------------------------------------------------------------

    def _issue_role_session(self, role: Role, session_name: str, duration: int, policies: list, tags: list,
                            region: str) -> Credential:
        session = self.iam.store.sessions.create(
            account_id=role.account_id, kind=ASSUMED_ROLE, subject_id=role.role_id,
            arn=f"arn:aws:sts::{role.account_id}:assumed-role/{role.name}/{session_name}",
            principal_id=f"{role.role_id}:{session_name}", source_arn=role.arn, duration=duration,
            session_name=session_name, policies=policies, tags=tags)
        self.iam.store.roles.mark_used(role, region)
        return self.iam.credentials.lookup(session.access_key_id)

    def _session_policies(self, role: Role, params: dict) -> tuple[list[dict], int | None]:
        """The session policy documents passed to AssumeRole, and their packed size in percent."""
        documents: list[dict] = []
        size = 0
        if params.get("Policy"):
            text = params["Policy"]
            try:
                parse_policy(text, IDENTITY)
            except MalformedPolicy as exc:
                raise malformed_policy(exc.message) from None
            documents.append(load_document(text))
            size += sum(1 for c in text if not c.isspace())
        for descriptor in params.get("PolicyArns") or []:
            arn = descriptor.get("arn", "")
            document = None
            if self.iam.store.policies.get(role.account_id, arn) is not None:
                document = self.iam.store.policies.default_document(arn)
            if document is None:
                raise malformed_policy(f"Policy {arn} does not exist or is not attachable.")
            documents.append(load_document(document))
            size += len(arn)
        if not documents:
            return [], None
        packed = size * 100 // SESSION_POLICY_SIZE
        if packed > 100:
            raise AwsError("PackedPolicyTooLarge", f"Packed policy consumes {packed}% of allotted space, please "
                           "use smaller policy.", 400)
        return documents, packed


def _require_caller(ctx: RequestContext) -> Principal:
    if ctx.principal is None:
        raise AwsError("MissingAuthenticationToken", "Request is missing Authentication Token", 403)
    return ctx.principal


def _check_session_name(name: str) -> None:
    if not _SESSION_NAME.match(name):
        raise validation_error(f"1 validation error detected: Value '{name}' at 'roleSessionName' failed to satisfy "
                               r"constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*")


def _check_duration(duration: int, role: Role, chained: bool) -> None:
    if duration < MIN_SESSION:
        raise validation_error(f"1 validation error detected: Value '{duration}' at 'durationSeconds' failed to "
                               f"satisfy constraint: Member must have value greater than or equal to {MIN_SESSION}")
    if chained and duration > CHAINED_MAX:
        raise validation_error("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed "
                               "by role chaining.")
    if duration > role.max_session_duration:
        raise validation_error("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")


def _assume_context(ctx: RequestContext, params: dict, tags: list[dict]) -> dict[str, Any]:
    """Condition keys a trust policy may test for this AssumeRole call."""
    context: dict[str, Any] = {"aws:RequestedRegion": ctx.region, "sts:RoleSessionName": params["RoleSessionName"]}
    if params.get("ExternalId") is not None:
        context["sts:ExternalId"] = params["ExternalId"]
    if params.get("SourceIdentity"):
        context["sts:SourceIdentity"] = params["SourceIdentity"]
    if tags:
        context["aws:TagKeys"] = [t["Key"] for t in tags]
        for tag in tags:
            context[f"aws:RequestTag/{tag['Key']}"] = tag.get("Value", "")
    if params.get("TransitiveTagKeys"):
        context["sts:TransitiveTagKeys"] = list(params["TransitiveTagKeys"])
    return context


def _credentials(credential: Credential) -> dict:
    return {"AccessKeyId": credential.access_key_id, "SecretAccessKey": credential.secret_access_key,
            "SessionToken": credential.session_token, "Expiration": credential.expiration}

