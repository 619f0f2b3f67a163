"""Bucket policies without a server: S3's checks of a document, what counts as public, and
how a bucket policy's principals match callers (anonymous, accounts, canonical users)."""

from __future__ import annotations

import json

import pytest

from lakestack.aws.errors import AwsError
from lakestack.services.iam.policy import (
    ALLOW,
    ANONYMOUS,
    IMPLICIT_DENY,
    RESOURCE,
    Caller,
    Request,
    evaluate,
    parse_policy,
)
from lakestack.services.s3 import policy_grammar
from lakestack.services.s3.bucket_policy import bucket_of, is_public, parse_bucket_policy
from lakestack.services.s3.buckets import canonical_user_id

BUCKET = "lake"


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(principal="*", action="s3:GetObject", resource=f"arn:aws:s3:::{BUCKET}/*", **extra) -> dict:
    return {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": resource, **extra}


def message_of(text: str) -> str:
    with pytest.raises(AwsError) as caught:
        parse_bucket_policy(text, BUCKET)
    assert (caught.value.code, caught.value.status) == ("MalformedPolicy", 400)
    return caught.value.message


def test_the_size_limit_does_not_count_whitespace():
    parse_bucket_policy("{" + " " * 21000 + '"Statement": ' + json.dumps([allow()]) + "}", BUCKET)


def test_valid_documents_compile_and_keep_their_text():
    text = doc(allow(), allow({"AWS": ["123456789012", "arn:aws:iam::123456789012:user/a"]}, "s3:List*",
                              f"arn:aws:s3:::{BUCKET}"),
               allow({"CanonicalUser": canonical_user_id("123456789012")}, "s3:*", "*"),
               allow({"Service": "logging.s3.amazonaws.com"}, "s3:PutObject"))
    compiled = parse_bucket_policy(text, BUCKET)
    assert compiled.text == text
    assert compiled.public
    assert not compiled.reads_object_tags
    tags = parse_bucket_policy(doc(allow(Condition={"StringEquals": {"s3:ExistingObjectTag/team": "a"}})), BUCKET)
    assert tags.reads_object_tags


@pytest.mark.parametrize("text, message", [
    ("", "Policies must be valid JSON and the first byte must be '{'"),
    ("[]", "Policies must be valid JSON and the first byte must be '{'"),
    ("{", "Policies must be valid JSON and the first byte must be '{'"),
    (doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}), "Missing required field Principal"),
    (doc({"Principal": "*", "Action": "s3:GetObject", "Resource": "*"}), "Missing required field Effect"),
    (doc({"Effect": "Allow", "Principal": "*", "Resource": "*"}), "Missing required field Action"),
    (doc({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}), "Missing required field Resource"),
    (doc(allow({"AWS": "not-an-account"})), "Invalid principal in policy"),
    (doc(allow({"AWS": []})), "Invalid principal in policy"),
    (doc(allow({"CanonicalUser": "abc"})), "Invalid principal in policy"),
    (doc(allow("everyone")), "Invalid principal in policy"),
    (doc(allow(resource="arn:aws:s3:::other/*")), "Policy has invalid resource"),
    (doc(allow(resource="arn:aws:s3:us-east-1::lake/*")), "Policy has invalid resource"),
    (doc(allow(action="s3:NoSuchAction")), "Policy has invalid action"),
    (doc(allow(action="s3:Nothing*")), "Policy has invalid action"),
    (doc(allow(action="ec2:RunInstances")), "Policy has invalid action"),
    (doc(allow(action="s3:PutObject", resource=f"arn:aws:s3:::{BUCKET}")),
     "Action does not apply to any resource(s) in statement"),
    (doc(allow(action="s3:ListAllMyBuckets")), "Action does not apply to any resource(s) in statement"),
    (doc(allow(Condition={"StringEquals": {"s3:x-amz-nonsense": "x"}})), "Policy has an invalid condition key"),
    (doc(*[allow(Sid=f"S{n}") for n in range(200)]), "Policy exceeds the maximum allowed document size."),
])
def test_s3_refuses_with_its_own_messages(text, message):
    assert message_of(text) == message


def test_actions_and_the_resources_they_apply_to():
    assert policy_grammar.applies("s3:GetObject", "arn:aws:s3:::lake/*")
    assert policy_grammar.applies("s3:GetObject", "arn:aws:s3:::lake*")  # the wildcard can reach a key
    assert not policy_grammar.applies("s3:GetObject", "arn:aws:s3:::lake")
    assert policy_grammar.applies("s3:ListBucket", "arn:aws:s3:::lake")
    assert not policy_grammar.applies("s3:ListBucket", "arn:aws:s3:::lake/*")
    assert policy_grammar.applies("s3:Get*", "arn:aws:s3:::lake")  # GetBucketLocation
    assert policy_grammar.applies("*", "arn:aws:s3:::lake")
    assert policy_grammar.known_action("S3:getobject")
    assert not policy_grammar.known_action("s3:GetObjects")
    assert policy_grammar.known_condition_key("s3:RequestObjectTag/Project")
    assert not policy_grammar.known_condition_key("s3:RequestObjectTag/")


@pytest.mark.parametrize("statement, public", [
    (allow(), True),
    (allow({"AWS": "*"}), True),
    (allow({"AWS": ["arn:aws:iam::123456789012:root", "*"]}), True),
    (allow({"AWS": "123456789012"}), False),
    (allow({"Service": "cloudtrail.amazonaws.com"}), False),
    ({"Effect": "Allow", "NotPrincipal": {"AWS": "123456789012"}, "Action": "s3:GetObject", "Resource": "*"}, True),
    ({**allow(), "Effect": "Deny"}, False),
    (allow(Condition={"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.1.0/24"]}}), False),
    (allow(Condition={"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "0.0.0.0/1"]}}), True),
    (allow(Condition={"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}), False),
    (allow(Condition={"IpAddress": {"aws:SourceIp": "2001:db8::/16"}}), True),
    (allow(Condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}), True),
    (allow(Condition={"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}), False),
    (allow(Condition={"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1a2b3c4d"}}), True),
    (allow(Condition={"StringLike": {"aws:PrincipalOrgID": "o-*"}}), True),
    (allow(Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}), False),
    (allow(Condition={"ArnEquals": {"aws:SourceArn": "arn:aws:cloudfront::123456789012:distribution/E1"}}), False),
    (allow(Condition={"StringEquals": {"s3:prefix": "public/"}}), True),
    (allow(Condition={"Bool": {"aws:SecureTransport": "true"}}), True),
])
def test_what_counts_as_public(statement, public):
    assert is_public(doc(statement)) is public


def test_principals_of_a_resource_policy_match_callers():
    everyone = parse_policy({"Statement": allow({"AWS": "*"})}, RESOURCE)
    star = parse_policy({"Statement": allow()}, RESOURCE)
    account = parse_policy({"Statement": allow({"AWS": "123456789012"})}, RESOURCE)
    canonical = parse_policy({"Statement": allow({"CanonicalUser": canonical_user_id("123456789012")})}, RESOURCE)
    user = Caller(account="123456789012", arns=("arn:aws:iam::123456789012:user/u",),
                  canonical_id=canonical_user_id("123456789012"))
    stranger = Caller(account="210987654321", arns=("arn:aws:iam::210987654321:user/u",),
                      canonical_id=canonical_user_id("210987654321"))

    def decision(policy, caller):
        return evaluate([policy], Request("s3:GetObject", "arn:aws:s3:::lake/k", {}, caller))

    assert decision(everyone, ANONYMOUS) == ALLOW  # {"AWS": "*"} includes anonymous callers
    assert decision(star, ANONYMOUS) == ALLOW
    assert decision(account, ANONYMOUS) == IMPLICIT_DENY
    assert decision(account, user) == ALLOW
    assert decision(account, stranger) == IMPLICIT_DENY
    assert decision(canonical, user) == ALLOW
    assert decision(canonical, stranger) == IMPLICIT_DENY
    # A service principal is not "everyone in AWS".
    assert decision(everyone, Caller(service="lambda.amazonaws.com")) == IMPLICIT_DENY


def test_bucket_of():
    assert bucket_of("arn:aws:s3:::lake") == "lake"
    assert bucket_of("arn:aws:s3:::lake/a/b") == "lake"
    assert bucket_of("*") is None
    assert bucket_of("arn:aws:s3:::") is None
