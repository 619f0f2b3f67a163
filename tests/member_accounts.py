"""A second AWS account for tests, made as a user makes one: an organization, CreateAccount,
then STS AssumeRole into the new account's OrganizationAccountAccessRole from an IAM user of
the management account (a root user may not call AssumeRole).
(Importable because tests/conftest.py puts this folder on sys.path.)"""

import itertools
import json
import time

import boto3
from botocore.config import Config

ACCESS_ROLE = "OrganizationAccountAccessRole"
_names = itertools.count()


def session_client(endpoint: str, service: str, credentials: dict):
    """A client for `credentials` as STS answers them (AccessKeyId, SecretAccessKey, SessionToken)
    or as IAM's CreateAccessKey does (no token)."""
    return boto3.session.Session().client(
        service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"], aws_session_token=credentials.get("SessionToken"),
        config=Config(retries={"max_attempts": 0}))


def ensure_organization(organizations) -> None:
    try:
        organizations.create_organization(FeatureSet="ALL")
    except organizations.exceptions.AlreadyInOrganizationException:
        pass


def create_account(organizations, name: str) -> str:
    """A new member account's ID, once DescribeCreateAccountStatus says it exists."""
    status = organizations.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
    deadline = time.monotonic() + 30
    while status["State"] == "IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.1)
        status = organizations.describe_create_account_status(CreateAccountRequestId=status["Id"])[
            "CreateAccountStatus"]
    assert status["State"] == "SUCCEEDED", status
    return status["AccountId"]


def role_assumer(iam) -> dict:
    """Access key of a new IAM user of the management account allowed sts:AssumeRole."""
    name = f"role-assumer-{next(_names)}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="assume", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    return iam.create_access_key(UserName=name)["AccessKey"]


def assume_access_role(endpoint: str, assumer: dict, account_id: str) -> dict:
    sts = session_client(endpoint, "sts", assumer)
    return sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{ACCESS_ROLE}",
                           RoleSessionName="admin")["Credentials"]


def second_account(endpoint: str, management_client, name: str | None = None) -> tuple[str, dict]:
    """(account ID, administrator session credentials) of a new member account.
    `management_client(service)` makes clients as the management account's root."""
    ensure_organization(management_client("organizations"))
    account_id = create_account(management_client("organizations"), name or f"member-{time.time_ns()}")
    assumer = role_assumer(management_client("iam"))
    return account_id, assume_access_role(endpoint, assumer, account_id)
