"""A member account made by CreateAccount: a new account ID registered in IAM, and the role
through which the management account works inside it.

AWS creates the role (by default `OrganizationAccountAccessRole`) with the AWS managed policy
AdministratorAccess and a trust policy naming the management account, and gives the new
account's root user no password and no access key: the way in is STS AssumeRole.
https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_accounts_access.html
"""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING

from lakestack.services.iam.credentials import root_principal

if TYPE_CHECKING:
    from lakestack.stack import Stack

DEFAULT_ROLE = "OrganizationAccountAccessRole"
ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"


def new_account_id(taken) -> str:
    """A random 12-digit account ID that `taken(account_id)` says is free."""
    while True:
        account_id = str(secrets.randbelow(9 * 10**11) + 10**11)
        if not taken(account_id):
            return account_id


def access_role_trust(management_account: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{management_account}:root"},
                       "Action": "sts:AssumeRole"}],
    })


def create_in_iam(stack: Stack, account_id: str, management_account: str, role_name: str) -> None:
    """Registers the account in IAM and creates its access role, as the new account's root
    (through IAM's own operations, so the role is an ordinary one)."""
    stack.provider("iam").store.ensure_account(account_id)
    principal = root_principal(account_id)
    stack.call("iam", "CreateRole", {"RoleName": role_name, "AssumeRolePolicyDocument":
                                     access_role_trust(management_account)}, principal)
    stack.call("iam", "AttachRolePolicy", {"RoleName": role_name, "PolicyArn": ADMINISTRATOR_ACCESS}, principal)
