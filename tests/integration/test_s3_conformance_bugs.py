"""Regression tests for the bugs Ceph's s3-tests found (issue 11), each against a real server
through boto3 (and the AWS CLI where natural), with AWS's answer as the expectation."""

import pytest
from helpers import error_of

import lakestack

BUCKET = "conformance-bugs"


@pytest.fixture(scope="module")
def stack():
    with lakestack.local() as running:
        running.client("s3").create_bucket(Bucket=BUCKET)
        yield running


@pytest.fixture(scope="module")
def s3(stack):
    return stack.client("s3")


def code_and_status(call, **kwargs) -> tuple[str, int]:
    response = error_of(call, **kwargs)
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


# 1. An empty region in the credential scope was a 500 (AttributeError in the signer check).
def test_empty_signing_region_is_verified_not_a_500(stack):
    iam = stack.client("iam", region_name="")
    assert iam.list_users()["ResponseMetadata"]["HTTPStatusCode"] == 200
    wrong = stack.client("iam", region_name="", aws_secret_access_key="not-the-secret")
    assert code_and_status(wrong.list_users) == ("SignatureDoesNotMatch", 403)
