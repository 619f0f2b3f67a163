"""IAM against a real lakestack server, driven by boto3: identities, keys, policies, and
the policy engine deciding real requests."""

from __future__ import annotations

import json
import os
import stat
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lakestack.inprocess import LocalStack

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
S3_READ_ONLY = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"


@pytest.fixture(scope="module")
def stack():
    with LocalStack() as running:
        yield running


@pytest.fixture(scope="module")
def iam(stack):
    return stack.client("iam")


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def client_for(stack, service: str, key: dict, token: str | None = None):
    return boto3.session.Session().client(
        service, endpoint_url=stack.endpoint_url, region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
        aws_session_token=token or key.get("SessionToken"), config=Config(retries={"max_attempts": 1}))


def doc(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


@pytest.fixture
def user(iam, stack):
    """A fresh user with an access key: (name, key dict)."""
    user_name = name("user")
    iam.create_user(UserName=user_name)
    key = iam.create_access_key(UserName=user_name)["AccessKey"]
    return user_name, key


# --- root bootstrap --------------------------------------------------------------------------


def test_root_profile_written_private(stack):
    path = stack.home / "credentials"
    text = path.read_text()
    key_id, secret = stack.stack.provider("iam").root_credentials()
    assert "[lakestack]" in text and key_id in text and secret in text
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert key_id.startswith("AKIA") and len(key_id) == 20 and len(secret) == 40


def test_root_key_survives_restart_and_can_be_fixed_by_settings(tmp_path):
    with LocalStack(home=tmp_path) as first:
        original = first.stack.provider("iam").root_credentials()
    with LocalStack(home=tmp_path) as second:
        assert second.stack.provider("iam").root_credentials() == original
        assert second.client("sts").get_caller_identity()["Arn"] == "arn:aws:iam::000000000000:root"
    fixed = ("AKIAFIXEDROOTKEY0001", "s" * 40)
    with LocalStack(home=tmp_path, root_access_key_id=fixed[0], root_secret_access_key=fixed[1]) as third:
        assert tuple(third.stack.provider("iam").root_credentials()) == fixed
        assert third.client("sts").get_caller_identity()["Account"] == "000000000000"
        old = client_for(third, "sts", {"AccessKeyId": original[0], "SecretAccessKey": original[1]})
        with pytest.raises(ClientError) as info:
            old.get_caller_identity()
        assert error_code(info) == "InvalidClientTokenId"
        assert fixed[0] in (tmp_path / "credentials").read_text()


def test_root_get_user_describes_the_account(iam):
    assert iam.get_user()["User"]["Arn"] == "arn:aws:iam::000000000000:root"


# --- users, groups, roles --------------------------------------------------------------------


def test_user_lifecycle(iam):
    user_name = name("life")
    created = iam.create_user(UserName=user_name, Path="/team/", Tags=[{"Key": "dept", "Value": "data"}])["User"]
    assert created["Arn"] == f"arn:aws:iam::000000000000:user/team/{user_name}"
    assert created["UserId"].startswith("AIDA") and len(created["UserId"]) == 21
    fetched = iam.get_user(UserName=user_name.upper())["User"]  # names are case-insensitive
    assert fetched["UserName"] == user_name and fetched["Tags"] == [{"Key": "dept", "Value": "data"}]
    with pytest.raises(ClientError) as info:
        iam.create_user(UserName=user_name)
    assert error_code(info) == "EntityAlreadyExists"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert user_name in [u["UserName"] for u in iam.list_users(PathPrefix="/team/")["Users"]]
    iam.update_user(UserName=user_name, NewUserName=user_name + "-x")
    iam.tag_user(UserName=user_name + "-x", Tags=[{"Key": "owner", "Value": "me"}])
    iam.untag_user(UserName=user_name + "-x", TagKeys=["dept"])
    assert iam.list_user_tags(UserName=user_name + "-x")["Tags"] == [{"Key": "owner", "Value": "me"}]
    iam.delete_user(UserName=user_name + "-x")
    with pytest.raises(ClientError) as info:
        iam.get_user(UserName=user_name + "-x")
    assert error_code(info) == "NoSuchEntity"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_invalid_names_and_paths(iam):
    with pytest.raises(ClientError) as info:
        iam.create_user(UserName="has space")
    assert error_code(info) == "ValidationError"
    with pytest.raises(ClientError) as info:
        iam.create_user(UserName=name("p"), Path="no-slashes")
    assert error_code(info) == "ValidationError"


def test_list_users_paginates(iam):
    prefix = f"/page{uuid.uuid4().hex[:6]}/"
    names = sorted(name("pg") for _ in range(5))
    for user_name in names:
        iam.create_user(UserName=user_name, Path=prefix)
    first = iam.list_users(PathPrefix=prefix, MaxItems=2)
    assert first["IsTruncated"] and len(first["Users"]) == 2
    second = iam.list_users(PathPrefix=prefix, MaxItems=2, Marker=first["Marker"])
    assert [u["UserName"] for u in first["Users"] + second["Users"]] == names[:4]
    pages = iam.get_paginator("list_users").paginate(PathPrefix=prefix, PaginationConfig={"PageSize": 2})
    assert [u["UserName"] for page in pages for u in page["Users"]] == names


def test_delete_user_conflicts_until_everything_is_removed(iam):
    user_name, group_name = name("doomed"), name("grp")
    iam.create_user(UserName=user_name)
    iam.create_group(GroupName=group_name)
    key = iam.create_access_key(UserName=user_name)["AccessKey"]
    iam.put_user_policy(UserName=user_name, PolicyName="inline", PolicyDocument=doc(allow("s3:*")))
    iam.attach_user_policy(UserName=user_name, PolicyArn=READ_ONLY)
    iam.add_user_to_group(GroupName=group_name, UserName=user_name)
    cleanups = [
        lambda: iam.delete_access_key(UserName=user_name, AccessKeyId=key["AccessKeyId"]),
        lambda: iam.delete_user_policy(UserName=user_name, PolicyName="inline"),
        lambda: iam.detach_user_policy(UserName=user_name, PolicyArn=READ_ONLY),
        lambda: iam.remove_user_from_group(GroupName=group_name, UserName=user_name),
    ]
    for cleanup in cleanups:
        with pytest.raises(ClientError) as info:
            iam.delete_user(UserName=user_name)
        assert error_code(info) == "DeleteConflict"
        cleanup()
    iam.delete_user(UserName=user_name)
    iam.delete_group(GroupName=group_name)


def test_groups(iam):
    group_name, user_name = name("g"), name("member")
    iam.create_group(GroupName=group_name)
    iam.create_user(UserName=user_name)
    iam.add_user_to_group(GroupName=group_name, UserName=user_name)
    got = iam.get_group(GroupName=group_name)
    assert got["Group"]["GroupId"].startswith("AGPA")
    assert [u["UserName"] for u in got["Users"]] == [user_name]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=user_name)["Groups"]] == [group_name]
    with pytest.raises(ClientError) as info:
        iam.delete_group(GroupName=group_name)
    assert error_code(info) == "DeleteConflict"
    iam.remove_user_from_group(GroupName=group_name, UserName=user_name)
    iam.delete_group(GroupName=group_name)


TRUST_LAMBDA = doc({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole"})


def test_role_lifecycle(iam):
    role_name = name("role")
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=TRUST_LAMBDA, Description="d",
                           MaxSessionDuration=7200, Tags=[{"Key": "k", "Value": "v"}])["Role"]
    assert role["RoleId"].startswith("AROA")
    got = iam.get_role(RoleName=role_name)["Role"]
    # boto3 URL-decodes and parses the document, as it does for AWS's answers
    assert got["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert got["MaxSessionDuration"] == 7200 and got["Description"] == "d"
    iam.update_role(RoleName=role_name, Description="new", MaxSessionDuration=3600)
    iam.tag_role(RoleName=role_name, Tags=[{"Key": "K", "Value": "w"}])  # tag keys ignore case
    assert iam.list_role_tags(RoleName=role_name)["Tags"] == [{"Key": "K", "Value": "w"}]
    iam.untag_role(RoleName=role_name, TagKeys=["k"])
    assert iam.list_role_tags(RoleName=role_name)["Tags"] == []
    iam.put_role_policy(RoleName=role_name, PolicyName="p", PolicyDocument=doc(allow("s3:GetObject")))
    assert iam.get_role_policy(RoleName=role_name, PolicyName="p")["PolicyDocument"]["Statement"][0]["Action"] \
        == "s3:GetObject"
    assert iam.list_role_policies(RoleName=role_name)["PolicyNames"] == ["p"]
    with pytest.raises(ClientError) as info:
        iam.delete_role(RoleName=role_name)
    assert error_code(info) == "DeleteConflict"
    iam.delete_role_policy(RoleName=role_name, PolicyName="p")
    iam.delete_role(RoleName=role_name)
    assert role_name not in [r["RoleName"] for r in iam.list_roles()["Roles"]]


def test_trust_policy_validation(iam):
    with pytest.raises(ClientError) as info:
        iam.create_role(RoleName=name("r"), AssumeRolePolicyDocument=doc(allow("sts:AssumeRole")))
    assert error_code(info) == "MalformedPolicyDocument"
    missing_user = doc({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/nobody-here"},
                        "Action": "sts:AssumeRole"})
    with pytest.raises(ClientError) as info:
        iam.create_role(RoleName=name("r"), AssumeRolePolicyDocument=missing_user)
    assert error_code(info) == "MalformedPolicyDocument"
    assert "Invalid principal in policy" in info.value.response["Error"]["Message"]


# --- access keys -----------------------------------------------------------------------------


def test_access_key_authenticates_as_the_user(stack, iam, user):
    user_name, key = user
    assert key["AccessKeyId"].startswith("AKIA") and len(key["SecretAccessKey"]) == 40
    identity = client_for(stack, "sts", key).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:iam::000000000000:user/{user_name}"
    assert identity["UserId"].startswith("AIDA")
    listed = iam.list_access_keys(UserName=user_name)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"]]


def test_inactive_key_is_refused(stack, iam, user):
    user_name, key = user
    sts = client_for(stack, "sts", key)
    iam.update_access_key(UserName=user_name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as info:
        sts.get_caller_identity()
    assert error_code(info) == "InvalidClientTokenId"
    iam.update_access_key(UserName=user_name, AccessKeyId=key["AccessKeyId"], Status="Active")
    assert sts.get_caller_identity()["Arn"].endswith(user_name)


def test_at_most_two_keys(iam, user):
    user_name, _ = user
    iam.create_access_key(UserName=user_name)
    with pytest.raises(ClientError) as info:
        iam.create_access_key(UserName=user_name)
    assert error_code(info) == "LimitExceeded"


def test_access_key_last_used(stack, iam, user):
    user_name, key = user
    never = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert never["UserName"] == user_name and never["AccessKeyLastUsed"]["ServiceName"] == "N/A"
    iam.attach_user_policy(UserName=user_name, PolicyArn=READ_ONLY)
    client_for(stack, "iam", key).list_users()
    used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
    assert used["ServiceName"] == "iam" and used["LastUsedDate"]


def test_users_manage_their_own_keys_with_a_username_variable(stack, iam, user):
    user_name, key = user
    other_name = name("other")
    iam.create_user(UserName=other_name)
    iam.put_user_policy(UserName=user_name, PolicyName="own-keys", PolicyDocument=doc(
        allow(["iam:CreateAccessKey", "iam:ListAccessKeys", "iam:GetUser"],
              "arn:aws:iam::*:user/${aws:username}")))
    own = client_for(stack, "iam", key)
    assert own.get_user()["User"]["UserName"] == user_name  # no UserName: the caller
    assert len(own.list_access_keys()["AccessKeyMetadata"]) == 1
    with pytest.raises(ClientError) as info:
        own.list_access_keys(UserName=other_name)
    assert error_code(info) == "AccessDenied"


# --- the policy engine on real requests ------------------------------------------------------


def test_no_policy_denies_then_attach_allows_then_deny_wins(stack, iam, user):
    user_name, key = user
    s3 = client_for(stack, "s3", key)
    their_iam = client_for(stack, "iam", key)
    with pytest.raises(ClientError) as info:
        s3.list_buckets()
    assert error_code(info) == "AccessDenied"
    with pytest.raises(ClientError) as info:
        their_iam.list_users()
    assert error_code(info) == "AccessDenied"
    assert f"user/{user_name} is not authorized to perform: iam:ListUsers" in info.value.response["Error"]["Message"]

    iam.attach_user_policy(UserName=user_name, PolicyArn=S3_READ_ONLY)
    s3.list_buckets()
    iam.put_user_policy(UserName=user_name, PolicyName="list-users", PolicyDocument=doc(allow("iam:ListUsers")))
    their_iam.list_users()

    iam.put_user_policy(UserName=user_name, PolicyName="no-listing", PolicyDocument=doc(
        {"Effect": "Deny", "Action": ["s3:ListAllMyBuckets", "iam:List*"], "Resource": "*"}))
    for call in (s3.list_buckets, their_iam.list_users):
        with pytest.raises(ClientError) as info:
            call()
        assert error_code(info) == "AccessDenied"
    iam.delete_user_policy(UserName=user_name, PolicyName="no-listing")
    s3.list_buckets()


def test_group_policies_apply_to_members(stack, iam, user):
    user_name, key = user
    group_name = name("readers")
    iam.create_group(GroupName=group_name)
    iam.put_group_policy(GroupName=group_name, PolicyName="read", PolicyDocument=doc(allow("iam:ListGroups")))
    their_iam = client_for(stack, "iam", key)
    with pytest.raises(ClientError):
        their_iam.list_groups()
    iam.add_user_to_group(GroupName=group_name, UserName=user_name)
    their_iam.list_groups()
    iam.remove_user_from_group(GroupName=group_name, UserName=user_name)
    with pytest.raises(ClientError):
        their_iam.list_groups()


def test_condition_on_requested_region(stack, iam, user):
    user_name, key = user
    iam.put_user_policy(UserName=user_name, PolicyName="eu-only", PolicyDocument=doc(
        allow("s3:ListAllMyBuckets", Condition={"StringEquals": {"aws:RequestedRegion": "eu-west-1"}})))
    with pytest.raises(ClientError):
        client_for(stack, "s3", key).list_buckets()
    eu = boto3.session.Session().client("s3", endpoint_url=stack.endpoint_url, region_name="eu-west-1",
                                        aws_access_key_id=key["AccessKeyId"],
                                        aws_secret_access_key=key["SecretAccessKey"])
    eu.list_buckets()


# --- managed policies ------------------------------------------------------------------------


def test_managed_policy_versions(stack, iam, user):
    user_name, key = user
    policy_name = name("pol")
    created = iam.create_policy(PolicyName=policy_name, PolicyDocument=doc(allow("iam:ListRoles")),
                                Description="roles")["Policy"]
    arn = created["Arn"]
    assert arn == f"arn:aws:iam::000000000000:policy/{policy_name}"
    assert created["PolicyId"].startswith("ANPA") and created["DefaultVersionId"] == "v1"
    iam.attach_user_policy(UserName=user_name, PolicyArn=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    their_iam = client_for(stack, "iam", key)
    their_iam.list_roles()

    v2 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc(allow("iam:ListGroups")),
                                   SetAsDefault=True)["PolicyVersion"]
    assert v2 == {**v2, "VersionId": "v2", "IsDefaultVersion": True}
    with pytest.raises(ClientError):
        their_iam.list_roles()  # the default version decides
    their_iam.list_groups()
    got = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert got["Document"]["Statement"][0]["Action"] == "iam:ListRoles" and not got["IsDefaultVersion"]

    for _ in range(3):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc(allow("s3:GetObject")))
    with pytest.raises(ClientError) as info:
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc(allow("s3:GetObject")))
    assert error_code(info) == "LimitExceeded"
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [v["VersionId"] for v in versions] == ["v5", "v4", "v3", "v2", "v1"]
    with pytest.raises(ClientError) as info:
        iam.delete_policy_version(PolicyArn=arn, VersionId="v2")
    assert error_code(info) == "DeleteConflict"
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    their_iam.list_roles()
    for version in ("v2", "v3", "v4", "v5"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=version)

    with pytest.raises(ClientError) as info:
        iam.delete_policy(PolicyArn=arn)
    assert error_code(info) == "DeleteConflict"
    assert arn in [p["Arn"] for p in iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]]
    iam.detach_user_policy(UserName=user_name, PolicyArn=arn)
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as info:
        iam.get_policy(PolicyArn=arn)
    assert error_code(info) == "NoSuchEntity"


def test_aws_managed_policies_are_listed(iam):
    arns = {p["Arn"] for p in iam.list_policies(Scope="AWS", MaxItems=1000)["Policies"]}
    assert {READ_ONLY, S3_READ_ONLY, "arn:aws:iam::aws:policy/AdministratorAccess",
            "arn:aws:iam::aws:policy/AmazonS3FullAccess"} <= arns
    version = iam.get_policy_version(PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess", VersionId="v1")
    assert version["PolicyVersion"]["Document"]["Statement"][0]["Action"] == ["*"]


def test_list_entities_for_policy(iam, user):
    user_name, _ = user
    group_name, role_name = name("g"), name("r")
    arn = iam.create_policy(PolicyName=name("shared"), PolicyDocument=doc(allow("s3:GetObject")))["Policy"]["Arn"]
    iam.create_group(GroupName=group_name)
    iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=TRUST_LAMBDA)
    iam.attach_user_policy(UserName=user_name, PolicyArn=arn)
    iam.attach_group_policy(GroupName=group_name, PolicyArn=arn)
    iam.attach_role_policy(RoleName=role_name, PolicyArn=arn)
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    assert [u["UserName"] for u in entities["PolicyUsers"]] == [user_name]
    assert [g["GroupName"] for g in entities["PolicyGroups"]] == [group_name]
    assert [r["RoleName"] for r in entities["PolicyRoles"]] == [role_name]
    only_roles = iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="Role")
    assert only_roles["PolicyUsers"] == [] and len(only_roles["PolicyRoles"]) == 1
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]] \
        == [arn]
    assert iam.list_instance_profiles_for_role(RoleName=role_name)["InstanceProfiles"] == []


def test_attach_unknown_policy(iam, user):
    user_name, _ = user
    with pytest.raises(ClientError) as info:
        iam.attach_user_policy(UserName=user_name, PolicyArn="arn:aws:iam::000000000000:policy/none")
    assert error_code(info) == "NoSuchEntity"


@pytest.mark.parametrize("document,message", [
    ("{not json", "This policy contains invalid Json"),
    (json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]}),
     "Policy statement must contain actions."),
    (json.dumps({"Statement": [allow("s3:*")]}), "Policy document must be version 2012-10-17 or greater."),
    (doc(allow("GetObject")), "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
])
def test_malformed_managed_policy(iam, document, message):
    with pytest.raises(ClientError) as info:
        iam.create_policy(PolicyName=name("bad"), PolicyDocument=document)
    assert error_code(info) == "MalformedPolicyDocument"
    assert info.value.response["Error"]["Message"] == message


def test_malformed_inline_policy(iam, user):
    user_name, _ = user
    with pytest.raises(ClientError) as info:
        iam.put_user_policy(UserName=user_name, PolicyName="p", PolicyDocument=doc(
            {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}))
    assert error_code(info) == "MalformedPolicyDocument"


def test_inline_policy_size_quota(iam, user):
    user_name, _ = user
    big = doc(allow([f"s3:GetObject{i:04d}" for i in range(150)]))
    with pytest.raises(ClientError) as info:
        iam.put_user_policy(UserName=user_name, PolicyName="big", PolicyDocument=big)
    assert error_code(info) == "LimitExceeded"


def test_simulate_principal_policy(iam, user):
    user_name, _ = user
    iam.put_user_policy(UserName=user_name, PolicyName="p", PolicyDocument=doc(
        allow("s3:GetObject", "arn:aws:s3:::lake/*"),
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/secret/*"}))
    arn = iam.get_user(UserName=user_name)["User"]["Arn"]
    results = iam.simulate_principal_policy(
        PolicySourceArn=arn, ActionNames=["s3:GetObject", "s3:PutObject"],
        ResourceArns=["arn:aws:s3:::lake/a", "arn:aws:s3:::lake/secret/b"])["EvaluationResults"]
    decisions = {(r["EvalActionName"], r["EvalResourceName"]): r["EvalDecision"] for r in results}
    assert decisions == {
        ("s3:GetObject", "arn:aws:s3:::lake/a"): "allowed",
        ("s3:GetObject", "arn:aws:s3:::lake/secret/b"): "explicitDeny",
        ("s3:PutObject", "arn:aws:s3:::lake/a"): "implicitDeny",
        ("s3:PutObject", "arn:aws:s3:::lake/secret/b"): "implicitDeny",
    }
