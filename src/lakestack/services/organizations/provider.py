"""AWS Organizations: an organization, and the member accounts its management account creates.

What lakestack serves of it is what makes a second account possible: CreateOrganization,
CreateAccount (a real new account in IAM with its OrganizationAccountAccessRole), the
describe/list operations around them, and DeleteOrganization. Policies (SCPs), OUs,
invitations and the rest answer the gateway's not-implemented error.
State: `<state_dir>/organizations.db` (store.py).
"""

from __future__ import annotations

import base64
import secrets
import string
import threading
import time
import uuid

from lakestack.aws.context import RequestContext
from lakestack.services.base import Provider
from lakestack.services.iam.store import to_datetime
from lakestack.services.organizations import errors, member_accounts
from lakestack.services.organizations.store import (
    Account,
    CreateAccountRequest,
    Organization,
    OrganizationsStore,
)

_ID_CHARS = string.ascii_lowercase + string.digits


def _random(n: int) -> str:
    return "".join(secrets.choice(_ID_CHARS) for _ in range(n))


class OrganizationsProvider(Provider):
    service = "organizations"

    def __init__(self, stack):
        super().__init__(stack)
        self.store = OrganizationsStore(stack.settings.state_dir)
        # One change at a time: what CreateOrganization and CreateAccount check (the caller's
        # organization, a taken email) must still hold when they write.
        self._changes = threading.Lock()

    def stop(self) -> None:
        self.store.close()

    # --- the caller's organization -------------------------------------------------------

    def _organization(self, ctx: RequestContext) -> Organization:
        organization = self.store.organization_of(ctx.account_id)
        if organization is None:
            raise errors.not_in_use()
        return organization

    def _managed(self, ctx: RequestContext) -> Organization:
        """The organization, when the caller is its management account (most operations are
        the management account's only)."""
        organization = self._organization(ctx)
        if organization.management_account != ctx.account_id:
            raise errors.access_denied()
        return organization

    # --- organizations -------------------------------------------------------------------

    def create_organization(self, ctx: RequestContext, params: dict) -> dict:
        with self._changes:
            if self.store.organization_of(ctx.account_id) is not None:
                raise errors.already_in_organization()
            organization = Organization(id=f"o-{_random(10)}", management_account=ctx.account_id,
                                        feature_set=params.get("FeatureSet") or "ALL", root_id=f"r-{_random(4)}",
                                        created=time.time())
            self.store.create_organization(organization)
        return {"Organization": self._describe(organization)}

    def describe_organization(self, ctx: RequestContext, params: dict) -> dict:
        # Any account of the organization may describe it.
        # https://docs.aws.amazon.com/organizations/latest/APIReference/API_DescribeOrganization.html
        return {"Organization": self._describe(self._organization(ctx))}

    def delete_organization(self, ctx: RequestContext, params: dict) -> dict:
        with self._changes:
            organization = self._managed(ctx)
            if self.store.member_count(organization.id, organization.management_account):
                raise errors.organization_not_empty()
            self.store.delete_organization(organization.id)
        return {}

    def list_roots(self, ctx: RequestContext, params: dict) -> dict:
        organization = self._managed(ctx)
        root = {"Id": organization.root_id, "Name": "Root", "PolicyTypes": [],
                "Arn": f"arn:aws:organizations::{organization.management_account}:root/{organization.id}/"
                       f"{organization.root_id}"}
        return _page([root], params, "Roots")

    # --- accounts ------------------------------------------------------------------------

    def create_account(self, ctx: RequestContext, params: dict) -> dict:
        with self._changes:
            return {"CreateAccountStatus": _status(self._create_account(ctx, params))}

    def _create_account(self, ctx: RequestContext, params: dict) -> CreateAccountRequest:
        organization = self._managed(ctx)
        requested = time.time()
        request_id = f"car-{uuid.uuid4().hex}"
        # AWS accepts the request and reports a taken email as a FAILED status, not as an error.
        # https://docs.aws.amazon.com/organizations/latest/APIReference/API_CreateAccountStatus.html
        if self.store.email_taken(params["Email"]):
            request = CreateAccountRequest(request_id, organization.id, params["AccountName"], "FAILED", requested,
                                           time.time(), None, "EMAIL_ALREADY_EXISTS")
            self.store.record_request(request, None)
            return request
        known = self.stack.provider("iam").store.account_ids()
        account_id = member_accounts.new_account_id(
            lambda candidate: candidate in known or self.store.is_known_account(candidate))
        # The account exists in IAM (with its role) before the request is recorded as done, so
        # SUCCEEDED is only ever answered for an account one can assume a role in.
        member_accounts.create_in_iam(self.stack, account_id, organization.management_account,
                                      params.get("RoleName") or member_accounts.DEFAULT_ROLE)
        completed = time.time()
        account = Account(account_id, organization.id, params["Email"], params["AccountName"], "CREATED", completed,
                          "ACTIVE", params.get("Tags") or [])
        request = CreateAccountRequest(request_id, organization.id, params["AccountName"], "SUCCEEDED", requested,
                                       completed, account_id, None)
        self.store.record_request(request, account)
        return request

    def describe_create_account_status(self, ctx: RequestContext, params: dict) -> dict:
        organization = self._managed(ctx)
        request = self.store.request(organization.id, params["CreateAccountRequestId"])
        if request is None:
            raise errors.create_account_status_not_found()
        return {"CreateAccountStatus": _status(request)}

    def list_create_account_status(self, ctx: RequestContext, params: dict) -> dict:
        organization = self._managed(ctx)
        requests = self.store.requests(organization.id, params.get("States"))
        return _page([_status(r) for r in requests], params, "CreateAccountStatuses")

    def list_accounts(self, ctx: RequestContext, params: dict) -> dict:
        organization = self._managed(ctx)
        accounts = self.store.accounts(organization.id)
        return _page([_account(organization, a) for a in accounts], params, "Accounts")

    def describe_account(self, ctx: RequestContext, params: dict) -> dict:
        organization = self._managed(ctx)
        account = self.store.account(organization.id, params["AccountId"])
        if account is None:
            raise errors.account_not_found()
        return {"Account": _account(organization, account)}

    # --- shapes --------------------------------------------------------------------------

    def _describe(self, organization: Organization) -> dict:
        management = organization.management_account
        # AvailablePolicyTypes is empty: no policy type (SCPs, tag policies, …) is served.
        # The management account's email is not known to lakestack (accounts have none), so
        # MasterAccountEmail is left out.
        return {"Id": organization.id, "Arn": organization.arn, "FeatureSet": organization.feature_set,
                "MasterAccountArn": f"arn:aws:organizations::{management}:account/{organization.id}/{management}",
                "MasterAccountId": management, "AvailablePolicyTypes": []}


def _account(organization: Organization, account: Account) -> dict:
    out = {"Id": account.account_id,
           "Arn": f"arn:aws:organizations::{organization.management_account}:account/{organization.id}/"
                  f"{account.account_id}",
           "Status": account.state, "State": account.state, "JoinedMethod": account.joined_method,
           "JoinedTimestamp": to_datetime(account.joined)}
    if account.email is not None:
        out["Email"] = account.email
    if account.name is not None:
        out["Name"] = account.name
    return out


def _status(request: CreateAccountRequest) -> dict:
    out = {"Id": request.id, "AccountName": request.account_name, "State": request.state,
           "RequestedTimestamp": to_datetime(request.requested)}
    if request.completed is not None:
        out["CompletedTimestamp"] = to_datetime(request.completed)
    if request.account_id:
        out["AccountId"] = request.account_id
    if request.failure_reason:
        out["FailureReason"] = request.failure_reason
    return out


def _page(items: list, params: dict, key: str) -> dict:
    """One page of `items`; NextToken is the opaque offset of the next page."""
    start = 0
    if params.get("NextToken"):
        try:
            start = int(base64.urlsafe_b64decode(params["NextToken"].encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise errors.invalid_next_token() from None
        if not 0 <= start <= len(items):
            raise errors.invalid_next_token()
    size = params.get("MaxResults") or 20
    out: dict = {key: items[start:start + size]}
    if start + size < len(items):
        out["NextToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
    return out
