"""IAM OpenID Connect identity providers against a real server: create, read, change,
tag, delete; AWS's validation errors and quotas; roles that trust a provider; the AWS CLI;
a restart."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from helpers import aws_cli_env

from lakestack.inprocess import LocalStack

THUMB = "6938fd4d98bab03faadb97b34396831e3780aea1"
AWS = Path(sys.executable).parent / "aws"


@pytest.fixture(scope="module")
def stack():
    with LocalStack() as running:
        yield running


@pytest.fixture(scope="module")
def iam(stack):
    return stack.client("iam")


@pytest.fixture
def url():
    return f"https://oidc-{uuid.uuid4().hex[:8]}.example.com"


def fails(call, code: str, message: str | None = None, **kwargs) -> dict:
    with pytest.raises(ClientError) as excinfo:
        call(**kwargs)
    error = excinfo.value.response["Error"]
    assert error["Code"] == code, error
    if message is not None:
        assert error["Message"] == message
    return excinfo.value.response


def account(stack) -> str:
    return stack.client("sts").get_caller_identity()["Account"]


def test_lifecycle(iam, stack, url):
    created = iam.create_open_id_connect_provider(Url=url + "/id/ABC", ClientIDList=["sts.amazonaws.com"],
                                                  ThumbprintList=[THUMB.upper()],
                                                  Tags=[{"Key": "team", "Value": "data"}])
    arn = created["OpenIDConnectProviderArn"]
    host = url.removeprefix("https://")
    assert arn == f"arn:aws:iam::{account(stack)}:oidc-provider/{host}/id/ABC"
    assert created["Tags"] == [{"Key": "team", "Value": "data"}]
    assert arn in [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]

    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["Url"] == f"{host}/id/ABC"  # without the scheme, as AWS answers
    assert got["ClientIDList"] == ["sts.amazonaws.com"]
    assert got["ThumbprintList"] == [THUMB]  # kept in lower case
    assert got["Tags"] == [{"Key": "team", "Value": "data"}]
    assert got["CreateDate"].year >= 2024

    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="app")
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="app")  # idempotent
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ClientIDList"] == [
        "sts.amazonaws.com", "app"]
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="sts.amazonaws.com")
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="never-there")
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ClientIDList"] == ["app"]

    iam.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=arn, ThumbprintList=["a" * 40, "B" * 40])
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ThumbprintList"] == ["a" * 40, "b" * 40]

    iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn, Tags=[{"Key": "TEAM", "Value": "lake"},
                                                                         {"Key": "env", "Value": "ci"}])
    assert iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"] == [
        {"Key": "TEAM", "Value": "lake"}, {"Key": "env", "Value": "ci"}]
    iam.untag_open_id_connect_provider(OpenIDConnectProviderArn=arn, TagKeys=["team"])
    assert iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"] == [
        {"Key": "env", "Value": "ci"}]

    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert arn not in [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    response = fails(iam.get_open_id_connect_provider, "NoSuchEntity",
                     f"OpenIDConnect Provider not found for arn {arn}", OpenIDConnectProviderArn=arn)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 404
    fails(iam.delete_open_id_connect_provider, "NoSuchEntity", f"OpenId connect Provider {arn} cannot be found.",
          OpenIDConnectProviderArn=arn)
    for call, extra in ((iam.add_client_id_to_open_id_connect_provider, {"ClientID": "x"}),
                        (iam.update_open_id_connect_provider_thumbprint, {"ThumbprintList": [THUMB]}),
                        (iam.tag_open_id_connect_provider, {"Tags": [{"Key": "k", "Value": "v"}]}),
                        (iam.list_open_id_connect_provider_tags, {})):
        fails(call, "NoSuchEntity", OpenIDConnectProviderArn=arn, **extra)


def test_thumbprints_optional_and_url_is_identity(iam, url):
    bare = iam.create_open_id_connect_provider(Url=url)["OpenIDConnectProviderArn"]
    slash = iam.create_open_id_connect_provider(Url=url + "/")["OpenIDConnectProviderArn"]
    try:
        assert bare != slash  # the URL verbatim is the provider's identity
        got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=bare)
        assert got["ThumbprintList"] == [] and got["ClientIDList"] == [] and got["Tags"] == []
        response = fails(iam.create_open_id_connect_provider, "EntityAlreadyExists",
                         f"Provider with url {url} already exists.", Url=url, ThumbprintList=[THUMB])
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 409
    finally:
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=bare)
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=slash)


@pytest.mark.parametrize(("bad", "code", "message"), [
    ("example.com", "ValidationError", "Invalid Open ID Connect Provider URL"),
    ("https://", "ValidationError", "Invalid Open ID Connect Provider URL"),
    ("http://example.com", "InvalidInput", "Invalid Open ID Connect Provider URL. The URL must begin with https://."),
    ("https://user:pw@example.com", "InvalidInput", "Invalid Open ID Connect Provider URL."),
    ("https://example.com?x=1", "InvalidInput", "Invalid Open ID Connect Provider URL."),
    ("https://example.com#f", "InvalidInput", "Invalid Open ID Connect Provider URL."),
    ("https://example.com:8443", "InvalidInput", "Invalid Open ID Connect Provider URL."),
    ("https://exa_mple.com", "InvalidInput", "Invalid Open ID Connect Provider URL."),
])
def test_url_validation(iam, bad, code, message):
    fails(iam.create_open_id_connect_provider, code, message, Url=bad, ThumbprintList=[THUMB])


def test_list_validation(iam, stack, url):
    raw = stack.client("iam", config=Config(parameter_validation=False))  # the server's checks, not boto3's
    fails(iam.create_open_id_connect_provider, "InvalidInput", "Thumbprint list must contain fewer than 5 entries.",
          Url=url, ThumbprintList=[str(i) * 40 for i in range(6)])
    fails(raw.create_open_id_connect_provider, "ValidationError", Url=url, ThumbprintList=["a" * 39])
    fails(iam.create_open_id_connect_provider, "LimitExceeded",
          "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: 100",
          Url=url, ClientIDList=[f"c{i}" for i in range(101)])
    fails(raw.create_open_id_connect_provider, "ValidationError", Url=url, ClientIDList=["c" * 256])
    fails(iam.create_open_id_connect_provider, "InvalidInput",
          "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
          Url=url, Tags=[{"Key": "k", "Value": "1"}, {"Key": "K", "Value": "2"}])
    five = iam.create_open_id_connect_provider(Url=url, ThumbprintList=[str(i) * 40 for i in range(5)],
                                               ClientIDList=[f"c{i}" for i in range(100)])
    arn = five["OpenIDConnectProviderArn"]
    try:
        fails(iam.add_client_id_to_open_id_connect_provider, "LimitExceeded", OpenIDConnectProviderArn=arn,
              ClientID="one-too-many")
        fails(iam.update_open_id_connect_provider_thumbprint, "InvalidInput", OpenIDConnectProviderArn=arn,
              ThumbprintList=[str(i) * 40 for i in range(6)])
    finally:
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert not [p for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] if p["Arn"] == arn]


def test_quota_of_100_per_account(tmp_path):
    with LocalStack(home=tmp_path) as fresh:
        iam = fresh.client("iam")
        for i in range(100):
            iam.create_open_id_connect_provider(Url=f"https://idp{i}.example.com")
        response = fails(iam.create_open_id_connect_provider, "LimitExceeded",
                         "Cannot exceed quota for OpenIdConnectProvidersPerAccount: 100",
                         Url="https://one-more.example.com")
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 409
        assert len(iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]) == 100


def trust(provider_arn: str, host: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{host}:aud": "sts.amazonaws.com"}}}]})


def test_role_trusting_a_provider(iam, stack, url):
    host = url.removeprefix("https://")
    missing = f"arn:aws:iam::{account(stack)}:oidc-provider/{host}"
    role = f"gha-{uuid.uuid4().hex[:8]}"
    # IAM refuses to trust a provider of the account that does not exist.
    fails(iam.create_role, "MalformedPolicyDocument", f'Invalid principal in policy: "Federated":"{missing}"',
          RoleName=role, AssumeRolePolicyDocument=trust(missing, host))
    arn = iam.create_open_id_connect_provider(Url=url, ClientIDList=["sts.amazonaws.com"])["OpenIDConnectProviderArn"]
    assert arn == missing
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(arn, host))
    got = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    assert got["Statement"][0]["Principal"] == {"Federated": arn}
    # Built-in web identity providers need no IAM provider.
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=trust("cognito-identity.amazonaws.com", "x"))
    iam.delete_role(RoleName=role)
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)


def test_authorized_on_the_provider_arn(iam, stack, url):
    """A user allowed iam:*OpenIDConnectProvider* on one provider ARN only."""
    host = url.removeprefix("https://")
    allowed = f"arn:aws:iam::{account(stack)}:oidc-provider/{host}"
    user = f"oidc-admin-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="oidc", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:*OpenIDConnectProvider*", "Resource": allowed}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    theirs = boto3.session.Session().client(
        "iam", endpoint_url=stack.endpoint_url, region_name="us-east-1", aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"], config=Config(retries={"max_attempts": 1}))
    assert theirs.create_open_id_connect_provider(Url=url)["OpenIDConnectProviderArn"] == allowed
    theirs.get_open_id_connect_provider(OpenIDConnectProviderArn=allowed)
    fails(theirs.create_open_id_connect_provider, "AccessDenied", Url=url + "/other")
    fails(theirs.list_open_id_connect_providers, "AccessDenied")  # its resource is "*"
    theirs.delete_open_id_connect_provider(OpenIDConnectProviderArn=allowed)


@pytest.mark.skipif(not AWS.exists(), reason="the AWS CLI is not installed in this environment")
def test_aws_cli(stack, tmp_path, url):
    env = aws_cli_env(stack, tmp_path)

    def aws(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([str(AWS), "iam", *args], env=env, capture_output=True, text=True, timeout=120)
        assert (done.returncode == 0) == ok, done.stderr
        return done

    arn = json.loads(aws("create-open-id-connect-provider", "--url", url, "--client-id-list", "sts.amazonaws.com",
                         "--thumbprint-list", THUMB).stdout)["OpenIDConnectProviderArn"]
    got = json.loads(aws("get-open-id-connect-provider", "--open-id-connect-provider-arn", arn).stdout)
    assert got["Url"] == url.removeprefix("https://") and got["ThumbprintList"] == [THUMB]
    listed = json.loads(aws("list-open-id-connect-providers").stdout)["OpenIDConnectProviderList"]
    assert {"Arn": arn} in listed
    aws("delete-open-id-connect-provider", "--open-id-connect-provider-arn", arn)
    gone = aws("get-open-id-connect-provider", "--open-id-connect-provider-arn", arn, ok=False)
    assert "NoSuchEntity" in gone.stderr


def test_survives_restart(server_process):
    server = server_process()
    iam = server.client("iam")
    arn = iam.create_open_id_connect_provider(Url="https://token.actions.githubusercontent.com",
                                              ClientIDList=["sts.amazonaws.com"], ThumbprintList=[THUMB],
                                              Tags=[{"Key": "k", "Value": "v"}])["OpenIDConnectProviderArn"]
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="second")
    server.kill()  # SIGKILL: what was acknowledged must be on disk
    server.start()
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["Url"] == "token.actions.githubusercontent.com"
    assert got["ClientIDList"] == ["sts.amazonaws.com", "second"]
    assert got["ThumbprintList"] == [THUMB]
    assert got["Tags"] == [{"Key": "k", "Value": "v"}]
