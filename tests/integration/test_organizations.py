"""AWS Organizations against a real server: an organization, member accounts made by
CreateAccount (each a real account with its OrganizationAccountAccessRole), the management
account's way into them through STS AssumeRole, who may call what, and a restart that keeps
it all — through boto3 and `aws organizations`."""

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from helpers import aws_cli_env, error_of
from member_accounts import ACCESS_ROLE, assume_access_role, create_account, role_assumer, session_client

import lakestack

AWS = Path(sys.executable).parent / "aws"


@pytest.fixture(scope="module")
def stack():
    with lakestack.local() as running:
        running.client("organizations").create_organization(FeatureSet="ALL")
        yield running


@pytest.fixture(scope="module")
def org(stack):
    return stack.client("organizations")


@pytest.fixture(scope="module")
def assumer(stack):
    return role_assumer(stack.client("iam"))


def unique(prefix: str) -> str:
    return f"{prefix}-{time.time_ns()}"


def test_organization_lifecycle():
    with lakestack.local() as fresh:
        org = fresh.client("organizations")
        error = error_of(org.describe_organization)
        assert error["Error"]["Code"] == "AWSOrganizationsNotInUseException"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert error_of(org.list_accounts)["Error"]["Code"] == "AWSOrganizationsNotInUseException"
        created = org.create_organization()["Organization"]  # FeatureSet defaults to ALL
        assert created["FeatureSet"] == "ALL"
        assert created["Id"].startswith("o-") and len(created["Id"]) == 12
        assert created["MasterAccountId"] == "000000000000"
        assert created["Arn"] == f"arn:aws:organizations::000000000000:organization/{created['Id']}"
        assert org.describe_organization()["Organization"] == created
        error = error_of(org.create_organization, FeatureSet="ALL")
        assert error["Error"]["Code"] == "AlreadyInOrganizationException"
        accounts = org.list_accounts()["Accounts"]
        assert [a["Id"] for a in accounts] == ["000000000000"]

        org.delete_organization()
        assert error_of(org.describe_organization)["Error"]["Code"] == "AWSOrganizationsNotInUseException"
        again = org.create_organization(FeatureSet="ALL")["Organization"]
        assert again["Id"] != created["Id"]
        create_account(org, "keeps-it-busy")
        assert error_of(org.delete_organization)["Error"]["Code"] == "OrganizationNotEmptyException"
        assert org.describe_organization()["Organization"]["Id"] == again["Id"]


def test_create_account_makes_a_member_account(stack, org):
    name = unique("analytics")
    status = org.create_account(Email=f"{name}@example.com", AccountName=name,
                                Tags=[{"Key": "team", "Value": "data"}])["CreateAccountStatus"]
    assert status["Id"].startswith("car-")
    assert status["AccountName"] == name
    # Done by the time CreateAccount answers: the account exists and its role can be assumed.
    assert status["State"] == "SUCCEEDED"
    account_id = status["AccountId"]
    assert len(account_id) == 12 and account_id.isdigit() and account_id != "000000000000"
    assert org.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"] == status

    organization = org.describe_organization()["Organization"]
    account = org.describe_account(AccountId=account_id)["Account"]
    assert account["Arn"] == f"arn:aws:organizations::000000000000:account/{organization['Id']}/{account_id}"
    assert (account["Email"], account["Name"], account["State"], account["Status"], account["JoinedMethod"]) == (
        f"{name}@example.com", name, "ACTIVE", "ACTIVE", "CREATED")
    listed = {a["Id"]: a for a in org.get_paginator("list_accounts").paginate().build_full_result()["Accounts"]}
    assert listed[account_id] == account
    assert listed["000000000000"]["JoinedMethod"] == "INVITED"


def test_create_account_status_and_errors(org):
    name = unique("dup")
    first = org.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
    # A taken email is not an error of CreateAccount: the request fails, as its status says.
    second = org.create_account(Email=f"{name.upper()}@EXAMPLE.com", AccountName="other")["CreateAccountStatus"]
    assert second["State"] == "FAILED"
    assert second["FailureReason"] == "EMAIL_ALREADY_EXISTS"
    assert "AccountId" not in second

    failed = org.list_create_account_status(States=["FAILED"])["CreateAccountStatuses"]
    assert second["Id"] in [s["Id"] for s in failed]
    assert first["Id"] not in [s["Id"] for s in failed]
    everything = org.get_paginator("list_create_account_status").paginate(
        PaginationConfig={"PageSize": 1}).build_full_result()["CreateAccountStatuses"]
    assert {first["Id"], second["Id"]} <= {s["Id"] for s in everything}
    assert len({s["Id"] for s in everything}) == len(everything)

    error = error_of(org.describe_create_account_status, CreateAccountRequestId="car-" + "0" * 32)
    assert error["Error"]["Code"] == "CreateAccountStatusNotFoundException"
    assert error_of(org.describe_account, AccountId="123456789012")["Error"]["Code"] == "AccountNotFoundException"
    error = error_of(org.list_accounts, NextToken="not-a-token")
    assert error["Error"]["Code"] == "InvalidInputException"
    assert error["Reason"] == "INVALID_NEXT_TOKEN"


def test_concurrent_requests_for_one_email_make_one_account(org):
    name = unique("race")
    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(lambda i: org.create_account(Email=f"{name}@example.com", AccountName=f"{name}-{i}")[
            "CreateAccountStatus"], range(6)))
    assert sorted(s["State"] for s in statuses) == ["FAILED"] * 5 + ["SUCCEEDED"]
    emails = [a.get("Email") for a in org.get_paginator("list_accounts").paginate().build_full_result()["Accounts"]]
    assert emails.count(f"{name}@example.com") == 1


def test_list_roots(org):
    organization = org.describe_organization()["Organization"]
    roots = org.list_roots()["Roots"]
    assert len(roots) == 1
    assert roots[0]["Name"] == "Root" and roots[0]["Id"].startswith("r-")
    assert roots[0]["Arn"] == f"arn:aws:organizations::000000000000:root/{organization['Id']}/{roots[0]['Id']}"


def test_access_role_is_an_administrator_trusted_by_the_management_account(stack, org, assumer):
    account_id = create_account(org, unique("roles"))
    credentials = assume_access_role(stack.endpoint_url, assumer, account_id)
    iam = session_client(stack.endpoint_url, "iam", credentials)
    role = iam.get_role(RoleName=ACCESS_ROLE)["Role"]
    assert role["Arn"] == f"arn:aws:iam::{account_id}:role/{ACCESS_ROLE}"
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"}, "Action": "sts:AssumeRole"}]
    attached = iam.list_attached_role_policies(RoleName=ACCESS_ROLE)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == ["arn:aws:iam::aws:policy/AdministratorAccess"]
    # Nothing else is in the new account, and the management account's users are not in it.
    assert [u["UserName"] for u in iam.list_users()["Users"]] == []
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == [ACCESS_ROLE]


def test_custom_role_name(stack, org, assumer):
    name = unique("custom")
    status = org.create_account(Email=f"{name}@example.com", AccountName=name,
                                RoleName="LakeAdmin")["CreateAccountStatus"]
    sts = session_client(stack.endpoint_url, "sts", assumer)
    role = f"arn:aws:iam::{status['AccountId']}:role/LakeAdmin"
    assert sts.assume_role(RoleArn=role, RoleSessionName="admin")["AssumedRoleUser"]["Arn"].startswith(
        f"arn:aws:sts::{status['AccountId']}:assumed-role/LakeAdmin/")
    error = error_of(sts.assume_role, RoleArn=f"arn:aws:iam::{status['AccountId']}:role/{ACCESS_ROLE}",
                     RoleSessionName="admin")
    assert error["Error"]["Code"] == "AccessDenied"


def test_the_session_acts_in_the_new_account(stack, org, assumer):
    account_id = create_account(org, unique("lake"))
    credentials = assume_access_role(stack.endpoint_url, assumer, account_id)
    identity = session_client(stack.endpoint_url, "sts", credentials).get_caller_identity()
    assert identity["Account"] == account_id
    assert identity["Arn"] == f"arn:aws:sts::{account_id}:assumed-role/{ACCESS_ROLE}/admin"

    s3 = session_client(stack.endpoint_url, "s3", credentials)
    bucket = unique("member-bucket")
    s3.create_bucket(Bucket=bucket)
    member_owner = s3.get_bucket_acl(Bucket=bucket)["Owner"]
    main_owner = stack.client("s3").list_buckets()["Owner"]
    assert member_owner["ID"] == s3.list_buckets()["Owner"]["ID"]
    assert member_owner["ID"] != main_owner["ID"]  # another account, another canonical user
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert bucket not in [b["Name"] for b in stack.client("s3").list_buckets()["Buckets"]]
    # The bucket is the member account's: main's root has no access to it (no policy, no ACL).
    assert error_of(stack.client("s3").list_objects_v2, Bucket=bucket)["Error"]["Code"] == "AccessDenied"


def test_who_may_assume_the_access_role(stack, org):
    account_id = create_account(org, unique("who"))
    role = f"arn:aws:iam::{account_id}:role/{ACCESS_ROLE}"
    # A root user may not call AssumeRole at all, on AWS too.
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_request.html
    error = error_of(stack.client("sts").assume_role, RoleArn=role, RoleSessionName="root")
    assert error["Error"]["Code"] == "AccessDenied"
    assert error["Error"]["Message"] == "Roles may not be assumed by root accounts."
    # The trust policy names the management account, which delegates to its IAM policies: a
    # user without sts:AssumeRole may not.
    iam = stack.client("iam")
    name = unique("no-assume")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    error = error_of(session_client(stack.endpoint_url, "sts", key).assume_role, RoleArn=role, RoleSessionName="user")
    assert error["Error"]["Code"] == "AccessDenied"


def test_only_the_management_account_manages(stack, org, assumer):
    account_id = create_account(org, unique("member"))
    member = session_client(stack.endpoint_url, "organizations",
                            assume_access_role(stack.endpoint_url, assumer, account_id))
    # Any account of the organization may describe it; the rest is the management account's.
    assert member.describe_organization()["Organization"]["MasterAccountId"] == "000000000000"
    for call, kwargs in [(member.list_accounts, {}), (member.list_roots, {}),
                         (member.describe_account, {"AccountId": account_id}),
                         (member.create_account, {"Email": "x@example.com", "AccountName": "x"}),
                         (member.list_create_account_status, {}), (member.delete_organization, {})]:
        error = error_of(call, **kwargs)
        assert error["Error"]["Code"] == "AccessDeniedException", call
    assert error_of(member.create_organization)["Error"]["Code"] == "AlreadyInOrganizationException"

    # A management-account user needs organizations:* permissions like any IAM action.
    iam = stack.client("iam")
    name = unique("reader")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["organizations:List*", "organizations:Describe*"],
                       "Resource": "*"}]}))
    reader = session_client(stack.endpoint_url, "organizations", iam.create_access_key(UserName=name)["AccessKey"])
    assert account_id in [a["Id"] for a in reader.get_paginator("list_accounts").paginate().build_full_result()[
        "Accounts"]]
    error = error_of(reader.create_account, Email="y@example.com", AccountName="y")
    assert error["Error"]["Code"] == "AccessDeniedException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_operations_not_served_say_so(org):
    error = error_of(org.list_organizational_units_for_parent, ParentId="r-abcd")
    assert error["Error"]["Code"] == "NotImplementedError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 501


@pytest.mark.skipif(not AWS.exists(), reason="the AWS CLI is not installed in this environment")
def test_cli(stack, tmp_path):
    env = aws_cli_env(stack, tmp_path)

    def aws(*args: str) -> dict:
        done = subprocess.run([str(AWS), *args, "--output", "json"], env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    name = unique("cli")
    status = aws("organizations", "create-account", "--email", f"{name}@example.com", "--account-name", name)[
        "CreateAccountStatus"]
    assert status["State"] == "SUCCEEDED"
    described = aws("organizations", "describe-create-account-status", "--create-account-request-id", status["Id"])
    assert described["CreateAccountStatus"]["AccountId"] == status["AccountId"]
    listed = aws("organizations", "list-accounts")["Accounts"]
    assert status["AccountId"] in [a["Id"] for a in listed]


def test_restart_keeps_the_organization_and_its_accounts(server_process):
    server = server_process()
    org = server.client("organizations")
    organization = org.create_organization(FeatureSet="ALL")["Organization"]
    status = org.create_account(Email="kept@example.com", AccountName="kept")["CreateAccountStatus"]
    assumer = role_assumer(server.client("iam"))
    server.kill()  # SIGKILL: what was answered must already be on disk

    server.start()
    assert org.describe_organization()["Organization"] == organization
    assert org.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"] == status
    assert status["AccountId"] in [a["Id"] for a in org.list_accounts()["Accounts"]]
    credentials = assume_access_role(server.endpoint_url, assumer, status["AccountId"])
    s3 = session_client(server.endpoint_url, "s3", credentials)
    s3.create_bucket(Bucket="kept-member-bucket")
    assert s3.list_buckets()["Buckets"][0]["Name"] == "kept-member-bucket"
    again = org.create_account(Email="kept@example.com", AccountName="again")["CreateAccountStatus"]
    assert again["FailureReason"] == "EMAIL_ALREADY_EXISTS"
