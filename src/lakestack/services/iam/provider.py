"""IAM: users, groups, roles, access keys, managed and inline policies.

One method per operation, kept thin: the rules live in the store modules and in policy.py.
IAM is global, so the request's region plays no part; everything is per account.

Policy documents are answered URL-encoded, as AWS does; boto3 decodes them back into a
dict (botocore's `json_decode_policies` handler).
https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRolePolicy.html
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import quote

from lakestack.aws.context import Principal, RequestContext
from lakestack.aws.errors import not_implemented
from lakestack.runtime.files import atomic_write
from lakestack.services.base import Action, Provider
from lakestack.services.iam import oidc_providers as oidc
from lakestack.services.iam import policy as policy_language
from lakestack.services.iam.authorizer import Authorizer
from lakestack.services.iam.credentials import CredentialResolver
from lakestack.services.iam.entities import Group, Role, User
from lakestack.services.iam.errors import (
    invalid_input,
    limit_exceeded,
    malformed_policy,
    no_such_entity,
    validation_error,
)
from lakestack.services.iam.managed_policies import ManagedPolicy
from lakestack.services.iam.store import IamStore, to_datetime

_NAME = r"[\w+=,.@-]+"
_PATH = re.compile(r"^(/|/[\x21-\x7e]+/)$")
MIN_SESSION, MAX_SESSION = 3600, 43200
MANAGED_POLICY_SIZE = 6144
# Inline policies share one size budget per entity (non-whitespace characters).
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
INLINE_POLICY_SIZE = {"user": 2048, "group": 5120, "role": 10240}


def _iam(operation: str, resource: str = "*") -> Action:
    return Action(f"iam:{operation}", resource)


_USER = "arn:aws:iam::{account}:user/{UserName}"
_GROUP = "arn:aws:iam::{account}:group/{GroupName}"
_ROLE = "arn:aws:iam::{account}:role/{RoleName}"
_POLICY = "{PolicyArn}"

_RESOURCES = {
    _USER: """CreateUser GetUser UpdateUser DeleteUser TagUser UntagUser ListUserTags ListGroupsForUser
        CreateAccessKey ListAccessKeys UpdateAccessKey DeleteAccessKey AttachUserPolicy DetachUserPolicy
        ListAttachedUserPolicies PutUserPolicy GetUserPolicy DeleteUserPolicy ListUserPolicies""",
    _GROUP: """CreateGroup GetGroup UpdateGroup DeleteGroup AddUserToGroup RemoveUserFromGroup AttachGroupPolicy
        DetachGroupPolicy ListAttachedGroupPolicies PutGroupPolicy GetGroupPolicy DeleteGroupPolicy
        ListGroupPolicies""",
    _ROLE: """CreateRole GetRole UpdateRole UpdateRoleDescription UpdateAssumeRolePolicy DeleteRole TagRole
        UntagRole ListRoleTags ListInstanceProfilesForRole AttachRolePolicy DetachRolePolicy
        ListAttachedRolePolicies PutRolePolicy GetRolePolicy DeleteRolePolicy ListRolePolicies""",
    _POLICY: """GetPolicy DeletePolicy CreatePolicyVersion GetPolicyVersion ListPolicyVersions
        DeletePolicyVersion SetDefaultPolicyVersion ListEntitiesForPolicy""",
    "arn:aws:iam::{account}:policy/{PolicyName}": "CreatePolicy",
    "*": "ListUsers ListGroups ListRoles ListPolicies GetAccessKeyLastUsed SimulatePrincipalPolicy",
}

# Operations that act on the caller's own user when UserName is left out.
_CALLER_DEFAULT = {"GetUser", "CreateAccessKey", "ListAccessKeys", "UpdateAccessKey", "DeleteAccessKey"}


class RootCredentials(NamedTuple):
    access_key_id: str
    secret_access_key: str


def encode_document(document: str) -> str:
    return quote(document, safe="")


def policy_size(document: str) -> int:
    return sum(1 for c in document if not c.isspace())


class IamProvider(Provider):
    service = "iam"
    ACTIONS = {op: _iam(op, resource) for resource, ops in _RESOURCES.items() for op in ops.split()}

    def __init__(self, stack):
        super().__init__(stack)
        settings = stack.settings
        self.store = IamStore(settings.state_dir / "iam.db")
        self.credentials = CredentialResolver(self.store)
        self.authorizer = Authorizer(self.store)
        self._bootstrap_root(settings)

    # --- the account's root credentials ---------------------------------------------------

    def _bootstrap_root(self, settings) -> None:
        if bool(settings.root_access_key_id) != bool(settings.root_secret_access_key):
            raise ValueError("set both LAKESTACK_ROOT_ACCESS_KEY_ID and LAKESTACK_ROOT_SECRET_ACCESS_KEY, or neither")
        self.store.ensure_account(settings.account_id)
        key = self.store.access_keys.ensure_root_key(settings.account_id, settings.root_access_key_id,
                                                     settings.root_secret_access_key)
        profile = (f"[lakestack]\naws_access_key_id = {key.access_key_id}\n"
                   f"aws_secret_access_key = {key.secret}\n").encode()
        path = settings.home / "credentials"
        if not path.exists() or path.read_bytes() != profile:
            atomic_write(path, profile, mode=0o600)

    def root_credentials(self, account_id: str | None = None) -> RootCredentials:
        """(access key ID, secret access key) of the account's root user (default account:
        the configured one)."""
        key = self.store.access_keys.root_key(account_id or self.stack.settings.account_id)
        return RootCredentials(key.access_key_id, key.secret)

    def stop(self) -> None:
        self.store.access_keys.flush_usage()
        self.store.close()

    # --- authorization: resources carry the entity's real path ----------------------------

    def authorization(self, ctx: RequestContext, params: dict) -> list[tuple[str, str]]:
        values = dict(params)
        account = ctx.account_id
        principal = ctx.principal
        if "UserName" not in values and ctx.operation in _CALLER_DEFAULT:
            if principal is not None and principal.kind == "user":
                values["UserName"] = principal.arn.split(":user/", 1)[1]
        else:
            lookups = (("UserName", self.store.users), ("GroupName", self.store.groups),
                       ("RoleName", self.store.roles))
            for key, table in lookups:
                if isinstance(values.get(key), str):
                    entity = table.get(account, values[key])
                    path = entity.path if entity else values.get("Path", "/")
                    values[key] = path[1:] + (entity.name if entity else values[key])
        if ctx.operation == "CreatePolicy" and isinstance(values.get("PolicyName"), str):
            values["PolicyName"] = values.get("Path", "/")[1:] + values["PolicyName"]
        if ctx.operation == "CreateOpenIDConnectProvider" and isinstance(values.get("Url"), str):
            values["Url"] = values["Url"].removeprefix("https://")
        return super().authorization(ctx, values)

    # --- helpers ---------------------------------------------------------------------------

    def _caller_user(self, ctx: RequestContext, params: dict) -> User | None:
        """The user named in params, else the calling user; None means the root user."""
        account = ctx.account_id
        if params.get("UserName"):
            return self.store.users.require(account, params["UserName"])
        principal = ctx.principal
        if principal is None or principal.kind == "root":
            return None
        if principal.kind == "user":
            user = self.store.users.by_id(principal.user_id)
            if user is None:
                raise no_such_entity(f"The user with name {principal.arn.rsplit('/', 1)[1]} cannot be found.")
            return user
        raise validation_error("Must specify userName when calling with non-User credentials")

    @staticmethod
    def _check_name(value: str, member: str, max_length: int, pattern: str = _NAME) -> None:
        if len(value) > max_length:
            raise validation_error(f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
                                   f"constraint: Member must have length less than or equal to {max_length}")
        if not re.fullmatch(pattern, value):
            raise validation_error(f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
                                   f"constraint: Member must satisfy regular expression pattern: {pattern}")

    @staticmethod
    def _check_path(params: dict, key: str = "Path") -> str:
        path = params.get(key) or "/"
        if len(path) > 512 or not _PATH.match(path):
            raise validation_error(f"The specified value for {key[0].lower() + key[1:]} is invalid. It must begin "
                                   "and end with / and contain only alphanumeric characters and/or / characters.")
        return path

    @staticmethod
    def _parse(document: str, kind: str = policy_language.IDENTITY, require_version: bool = False):
        try:
            return policy_language.parse_policy(document, kind, require_version)
        except policy_language.MalformedPolicy as exc:
            raise malformed_policy(exc.message) from None

    @staticmethod
    def _no_boundary(params: dict) -> None:
        if params.get("PermissionsBoundary"):
            raise not_implemented("iam", "PermissionsBoundary")

    @staticmethod
    def _page(items: list, params: dict, key: str) -> dict:
        max_items = params.get("MaxItems") or 100
        if not 1 <= max_items <= 1000:
            raise validation_error(f"1 validation error detected: Value '{max_items}' at 'maxItems' failed to "
                                   "satisfy constraint: Member must have value between 1 and 1000")
        marker = params.get("Marker") or "0"
        if not marker.isdigit():
            raise validation_error("Invalid Marker.")
        start = int(marker)
        end = start + max_items
        out = {key: items[start:end], "IsTruncated": end < len(items)}
        if end < len(items):
            out["Marker"] = str(end)
        return out

    # --- shapes ------------------------------------------------------------------------------

    @staticmethod
    def _user(user: User, tags: bool = False) -> dict:
        out = {"Path": user.path, "UserName": user.name, "UserId": user.user_id, "Arn": user.arn,
               "CreateDate": to_datetime(user.created)}
        if tags and user.tags:
            out["Tags"] = user.tags
        return out

    @staticmethod
    def _group(group: Group) -> dict:
        return {"Path": group.path, "GroupName": group.name, "GroupId": group.group_id, "Arn": group.arn,
                "CreateDate": to_datetime(group.created)}

    @staticmethod
    def _role(role: Role, detail: bool = False) -> dict:
        out = {"Path": role.path, "RoleName": role.name, "RoleId": role.role_id, "Arn": role.arn,
               "CreateDate": to_datetime(role.created),
               "AssumeRolePolicyDocument": encode_document(role.trust_policy),
               "MaxSessionDuration": role.max_session_duration}
        if role.description is not None:
            out["Description"] = role.description
        if detail:
            if role.tags:
                out["Tags"] = role.tags
            out["RoleLastUsed"] = ({"LastUsedDate": to_datetime(role.last_used), "Region": role.last_used_region}
                                   if role.last_used else {})
        return out

    def _policy(self, account: str, policy: ManagedPolicy, detail: bool = False) -> dict:
        out = {"PolicyName": policy.name, "PolicyId": policy.policy_id, "Arn": policy.arn, "Path": policy.path,
               "DefaultVersionId": policy.default_version,
               "AttachmentCount": self.store.policies.attachment_count(account, policy.arn),
               "PermissionsBoundaryUsageCount": 0, "IsAttachable": True,
               "CreateDate": to_datetime(policy.created), "UpdateDate": to_datetime(policy.updated)}
        if detail:
            if policy.description:
                out["Description"] = policy.description
            if policy.tags:
                out["Tags"] = policy.tags
        return out

    @staticmethod
    def _version(version, document: bool = True) -> dict:
        out = {"VersionId": version.version_id, "IsDefaultVersion": version.is_default,
               "CreateDate": to_datetime(version.created)}
        if document:
            out["Document"] = encode_document(version.document)
        return out

    # --- users -------------------------------------------------------------------------------

    def create_user(self, ctx: RequestContext, params: dict) -> dict:
        self._check_name(params["UserName"], "userName", 64)
        self._no_boundary(params)
        user = self.store.users.create(ctx.account_id, params["UserName"], self._check_path(params),
                                       params.get("Tags"))
        return {"User": self._user(user, tags=True)}

    def get_user(self, ctx: RequestContext, params: dict) -> dict:
        user = self._caller_user(ctx, params)
        if user is None:  # the root user describes itself by account
            account = ctx.account_id
            return {"User": {"UserId": account, "Arn": f"arn:aws:iam::{account}:root",
                             "CreateDate": to_datetime(self.store.account_created(account))}}
        return {"User": self._user(user, tags=True)}

    def list_users(self, ctx: RequestContext, params: dict) -> dict:
        users = self.store.users.list(ctx.account_id, params.get("PathPrefix") or "/")
        return self._page([self._user(u) for u in users], params, "Users")

    def update_user(self, ctx: RequestContext, params: dict) -> dict:
        if params.get("NewUserName"):
            self._check_name(params["NewUserName"], "newUserName", 64)
        new_path = self._check_path(params, "NewPath") if params.get("NewPath") else None
        self.store.users.update(ctx.account_id, params["UserName"], params.get("NewUserName"), new_path)
        return {}

    def delete_user(self, ctx: RequestContext, params: dict) -> dict:
        self.store.users.delete(ctx.account_id, params["UserName"])
        return {}

    def tag_user(self, ctx: RequestContext, params: dict) -> dict:
        self.store.users.set_tags(ctx.account_id, params["UserName"], add=params["Tags"])
        return {}

    def untag_user(self, ctx: RequestContext, params: dict) -> dict:
        self.store.users.set_tags(ctx.account_id, params["UserName"], remove=params["TagKeys"])
        return {}

    def list_user_tags(self, ctx: RequestContext, params: dict) -> dict:
        user = self.store.users.require(ctx.account_id, params["UserName"])
        return self._page(user.tags, params, "Tags")

    # --- groups ------------------------------------------------------------------------------

    def create_group(self, ctx: RequestContext, params: dict) -> dict:
        self._check_name(params["GroupName"], "groupName", 128)
        group = self.store.groups.create(ctx.account_id, params["GroupName"], self._check_path(params))
        return {"Group": self._group(group)}

    def get_group(self, ctx: RequestContext, params: dict) -> dict:
        group = self.store.groups.require(ctx.account_id, params["GroupName"])
        members = [self._user(u) for u in self.store.groups.members(group)]
        return {"Group": self._group(group), **self._page(members, params, "Users")}

    def list_groups(self, ctx: RequestContext, params: dict) -> dict:
        groups = self.store.groups.list(ctx.account_id, params.get("PathPrefix") or "/")
        return self._page([self._group(g) for g in groups], params, "Groups")

    def update_group(self, ctx: RequestContext, params: dict) -> dict:
        if params.get("NewGroupName"):
            self._check_name(params["NewGroupName"], "newGroupName", 128)
        new_path = self._check_path(params, "NewPath") if params.get("NewPath") else None
        self.store.groups.update(ctx.account_id, params["GroupName"], params.get("NewGroupName"), new_path)
        return {}

    def delete_group(self, ctx: RequestContext, params: dict) -> dict:
        self.store.groups.delete(ctx.account_id, params["GroupName"])
        return {}

    def add_user_to_group(self, ctx: RequestContext, params: dict) -> dict:
        self.store.groups.add_user(ctx.account_id, params["GroupName"], params["UserName"])
        return {}

    def remove_user_from_group(self, ctx: RequestContext, params: dict) -> dict:
        self.store.groups.remove_user(ctx.account_id, params["GroupName"], params["UserName"])
        return {}

    def list_groups_for_user(self, ctx: RequestContext, params: dict) -> dict:
        user = self.store.users.require(ctx.account_id, params["UserName"])
        groups = self.store.groups.for_user(user)
        return self._page([self._group(g) for g in groups], params, "Groups")

    # --- roles -------------------------------------------------------------------------------

    def _check_trust(self, document: str) -> None:
        trust = self._parse(document, policy_language.TRUST)
        # Like IAM, refuse to trust a user or role of a known account that does not exist.
        for statement in trust.statements:
            for spec in (statement.principal, statement.not_principal):
                for arn in spec.aws if spec else ():
                    self._check_principal_exists(arn)
                for arn in spec.federated if spec else ():
                    self._check_oidc_provider_exists(arn)

    def _check_oidc_provider_exists(self, arn: str) -> None:
        """IAM refuses a trust policy naming an OIDC provider of a known account that does
        not exist: create the provider first, then the role."""
        m = re.match(r"^arn:aws:iam::(\d{12}):oidc-provider/", arn)
        if not m or not self.store.query_one("SELECT 1 FROM accounts WHERE account_id = ?", (m[1],)):
            return
        if self.store.oidc_providers.get(m[1], arn) is None:
            raise malformed_policy(f'Invalid principal in policy: "Federated":"{arn}"')

    def _check_principal_exists(self, arn: str) -> None:
        m = re.match(r"^arn:aws:iam::(\d{12}):(user|role)(/.*/|/)([^/]+)$", arn)
        if not m or not self.store.query_one("SELECT 1 FROM accounts WHERE account_id = ?", (m[1],)):
            return
        table = self.store.users if m[2] == "user" else self.store.roles
        entity = table.get(m[1], m[4])
        if entity is None or entity.path != m[3] or entity.name != m[4]:
            raise malformed_policy(f'Invalid principal in policy: "AWS":"{arn}"')

    def _check_max_session(self, params: dict) -> int | None:
        value = params.get("MaxSessionDuration")
        if value is None:
            return None
        prefix = f"1 validation error detected: Value '{value}' at 'maxSessionDuration' failed to satisfy constraint"
        if value > MAX_SESSION:
            raise validation_error(f"{prefix}: Member must have value less than or equal to {MAX_SESSION}")
        if value < MIN_SESSION:
            raise validation_error(f"{prefix}: Member must have value greater than or equal to {MIN_SESSION}")
        return value

    def create_role(self, ctx: RequestContext, params: dict) -> dict:
        self._check_name(params["RoleName"], "roleName", 64)
        self._no_boundary(params)
        self._check_trust(params["AssumeRolePolicyDocument"])
        role = self.store.roles.create(
            ctx.account_id, params["RoleName"], params["AssumeRolePolicyDocument"], self._check_path(params),
            params.get("Description"), self._check_max_session(params) or MIN_SESSION, params.get("Tags"))
        out = self._role(role)
        if role.tags:
            out["Tags"] = role.tags
        return {"Role": out}

    def get_role(self, ctx: RequestContext, params: dict) -> dict:
        return {"Role": self._role(self.store.roles.require(ctx.account_id, params["RoleName"]), detail=True)}

    def list_roles(self, ctx: RequestContext, params: dict) -> dict:
        roles = self.store.roles.list(ctx.account_id, params.get("PathPrefix") or "/")
        return self._page([self._role(r) for r in roles], params, "Roles")

    def update_role(self, ctx: RequestContext, params: dict) -> dict:
        self.store.roles.update(ctx.account_id, params["RoleName"], params.get("Description"),
                                self._check_max_session(params))
        return {}

    def update_role_description(self, ctx: RequestContext, params: dict) -> dict:
        self.store.roles.update(ctx.account_id, params["RoleName"], description=params["Description"])
        return {"Role": self._role(self.store.roles.require(ctx.account_id, params["RoleName"]), detail=True)}

    def update_assume_role_policy(self, ctx: RequestContext, params: dict) -> dict:
        self._check_trust(params["PolicyDocument"])
        self.store.roles.update_trust(ctx.account_id, params["RoleName"], params["PolicyDocument"])
        return {}

    def list_instance_profiles_for_role(self, ctx: RequestContext, params: dict) -> dict:
        # Instance profiles belong to EC2, which lakestack does not serve: a role is never in one.
        self.store.roles.require(ctx.account_id, params["RoleName"])
        return self._page([], params, "InstanceProfiles")

    def delete_role(self, ctx: RequestContext, params: dict) -> dict:
        self.store.roles.delete(ctx.account_id, params["RoleName"])
        return {}

    def tag_role(self, ctx: RequestContext, params: dict) -> dict:
        self.store.roles.set_tags(ctx.account_id, params["RoleName"], add=params["Tags"])
        return {}

    def untag_role(self, ctx: RequestContext, params: dict) -> dict:
        self.store.roles.set_tags(ctx.account_id, params["RoleName"], remove=params["TagKeys"])
        return {}

    def list_role_tags(self, ctx: RequestContext, params: dict) -> dict:
        role = self.store.roles.require(ctx.account_id, params["RoleName"])
        return self._page(role.tags, params, "Tags")

    # --- access keys -------------------------------------------------------------------------

    def create_access_key(self, ctx: RequestContext, params: dict) -> dict:
        user = self._caller_user(ctx, params)
        key = self.store.access_keys.create(ctx.account_id, user)
        out = {"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret, "Status": key.status,
               "CreateDate": to_datetime(key.created)}
        if user is not None:
            out["UserName"] = user.name
        return {"AccessKey": out}

    def list_access_keys(self, ctx: RequestContext, params: dict) -> dict:
        user = self._caller_user(ctx, params)
        keys = [{"AccessKeyId": k.access_key_id, "Status": k.status, "CreateDate": to_datetime(k.created),
                 **({"UserName": user.name} if user else {})}
                for k in self.store.access_keys.list(ctx.account_id, user)]
        return self._page(keys, params, "AccessKeyMetadata")

    def update_access_key(self, ctx: RequestContext, params: dict) -> dict:
        if params["Status"] not in ("Active", "Inactive"):
            raise validation_error(f"1 validation error detected: Value '{params['Status']}' at 'status' failed to "
                                   "satisfy constraint: Member must satisfy enum value set: [Active, Inactive]")
        user = self._caller_user(ctx, params)
        self.store.access_keys.set_status(ctx.account_id, user, params["AccessKeyId"], params["Status"])
        return {}

    def delete_access_key(self, ctx: RequestContext, params: dict) -> dict:
        user = self._caller_user(ctx, params)
        self.store.access_keys.delete(ctx.account_id, user, params["AccessKeyId"])
        return {}

    def get_access_key_last_used(self, ctx: RequestContext, params: dict) -> dict:
        self.store.access_keys.flush_usage()
        key = self.store.access_keys.get(params["AccessKeyId"])
        if key is None or key.account_id != ctx.account_id:
            # Keys of other accounts are not this account's business.
            raise invalid_input("The specified access key ID is not valid for this account.")
        user = self.store.users.by_id(key.user_id) if key.user_id else None
        used = ({"LastUsedDate": to_datetime(key.last_used), "ServiceName": key.last_used_service,
                 "Region": key.last_used_region or "N/A"}
                if key.last_used else {"ServiceName": "N/A", "Region": "N/A"})
        return {"UserName": user.name if user else "root", "AccessKeyLastUsed": used}

    # --- managed policies ----------------------------------------------------------------------

    def create_policy(self, ctx: RequestContext, params: dict) -> dict:
        self._check_name(params["PolicyName"], "policyName", 128)
        document = params["PolicyDocument"]
        self._check_managed_document(document)
        policy = self.store.policies.create(ctx.account_id, params["PolicyName"], document,
                                            self._check_path(params), params.get("Description"), params.get("Tags"))
        return {"Policy": self._policy(ctx.account_id, policy, detail=True)}

    def _check_managed_document(self, document: str) -> None:
        if policy_size(document) > MANAGED_POLICY_SIZE:
            raise limit_exceeded(f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_SIZE}")
        self._parse(document, require_version=True)

    def get_policy(self, ctx: RequestContext, params: dict) -> dict:
        policy = self.store.policies.require(ctx.account_id, params["PolicyArn"])
        return {"Policy": self._policy(ctx.account_id, policy, detail=True)}

    def list_policies(self, ctx: RequestContext, params: dict) -> dict:
        scope = params.get("Scope") or "All"
        if scope not in ("All", "AWS", "Local"):
            raise validation_error(f"1 validation error detected: Value '{scope}' at 'scope' failed to satisfy "
                                   "constraint: Member must satisfy enum value set: [All, AWS, Local]")
        account = ctx.account_id
        if params.get("PolicyUsageFilter") == "PermissionsBoundary":
            return self._page([], params, "Policies")  # boundaries are not supported yet
        shaped = [self._policy(account, p) for p in self.store.policies.list(account, scope,
                                                                             params.get("PathPrefix") or "/")]
        if params.get("OnlyAttached"):
            shaped = [p for p in shaped if p["AttachmentCount"] > 0]
        return self._page(shaped, params, "Policies")

    def delete_policy(self, ctx: RequestContext, params: dict) -> dict:
        self.store.policies.delete(ctx.account_id, params["PolicyArn"])
        return {}

    def create_policy_version(self, ctx: RequestContext, params: dict) -> dict:
        self.store.policies.require_own(ctx.account_id, params["PolicyArn"])
        self._check_managed_document(params["PolicyDocument"])
        version = self.store.policies.create_version(ctx.account_id, params["PolicyArn"], params["PolicyDocument"],
                                                     bool(params.get("SetAsDefault")))
        return {"PolicyVersion": self._version(version, document=False)}

    def get_policy_version(self, ctx: RequestContext, params: dict) -> dict:
        version = self.store.policies.version(ctx.account_id, params["PolicyArn"], params["VersionId"])
        return {"PolicyVersion": self._version(version)}

    def list_policy_versions(self, ctx: RequestContext, params: dict) -> dict:
        versions = self.store.policies.versions(ctx.account_id, params["PolicyArn"])
        return self._page([self._version(v, document=False) for v in versions], params, "Versions")

    def delete_policy_version(self, ctx: RequestContext, params: dict) -> dict:
        self.store.policies.delete_version(ctx.account_id, params["PolicyArn"], params["VersionId"])
        return {}

    def set_default_policy_version(self, ctx: RequestContext, params: dict) -> dict:
        self.store.policies.set_default_version(ctx.account_id, params["PolicyArn"], params["VersionId"])
        return {}

    def list_entities_for_policy(self, ctx: RequestContext, params: dict) -> dict:
        account = ctx.account_id
        self.store.policies.require(account, params["PolicyArn"])
        wanted = {"User": "user", "Group": "group", "Role": "role"}.get(params.get("EntityFilter") or "")
        prefix = params.get("PathPrefix") or "/"
        found = []
        for entity_type, entity_id in self.store.policies.attached_to(account, params["PolicyArn"]):
            if wanted and entity_type != wanted:
                continue
            if entity_type == "user":
                entity = self.store.users.by_id(entity_id)
                item = entity and {"UserName": entity.name, "UserId": entity.user_id}
            elif entity_type == "group":
                entity = self.store.groups.by_id(entity_id)
                item = entity and {"GroupName": entity.name, "GroupId": entity.group_id}
            else:
                entity = self.store.roles.by_id(entity_id)
                item = entity and {"RoleName": entity.name, "RoleId": entity.role_id}
            if item and entity.path.startswith(prefix):
                found.append((entity_type, item))
        found.sort(key=lambda pair: (pair[0], next(iter(pair[1].values())).lower()))
        page = self._page(found, params, "Entities")
        entities = page.pop("Entities")
        for entity_type, key in (("user", "PolicyUsers"), ("group", "PolicyGroups"), ("role", "PolicyRoles")):
            page[key] = [item for kind, item in entities if kind == entity_type]
        return page

    # --- attaching managed policies ------------------------------------------------------------

    def _entity(self, ctx: RequestContext, kind: str, params: dict) -> tuple[str, str]:
        """(entity type, unique ID) of the user, group or role named in params."""
        account = ctx.account_id
        if kind == "user":
            return "user", self.store.users.require(account, params["UserName"]).user_id
        if kind == "group":
            return "group", self.store.groups.require(account, params["GroupName"]).group_id
        return "role", self.store.roles.require(account, params["RoleName"]).role_id

    def _attach(self, ctx, params, kind) -> dict:
        self.store.policies.attach(ctx.account_id, params["PolicyArn"], *self._entity(ctx, kind, params))
        return {}

    def _detach(self, ctx, params, kind) -> dict:
        self.store.policies.detach(params["PolicyArn"], *self._entity(ctx, kind, params))
        return {}

    def _list_attached(self, ctx, params, kind) -> dict:
        attached = self.store.policies.attached(*self._entity(ctx, kind, params), params.get("PathPrefix") or "/")
        return self._page([{"PolicyName": p.name, "PolicyArn": p.arn} for p in attached], params,
                          "AttachedPolicies")

    def attach_user_policy(self, ctx, params):
        return self._attach(ctx, params, "user")

    def attach_group_policy(self, ctx, params):
        return self._attach(ctx, params, "group")

    def attach_role_policy(self, ctx, params):
        return self._attach(ctx, params, "role")

    def detach_user_policy(self, ctx, params):
        return self._detach(ctx, params, "user")

    def detach_group_policy(self, ctx, params):
        return self._detach(ctx, params, "group")

    def detach_role_policy(self, ctx, params):
        return self._detach(ctx, params, "role")

    def list_attached_user_policies(self, ctx, params):
        return self._list_attached(ctx, params, "user")

    def list_attached_group_policies(self, ctx, params):
        return self._list_attached(ctx, params, "group")

    def list_attached_role_policies(self, ctx, params):
        return self._list_attached(ctx, params, "role")

    # --- inline policies ----------------------------------------------------------------------

    def _put_inline(self, ctx, params, kind) -> dict:
        self._check_name(params["PolicyName"], "policyName", 128)
        entity_type, entity_id = self._entity(ctx, kind, params)
        document = params["PolicyDocument"]
        self._parse(document)
        others = sum(policy_size(doc) for name, doc in self.store.inline.documents(entity_type, entity_id)
                     if name.lower() != params["PolicyName"].lower())
        limit = INLINE_POLICY_SIZE[kind]
        if others + policy_size(document) > limit:
            entity_name = params[{"user": "UserName", "group": "GroupName", "role": "RoleName"}[kind]]
            raise limit_exceeded(f"Maximum policy size of {limit} bytes exceeded for {kind} {entity_name}")
        self.store.inline.put(entity_type, entity_id, params["PolicyName"], document)
        return {}

    def _get_inline(self, ctx, params, kind) -> dict:
        name, document = self.store.inline.get(*self._entity(ctx, kind, params), params["PolicyName"])
        entity_key = {"user": "UserName", "group": "GroupName", "role": "RoleName"}[kind]
        return {entity_key: params[entity_key], "PolicyName": name, "PolicyDocument": encode_document(document)}

    def _delete_inline(self, ctx, params, kind) -> dict:
        self.store.inline.delete(*self._entity(ctx, kind, params), params["PolicyName"])
        return {}

    def _list_inline(self, ctx, params, kind) -> dict:
        return self._page(self.store.inline.names(*self._entity(ctx, kind, params)), params, "PolicyNames")

    def put_user_policy(self, ctx, params):
        return self._put_inline(ctx, params, "user")

    def put_group_policy(self, ctx, params):
        return self._put_inline(ctx, params, "group")

    def put_role_policy(self, ctx, params):
        return self._put_inline(ctx, params, "role")

    def get_user_policy(self, ctx, params):
        return self._get_inline(ctx, params, "user")

    def get_group_policy(self, ctx, params):
        return self._get_inline(ctx, params, "group")

    def get_role_policy(self, ctx, params):
        return self._get_inline(ctx, params, "role")

    def delete_user_policy(self, ctx, params):
        return self._delete_inline(ctx, params, "user")

    def delete_group_policy(self, ctx, params):
        return self._delete_inline(ctx, params, "group")

    def delete_role_policy(self, ctx, params):
        return self._delete_inline(ctx, params, "role")

    def list_user_policies(self, ctx, params):
        return self._list_inline(ctx, params, "user")

    def list_group_policies(self, ctx, params):
        return self._list_inline(ctx, params, "group")

    def list_role_policies(self, ctx, params):
        return self._list_inline(ctx, params, "role")

    # --- the policy simulator ------------------------------------------------------------------

    def simulate_principal_policy(self, ctx: RequestContext, params: dict) -> dict:
        """Evaluate the named user's or role's policies (plus PolicyInputList) without acting.
        https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html"""
        principal = self._principal_for(ctx.account_id, params["PolicySourceArn"])
        permissions = self.authorizer.permissions(principal)
        extra = []
        for document in params.get("PolicyInputList") or []:
            try:
                extra.append(policy_language.parse_policy(document))
            except policy_language.MalformedPolicy as exc:
                raise malformed_policy(exc.message) from None
        context = {}
        for entry in params.get("ContextEntries") or []:
            values = entry.get("ContextKeyValues") or []
            as_list = (entry.get("ContextKeyType") or "").endswith("List")
            context[entry["ContextKeyName"]] = values if as_list else (values[0] if values else None)
        context = self.authorizer.request_context(principal, context)
        decisions = {policy_language.ALLOW: "allowed", policy_language.DENY: "explicitDeny",
                     policy_language.IMPLICIT_DENY: "implicitDeny"}
        results = []
        for action in params["ActionNames"]:
            for resource in params.get("ResourceArns") or ["*"]:
                request = policy_language.Request(action, resource, context)
                decision = policy_language.decide(request, permissions.identity + tuple(extra), permissions.limits)
                results.append({"EvalActionName": action, "EvalResourceName": resource,
                                "EvalDecision": decisions[decision], "MatchedStatements": [],
                                "MissingContextValues": []})
        return self._page(results, params, "EvaluationResults")

    def _principal_for(self, account: str, arn: str) -> Principal:
        if ":user/" in arn:
            user = self.store.users.require(account, arn.rsplit("/", 1)[1])
            return Principal(account_id=account, arn=user.arn, user_id=user.user_id, kind="user",
                             source_arn=user.arn)
        if ":role/" in arn:
            role = self.store.roles.require(account, arn.rsplit("/", 1)[1])
            return Principal(account_id=account, arn=role.arn, user_id=f"{role.role_id}:simulation",
                             kind="assumed-role", source_arn=role.arn)
        raise invalid_input(f"Invalid ARN: {arn}. Simulation is supported for users and roles.")

    # -- OpenID Connect identity providers ---------------------------------------------------

    ACTIONS = {
        **ACTIONS,
        **{op: _iam(op, "{OpenIDConnectProviderArn}") for op in """GetOpenIDConnectProvider DeleteOpenIDConnectProvider
            AddClientIDToOpenIDConnectProvider RemoveClientIDFromOpenIDConnectProvider
            UpdateOpenIDConnectProviderThumbprint TagOpenIDConnectProvider UntagOpenIDConnectProvider
            ListOpenIDConnectProviderTags""".split()},
        # The provider's ARN is made from its URL; authorization() puts the URL in.
        "CreateOpenIDConnectProvider": _iam("CreateOpenIDConnectProvider",
                                            "arn:aws:iam::{account}:oidc-provider/{Url}"),
        "ListOpenIDConnectProviders": _iam("ListOpenIDConnectProviders"),
    }

    def create_open_id_connect_provider(self, ctx: RequestContext, params: dict) -> dict:
        if params.get("ContextProvider") or params.get("IdentityCenterInstanceArn"):
            raise not_implemented("iam", "CreateOpenIDConnectProvider with trusted identity propagation")
        url = oidc.check_url(params["Url"])
        client_ids = oidc.check_client_ids(params.get("ClientIDList") or [])
        # Without ThumbprintList AWS fetches the IdP's certificate itself; lakestack stays
        # offline and keeps none (AWS no longer uses them for IdPs with a well-known CA).
        thumbprints = oidc.check_thumbprints(params.get("ThumbprintList") or [])
        tags = oidc.check_new_tags(params.get("Tags") or [])
        provider = self.store.oidc_providers.create(ctx.account_id, url, client_ids, thumbprints, tags)
        out = {"OpenIDConnectProviderArn": provider.arn}
        if provider.tags:
            out["Tags"] = provider.tags
        return out

    def get_open_id_connect_provider(self, ctx: RequestContext, params: dict) -> dict:
        provider = self.store.oidc_providers.require(ctx.account_id, params["OpenIDConnectProviderArn"])
        return {"Url": provider.url, "ClientIDList": provider.client_ids, "ThumbprintList": provider.thumbprints,
                "CreateDate": to_datetime(provider.created), "Tags": provider.tags}

    def list_open_id_connect_providers(self, ctx: RequestContext, params: dict) -> dict:
        return {"OpenIDConnectProviderList": [{"Arn": p.arn} for p in self.store.oidc_providers.list(ctx.account_id)]}

    def delete_open_id_connect_provider(self, ctx: RequestContext, params: dict) -> dict:
        self.store.oidc_providers.delete(ctx.account_id, params["OpenIDConnectProviderArn"])
        return {}

    def add_client_id_to_open_id_connect_provider(self, ctx: RequestContext, params: dict) -> dict:
        self.store.oidc_providers.add_client_id(ctx.account_id, params["OpenIDConnectProviderArn"], params["ClientID"])
        return {}

    def remove_client_id_from_open_id_connect_provider(self, ctx: RequestContext, params: dict) -> dict:
        self.store.oidc_providers.remove_client_id(ctx.account_id, params["OpenIDConnectProviderArn"],
                                                   params["ClientID"])
        return {}

    def update_open_id_connect_provider_thumbprint(self, ctx: RequestContext, params: dict) -> dict:
        self.store.oidc_providers.set_thumbprints(ctx.account_id, params["OpenIDConnectProviderArn"],
                                                  params["ThumbprintList"])
        return {}

    def tag_open_id_connect_provider(self, ctx: RequestContext, params: dict) -> dict:
        self.store.oidc_providers.set_tags(ctx.account_id, params["OpenIDConnectProviderArn"], add=params["Tags"])
        return {}

    def untag_open_id_connect_provider(self, ctx: RequestContext, params: dict) -> dict:
        self.store.oidc_providers.set_tags(ctx.account_id, params["OpenIDConnectProviderArn"],
                                           remove=params["TagKeys"])
        return {}

    def list_open_id_connect_provider_tags(self, ctx: RequestContext, params: dict) -> dict:
        provider = self.store.oidc_providers.require(ctx.account_id, params["OpenIDConnectProviderArn"])
        return self._page(provider.tags, params, "Tags")
