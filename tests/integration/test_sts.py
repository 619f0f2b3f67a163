"""STS against a real lakestack server: GetCallerIdentity, AssumeRole with trust and
session policies, GetSessionToken, and service principals assuming execution roles."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lakestack.inprocess import LocalStack

ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def stack():
    with LocalStack() as running:
        yield running


@pytest.fixture(scope="module")
def iam(stack):
    return stack.client("iam")


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def client_for(stack, service: str, creds: dict, region: str = "us-east-1"):
    return boto3.session.Session().client(
        service, endpoint_url=stack.endpoint_url, region_name=region,
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("SessionToken"), config=Config(retries={"max_attempts": 1}))


def doc(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def trust(principal: dict | str, **extra) -> str:
    return doc({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", **extra})


def error_code(info) -> str:
    return info.value.response["Error"]["Code"]


@pytest.fixture
def user(iam):
    """(user name, user ARN, access key dict) of a fresh user without policies."""
    user_name = name("caller")
    arn = iam.create_user(UserName=user_name)["User"]["Arn"]
    return user_name, arn, iam.create_access_key(UserName=user_name)["AccessKey"]


def make_role(iam, trust_policy: str, policy: dict | None = None, **kwargs) -> str:
    role_name = name("role")
    arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust_policy, **kwargs)["Role"]["Arn"]
    if policy:
        iam.put_role_policy(RoleName=role_name, PolicyName="permissions", PolicyDocument=doc(policy))
    return arn


LIST_USERS = {"Effect": "Allow", "Action": ["iam:ListUsers", "iam:ListRoles"], "Resource": "*"}


def test_root_caller_identity(stack):
    identity = stack.client("sts").get_caller_identity()
    assert (identity["UserId"], identity["Account"], identity["Arn"]) == (ACCOUNT, ACCOUNT,
                                                                          f"arn:aws:iam::{ACCOUNT}:root")


def test_get_caller_identity_needs_no_permission(stack, iam, user):
    user_name, arn, key = user
    iam.put_user_policy(UserName=user_name, PolicyName="deny-all", PolicyDocument=doc(
        {"Effect": "Deny", "Action": "*", "Resource": "*"}))
    assert client_for(stack, "sts", key).get_caller_identity()["Arn"] == arn


def test_assume_role_trusted_by_user_arn(stack, iam, user):
    _, user_arn, key = user
    role_arn = make_role(iam, trust({"AWS": user_arn}), LIST_USERS)
    answer = client_for(stack, "sts", key).assume_role(RoleArn=role_arn, RoleSessionName="work")
    creds, assumed = answer["Credentials"], answer["AssumedRoleUser"]
    role_name = role_arn.rsplit("/", 1)[1]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert creds["SessionToken"] and len(creds["SecretAccessKey"]) == 40
    remaining = creds["Expiration"] - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=55) < remaining <= dt.timedelta(hours=1)
    assert assumed["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/work"
    assert assumed["AssumedRoleId"].startswith("AROA") and assumed["AssumedRoleId"].endswith(":work")

    identity = client_for(stack, "sts", creds).get_caller_identity()
    assert identity["Arn"] == assumed["Arn"] and identity["UserId"] == assumed["AssumedRoleId"]
    session_iam = client_for(stack, "iam", creds)
    session_iam.list_users()  # the role's policy allows it
    with pytest.raises(ClientError) as info:
        session_iam.list_groups()  # …and nothing more
    assert error_code(info) == "AccessDenied"
    assert assumed["Arn"] in info.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as info:
        client_for(stack, "s3", creds).list_buckets()
    assert error_code(info) == "AccessDenied"
    assert iam.get_role(RoleName=role_name)["Role"]["RoleLastUsed"]["Region"] == "us-east-1"


def test_session_credentials_need_their_token(stack, iam, user):
    _, user_arn, key = user
    role_arn = make_role(iam, trust({"AWS": user_arn}))
    creds = client_for(stack, "sts", key).assume_role(RoleArn=role_arn, RoleSessionName="s-session")["Credentials"]
    without = {k: v for k, v in creds.items() if k != "SessionToken"}
    with pytest.raises(ClientError) as info:
        client_for(stack, "sts", without).get_caller_identity()
    assert error_code(info) == "InvalidClientTokenId"
    with pytest.raises(ClientError) as info:
        client_for(stack, "sts", {**creds, "SessionToken": creds["SessionToken"][:-4] + "AAAA"}).get_caller_identity()
    assert error_code(info) in ("InvalidClientTokenId", "UnrecognizedClientException")


def test_untrusted_caller_is_denied(stack, iam, user):
    _, user_arn, key = user
    role_arn = make_role(iam, trust({"AWS": "111122223333"}))
    with pytest.raises(ClientError) as info:
        client_for(stack, "sts", key).assume_role(RoleArn=role_arn, RoleSessionName="s-session")
    assert error_code(info) == "AccessDenied"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert info.value.response["Error"]["Message"] == (
        f"User: {user_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}")


def test_unknown_role_is_denied_like_an_untrusted_one(stack, user):
    _, _, key = user
    with pytest.raises(ClientError) as info:
        client_for(stack, "sts", key).assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/none", RoleSessionName="s-session")
    assert error_code(info) == "AccessDenied"


def test_trust_in_the_account_needs_the_callers_own_permission(stack, iam, user):
    user_name, _, key = user
    role_arn = make_role(iam, trust({"AWS": ACCOUNT}))
    sts = client_for(stack, "sts", key)
    with pytest.raises(ClientError) as info:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="s-session")
    assert error_code(info) == "AccessDenied"
    iam.put_user_policy(UserName=user_name, PolicyName="assume", PolicyDocument=doc(
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}))
    sts.assume_role(RoleArn=role_arn, RoleSessionName="s-session")


def test_explicit_deny_in_the_callers_policy_wins_over_trust(stack, iam, user):
    user_name, user_arn, key = user
    role_arn = make_role(iam, trust({"AWS": user_arn}))
    iam.put_user_policy(UserName=user_name, PolicyName="no-roles", PolicyDocument=doc(
        {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"}))
    with pytest.raises(ClientError) as info:
        client_for(stack, "sts", key).assume_role(RoleArn=role_arn, RoleSessionName="s-session")
    assert error_code(info) == "AccessDenied"


def test_root_may_not_assume_roles(stack, iam):
    role_arn = make_role(iam, trust({"AWS": ACCOUNT}))
    with pytest.raises(ClientError) as info:
        stack.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="s-session")
    assert error_code(info) == "AccessDenied"
    assert info.value.response["Error"]["Message"] == "Roles may not be assumed by root accounts."


def test_external_id_condition(stack, iam, user):
    _, user_arn, key = user
    role_arn = make_role(iam, trust({"AWS": user_arn}, Condition={"StringEquals": {"sts:ExternalId": "s3cret"}}))
    sts = client_for(stack, "sts", key)
    with pytest.raises(ClientError):
        sts.assume_role(RoleArn=role_arn, RoleSessionName="s-session")
    with pytest.raises(ClientError):
        sts.assume_role(RoleArn=role_arn, RoleSessionName="s-session", ExternalId="wrong")
    sts.assume_role(RoleArn=role_arn, RoleSessionName="s-session", ExternalId="s3cret")


def test_session_policy_narrows_the_role(stack, iam, user):
    _, user_arn, key = user
    role_arn = make_role(iam, trust({"AWS": user_arn}), LIST_USERS)
    answer = client_for(stack, "sts", key).assume_role(
        RoleArn=role_arn, RoleSessionName="narrow",
        Policy=doc({"Effect": "Allow", "Action": ["iam:ListRoles", "s3:*"], "Resource": "*"}))
    assert 0 <= answer["PackedPolicySize"] <= 100
    session_iam = client_for(stack, "iam", answer["Credentials"])
    session_iam.list_roles()  # allowed by both
    with pytest.raises(ClientError):
        session_iam.list_users()  # the role allows it, the session policy does not
    with pytest.raises(ClientError):
        client_for(stack, "s3", answer["Credentials"]).list_buckets()  # the session policy alone grants nothing


def test_managed_session_policy(stack, iam, user):
    _, user_arn, key = user
    role_arn = make_role(iam, trust({"AWS": user_arn}), LIST_USERS)
    policy_arn = iam.create_policy(PolicyName=name("session"), PolicyDocument=doc(
        {"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"}))["Policy"]["Arn"]
    creds = client_for(stack, "sts", key).assume_role(
        RoleArn=role_arn, RoleSessionName="m-session", PolicyArns=[{"arn": policy_arn}])["Credentials"]
    session_iam = client_for(stack, "iam", creds)
    session_iam.list_users()
    with pytest.raises(ClientError):
        session_iam.list_roles()


def test_malformed_session_policy(stack, iam, user):
    _, user_arn, key = user
    role_arn = make_role(iam, trust({"AWS": user_arn}))
    with pytest.raises(ClientError) as info:
        client_for(stack, "sts", key).assume_role(RoleArn=role_arn, RoleSessionName="s-session", Policy="{nope")
    assert error_code(info) == "MalformedPolicyDocument"


def test_duration_limits(stack, iam, user):
    _, user_arn, key = user
    role_arn = make_role(iam, trust({"AWS": user_arn}), MaxSessionDuration=7200)
    sts = client_for(stack, "sts", key)
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="s-session", DurationSeconds=7200)["Credentials"]
    assert creds["Expiration"] - dt.datetime.now(dt.UTC) > dt.timedelta(minutes=115)
    with pytest.raises(ClientError) as info:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="s-session", DurationSeconds=7201)
    assert error_code(info) == "ValidationError"
    with pytest.raises(ClientError) as info:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="bad name!")
    assert error_code(info) == "ValidationError"


def test_role_chaining(stack, iam, user):
    _, user_arn, key = user
    first = make_role(iam, trust({"AWS": user_arn}))
    second = make_role(iam, trust({"AWS": first}), LIST_USERS)
    creds = client_for(stack, "sts", key).assume_role(RoleArn=first, RoleSessionName="one")["Credentials"]
    sts = client_for(stack, "sts", creds)
    with pytest.raises(ClientError) as info:
        sts.assume_role(RoleArn=second, RoleSessionName="two", DurationSeconds=7200)
    assert error_code(info) == "ValidationError"
    chained = sts.assume_role(RoleArn=second, RoleSessionName="two")["Credentials"]
    client_for(stack, "iam", chained).list_users()


def test_session_tags_need_tag_session_and_become_principal_tags(stack, iam, user):
    _, user_arn, key = user
    role_arn = make_role(iam, trust({"AWS": user_arn}), {
        "Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalTag/team": "data"}}})
    sts = client_for(stack, "sts", key)
    with pytest.raises(ClientError) as info:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="t-session", Tags=[{"Key": "team", "Value": "data"}])
    assert "sts:TagSession" in info.value.response["Error"]["Message"]
    role_name = role_arn.rsplit("/", 1)[1]
    iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=doc(
        {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": ["sts:AssumeRole", "sts:TagSession"]}))
    tagged = sts.assume_role(RoleArn=role_arn, RoleSessionName="t-session",
                             Tags=[{"Key": "team", "Value": "data"}])["Credentials"]
    client_for(stack, "iam", tagged).list_users()
    untagged = sts.assume_role(RoleArn=role_arn, RoleSessionName="u-session")["Credentials"]
    with pytest.raises(ClientError):
        client_for(stack, "iam", untagged).list_users()


def test_deleting_the_role_ends_what_its_sessions_may_do(stack, iam, user):
    _, user_arn, key = user
    role_arn = make_role(iam, trust({"AWS": user_arn}), LIST_USERS)
    creds = client_for(stack, "sts", key).assume_role(RoleArn=role_arn, RoleSessionName="s-session")["Credentials"]
    session_iam = client_for(stack, "iam", creds)
    session_iam.list_users()
    role_name = role_arn.rsplit("/", 1)[1]
    iam.delete_role_policy(RoleName=role_name, PolicyName="permissions")
    iam.delete_role(RoleName=role_name)
    with pytest.raises(ClientError) as info:
        session_iam.list_users()
    assert error_code(info) == "AccessDenied"


def test_expired_session_is_refused(stack, iam, user):
    _, user_arn, key = user
    role_arn = make_role(iam, trust({"AWS": user_arn}))
    creds = client_for(stack, "sts", key).assume_role(RoleArn=role_arn, RoleSessionName="s-session")["Credentials"]
    store = stack.stack.provider("iam").store
    with store.write() as db:  # let the clock run out without waiting 15 minutes
        db.execute("UPDATE sessions SET expiration = ? WHERE access_key_id = ?",
                   (time.time() - 1, creds["AccessKeyId"]))
    with pytest.raises(ClientError) as info:
        client_for(stack, "sts", creds).get_caller_identity()
    assert error_code(info) == "ExpiredToken"


# --- GetSessionToken -------------------------------------------------------------------------


def test_get_session_token_acts_as_the_user(stack, iam, user):
    user_name, user_arn, key = user
    iam.put_user_policy(UserName=user_name, PolicyName="p", PolicyDocument=doc(
        {"Effect": "Allow", "Action": ["iam:ListUsers", "s3:ListAllMyBuckets"], "Resource": "*"}))
    creds = client_for(stack, "sts", key).get_session_token(DurationSeconds=900)["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert dt.timedelta(minutes=14) < creds["Expiration"] - dt.datetime.now(dt.UTC) <= dt.timedelta(minutes=15)
    sts = client_for(stack, "sts", creds)
    assert sts.get_caller_identity()["Arn"] == user_arn
    client_for(stack, "s3", creds).list_buckets()
    with pytest.raises(ClientError):  # no IAM without MFA
        client_for(stack, "iam", creds).list_users()
    with pytest.raises(ClientError) as info:
        sts.get_session_token()
    assert error_code(info) == "AccessDenied"


def test_get_session_token_for_root(stack):
    creds = stack.client("sts").get_session_token()["Credentials"]
    assert creds["Expiration"] - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=1)
    assert client_for(stack, "sts", creds).get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    client_for(stack, "s3", creds).list_buckets()


def test_get_session_token_duration_bounds(stack, user):
    _, _, key = user
    with pytest.raises(ClientError) as info:
        client_for(stack, "sts", key).get_session_token(DurationSeconds=129601)
    assert error_code(info) == "ValidationError"


# --- services assuming execution roles -------------------------------------------------------


def test_assume_role_for_service(stack, iam):
    role_arn = make_role(iam, trust({"Service": "lambda.amazonaws.com"}), LIST_USERS)
    sts = stack.stack.provider("sts")
    credential = sts.assume_role_for_service(role_arn, "lambda.amazonaws.com", "my-function")
    role_name = role_arn.rsplit("/", 1)[1]
    assert credential.principal.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/my-function"
    creds = {"AccessKeyId": credential.access_key_id, "SecretAccessKey": credential.secret_access_key,
             "SessionToken": credential.session_token}
    client_for(stack, "iam", creds).list_users()
    # The principal can also be used in process, exactly like a client call.
    answer = stack.stack.call("iam", "ListRoles", {}, credential.principal)
    assert role_name in [r["RoleName"] for r in answer["Roles"]]
    with pytest.raises(Exception) as info:
        stack.stack.call("iam", "ListGroups", {}, credential.principal)
    assert getattr(info.value, "code", "") == "AccessDenied"
    with pytest.raises(Exception) as info:
        sts.assume_role_for_service(role_arn, "glue.amazonaws.com", "job")
    assert getattr(info.value, "code", "") == "AccessDenied"


def test_users_cannot_assume_service_roles(stack, iam, user):
    _, _, key = user
    role_arn = make_role(iam, trust({"Service": "lambda.amazonaws.com"}))
    with pytest.raises(ClientError) as info:
        client_for(stack, "sts", key).assume_role(RoleArn=role_arn, RoleSessionName="s-session")
    assert error_code(info) == "AccessDenied"
