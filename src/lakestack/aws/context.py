"""Who is calling, and what: the context every provider method receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakestack.aws.request import HttpRequest
    from lakestack.stack import Stack


@dataclass
class Principal:
    """An authenticated caller.

    kind is "root", "user", "assumed-role" or "federated-user"; `arn` is what
    GetCallerIdentity answers; `source_arn` is the IAM user or role whose policies apply.
    """

    account_id: str
    arn: str
    user_id: str
    kind: str
    access_key_id: str = ""
    source_arn: str = ""
    session_name: str = ""
    session_policies: list[dict] = field(default_factory=list)
    session_token: str = ""

    @property
    def is_root(self) -> bool:
        return self.kind == "root"


@dataclass
class RequestContext:
    request_id: str
    service: str
    operation: str
    region: str
    principal: Principal | None
    stack: Stack
    http: HttpRequest | None = None
    # The wire protocol the request came in (a service may speak several); "" for in-process calls.
    protocol: str = ""
    # A provider may set these to shape the HTTP answer beyond what the model binds
    # (e.g. S3's 206 for a Range GET).
    response_status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    # The account whose resource the call acts on, when a resource-based policy let in a caller
    # of another account (or an anonymous one): set by the provider's resource_decision.
    acting_account_id: str | None = None

    @property
    def account_id(self) -> str:
        if self.acting_account_id is not None:
            return self.acting_account_id
        return self.principal.account_id if self.principal else self.stack.settings.account_id


@dataclass
class Credential:
    """A stored access key and who it belongs to (IAM user key, root key or STS session)."""

    access_key_id: str
    secret_access_key: str
    principal: Principal
    session_token: str | None = None
    expiration: Any = None  # datetime (UTC) for temporary credentials
    active: bool = True
