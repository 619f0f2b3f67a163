"""The endpoint itself: routing, unknown and unimplemented operations, authentication errors
in each protocol's own shape — all through real clients."""

import datetime as dt
import json
import urllib.request

import boto3
import botocore.auth
import pytest
import requests
from botocore.config import Config
from helpers import error_of

NO_RETRY = Config(retries={"max_attempts": 0})


def client_with(stack, service, key_id, secret, **kw):
    return boto3.session.Session().client(service, endpoint_url=stack.endpoint_url, region_name="us-east-1",
                                          aws_access_key_id=key_id, aws_secret_access_key=secret,
                                          config=NO_RETRY, **kw)




def test_health(lakestack_stack):
    with urllib.request.urlopen(lakestack_stack.endpoint_url + "/_lakestack/health") as resp:
        health = json.load(resp)
    assert {"s3", "sts", "iam"} <= set(health["services"])
    assert health["version"]


def test_request_ids_are_returned(lakestack_stack):
    meta = lakestack_stack.client("sts").get_caller_identity()["ResponseMetadata"]
    assert meta["RequestId"]
    assert meta["HTTPHeaders"]["x-amzn-requestid"] == meta["RequestId"]


def test_unimplemented_operation_names_itself(lakestack_stack):
    iam = lakestack_stack.client("iam", config=NO_RETRY)
    resp = error_of(iam.create_saml_provider, SAMLMetadataDocument="x" * 1000, Name="corp")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert resp["Error"]["Code"] == "NotImplementedError"
    assert "iam.CreateSAMLProvider is not implemented yet" in resp["Error"]["Message"]


def test_unknown_query_action(lakestack_stack):
    resp = requests.post(lakestack_stack.endpoint_url, data={"Action": "NoSuchThing", "Version": "2011-06-15"},
                         auth=_sigv4(lakestack_stack, "sts"))
    assert resp.status_code == 400
    assert "<Code>InvalidAction</Code>" in resp.text


def test_missing_authentication_for_sts(lakestack_stack):
    resp = requests.post(lakestack_stack.endpoint_url,
                         data={"Action": "GetCallerIdentity", "Version": "2011-06-15"})
    assert resp.status_code == 403
    assert "<Code>MissingAuthenticationToken</Code>" in resp.text


def test_wrong_secret_in_each_protocol(lakestack_stack):
    key_id = lakestack_stack.credentials["aws_access_key_id"]
    sts = client_with(lakestack_stack, "sts", key_id, "wrong" * 8)
    assert error_of(sts.get_caller_identity)["Error"]["Code"] == "SignatureDoesNotMatch"
    s3 = client_with(lakestack_stack, "s3", key_id, "wrong" * 8)
    resp = error_of(s3.list_buckets)
    assert resp["Error"]["Code"] == "SignatureDoesNotMatch"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unknown_key_in_each_protocol(lakestack_stack):
    sts = client_with(lakestack_stack, "sts", "AKIAUNKNOWNUNKNOWN00", "x" * 40)
    resp = error_of(sts.get_caller_identity)
    assert resp["Error"]["Code"] == "InvalidClientTokenId"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 403
    s3 = client_with(lakestack_stack, "s3", "AKIAUNKNOWNUNKNOWN00", "x" * 40)
    assert error_of(s3.list_buckets)["Error"]["Code"] == "InvalidAccessKeyId"


def test_clock_skew_is_rejected(lakestack_stack, monkeypatch):
    creds = lakestack_stack.credentials
    sts = client_with(lakestack_stack, "sts", creds["aws_access_key_id"], creds["aws_secret_access_key"])
    s3 = client_with(lakestack_stack, "s3", creds["aws_access_key_id"], creds["aws_secret_access_key"])
    skewed = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=20)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: skewed)
    resp = error_of(sts.get_caller_identity)
    assert resp["Error"]["Code"] == "SignatureDoesNotMatch"
    assert "Signature expired" in resp["Error"]["Message"]
    assert error_of(s3.list_buckets)["Error"]["Code"] == "RequestTimeTooSkewed"


def test_validation_error_shape(lakestack_stack):
    iam = lakestack_stack.client("iam", config=NO_RETRY)
    resp = error_of(iam.create_user, UserName="bad name with spaces")
    assert resp["Error"]["Code"] == "ValidationError"
    assert "failed to satisfy constraint" in resp["Error"]["Message"]


def _sigv4(stack, service):
    """A requests auth hook that signs with botocore's SigV4 signer."""
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    creds = Credentials(stack.credentials["aws_access_key_id"], stack.credentials["aws_secret_access_key"])

    def sign(r):
        request = AWSRequest(method=r.method, url=r.url, data=r.body, headers=dict(r.headers))
        botocore.auth.SigV4Auth(creds, service, "us-east-1").add_auth(request)
        r.headers.update(dict(request.headers))
        return r

    return sign


@pytest.mark.parametrize("service,target,body", [
    ("glue", "AWSGlue.GetDatabase", b'{"Name": 1.5}'),
    ("athena", "AmazonAthena.GetWorkGroup", b'{"WorkGroup": {"a": 1}}'),
    ("kinesis", "Kinesis_20131202.ListTagsForStream", b'{"StreamARN": []}'),
    ("athena", "AmazonAthena.ListWorkGroups", b'{"NextToken": "not-ours"}'),
])
def test_json_bodies_of_the_wrong_shape_get_a_400(lakestack_stack, service, target, body):
    from lakestack.aws.specs import service_model

    version = service_model(service, "json").metadata["jsonVersion"]
    resp = requests.post(lakestack_stack.endpoint_url, data=body, auth=_sigv4(lakestack_stack, service),
                         headers={"X-Amz-Target": target, "Content-Type": f"application/x-amz-json-{version}"})
    assert resp.status_code == 400, resp.text
    assert resp.json()["__type"] in ("SerializationException", "InvalidRequestException")
