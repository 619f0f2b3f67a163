"""The IAM policy language: validation messages and evaluation, without a server."""

from __future__ import annotations

import datetime as dt

import pytest

from lakestack.services.iam.policy import (
    ALLOW,
    DENY,
    IMPLICIT_DENY,
    RESOURCE,
    TRUST,
    Caller,
    MalformedPolicy,
    Request,
    decide,
    evaluate,
    parse_policy,
)


def policy(*statements, version="2012-10-17", kind="identity"):
    return parse_policy({"Version": version, "Statement": list(statements)}, kind)


def allow(action="*", resource="*", **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action="*", resource="*", **extra):
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def check(p, action="s3:GetObject", resource="arn:aws:s3:::bucket/key", context=None, caller=None):
    policies = p if isinstance(p, list) else [p]
    return evaluate(policies, Request(action, resource, context, caller))


def when(operator, key, values, action="s3:GetObject"):
    return policy(allow(action, Condition={operator: {key: values}}))


# --- the basic decision ----------------------------------------------------------------------


def test_no_statement_applies_is_an_implicit_deny():
    assert check(policy(allow("s3:PutObject"))) == IMPLICIT_DENY
    assert evaluate([], Request("s3:GetObject", "*")) == IMPLICIT_DENY


def test_allow_applies():
    assert check(policy(allow("s3:GetObject"))) == ALLOW


def test_explicit_deny_wins_within_and_across_policies():
    assert check(policy(allow(), deny("s3:GetObject"))) == DENY
    assert check([policy(allow()), policy(deny("s3:*"))]) == DENY
    assert check([policy(deny("s3:*")), policy(allow())]) == DENY


def test_statement_may_be_a_single_object():
    p = parse_policy({"Version": "2012-10-17", "Statement": allow("s3:GetObject")})
    assert check(p) == ALLOW


# --- actions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["s3:GetObject", "S3:getobject", "s3:Get*", "s3:*", "*", "s3:G?tObject",
                                     "*:GetObject", "s3:*Object"])
def test_action_patterns_match_case_insensitively(pattern):
    assert check(policy(allow(pattern))) == ALLOW


@pytest.mark.parametrize("pattern", ["s3:Put*", "s3:GetObjectAcl", "s3:G?Object", "ec2:*", "s3:GetObject?"])
def test_action_patterns_that_do_not_match(pattern):
    assert check(policy(allow(pattern))) == IMPLICIT_DENY


def test_action_list():
    assert check(policy(allow(["s3:PutObject", "s3:GetObject"]))) == ALLOW


def test_not_action_applies_to_every_other_action():
    p = policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert check(p, "s3:GetObject") == ALLOW
    assert check(p, "iam:CreateUser", "*") == IMPLICIT_DENY


def test_deny_with_not_action_denies_everything_else():
    p = [policy(allow()), policy({"Effect": "Deny", "NotAction": ["s3:Get*", "s3:List*"], "Resource": "*"})]
    assert check(p, "s3:GetObject") == ALLOW
    assert check(p, "s3:DeleteObject") == DENY


# --- resources -------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern,resource,expected", [
    ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b/c.txt", ALLOW),
    ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket", IMPLICIT_DENY),
    ("arn:aws:s3:::bucket*", "arn:aws:s3:::bucket-two/x", ALLOW),
    ("arn:aws:s3:::b?cket/key", "arn:aws:s3:::bucket/key", ALLOW),
    ("arn:aws:s3:::bucket/key", "arn:aws:s3:::bucket/KEY", IMPLICIT_DENY),  # resources are case-sensitive
    ("arn:aws:dynamodb:*:*:table/orders", "arn:aws:dynamodb:eu-west-1:123456789012:table/orders", ALLOW),
    # a wildcard in an ARN segment stays inside that segment
    ("arn:aws:kinesis:us-*:123456789012:stream/s", "arn:aws:kinesis:us-east-1:123456789012:stream/s", ALLOW),
    ("arn:aws:iam::*:user/x", "arn:aws:iam::1:2:user/x", IMPLICIT_DENY),
    # …but the resource segment may contain colons, which `*` spans
    ("arn:aws:logs:us-east-1:1:log-group:*", "arn:aws:logs:us-east-1:1:log-group:/aws/lambda/f:log-stream:x",
     ALLOW),
    ("*", "arn:aws:s3:::anything", ALLOW),
])
def test_resource_patterns(pattern, resource, expected):
    assert check(policy(allow("s3:GetObject", pattern)), resource=resource) == expected


def test_specific_resource_does_not_match_a_resourceless_request():
    assert check(policy(allow("s3:ListAllMyBuckets", "arn:aws:s3:::bucket")), "s3:ListAllMyBuckets", "*") \
        == IMPLICIT_DENY


def test_not_resource():
    p = policy({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secret/*"})
    assert check(p, resource="arn:aws:s3:::public/x") == ALLOW
    assert check(p, resource="arn:aws:s3:::secret/x") == IMPLICIT_DENY


def test_deny_with_not_resource():
    p = [policy(allow()), policy({"Effect": "Deny", "Action": "s3:*", "NotResource": ["arn:aws:s3:::mine/*"]})]
    assert check(p, resource="arn:aws:s3:::mine/a") == ALLOW
    assert check(p, resource="arn:aws:s3:::theirs/a") == DENY


# --- policy variables ------------------------------------------------------------------------


def test_variable_in_resource():
    p = policy(allow("s3:*", "arn:aws:s3:::home/${aws:username}/*"))
    assert check(p, resource="arn:aws:s3:::home/alice/x", context={"aws:username": "alice"}) == ALLOW
    assert check(p, resource="arn:aws:s3:::home/bob/x", context={"aws:username": "alice"}) == IMPLICIT_DENY


def test_variable_keys_are_case_insensitive():
    p = policy(allow("s3:*", "arn:aws:s3:::home/${AWS:UserName}/*"))
    assert check(p, resource="arn:aws:s3:::home/alice/x", context={"aws:username": "alice"}) == ALLOW


def test_missing_variable_matches_nothing():
    p = policy(allow("s3:*", "arn:aws:s3:::home/${aws:username}/*"))
    assert check(p, resource="arn:aws:s3:::home//x") == IMPLICIT_DENY


def test_variable_default_value():
    p = policy(allow("s3:*", "arn:aws:s3:::home/${aws:PrincipalTag/team, 'shared'}/*"))
    assert check(p, resource="arn:aws:s3:::home/shared/x") == ALLOW
    assert check(p, resource="arn:aws:s3:::home/red/x", context={"aws:PrincipalTag/team": "red"}) == ALLOW


def test_variable_value_is_literal_not_a_wildcard():
    p = policy(allow("s3:*", "arn:aws:s3:::home/${aws:PrincipalTag/team}"))
    assert check(p, resource="arn:aws:s3:::home/anything", context={"aws:PrincipalTag/team": "*"}) == IMPLICIT_DENY
    assert check(p, resource="arn:aws:s3:::home/*", context={"aws:PrincipalTag/team": "*"}) == ALLOW


def test_escaped_characters():
    p = policy(allow("s3:*", "arn:aws:s3:::bucket/${*}literal"))
    assert check(p, resource="arn:aws:s3:::bucket/*literal") == ALLOW
    assert check(p, resource="arn:aws:s3:::bucket/xliteral") == IMPLICIT_DENY


def test_variables_are_literal_text_in_2008_policies():
    p = policy(allow("s3:*", "arn:aws:s3:::home/${aws:username}"), version="2008-10-17")
    assert check(p, resource="arn:aws:s3:::home/alice", context={"aws:username": "alice"}) == IMPLICIT_DENY
    assert check(p, resource="arn:aws:s3:::home/${aws:username}") == ALLOW


def test_variable_in_condition_value():
    p = when("StringLike", "s3:prefix", ["home/${aws:username}/*"], "s3:ListBucket")
    ok = {"aws:username": "alice", "s3:prefix": "home/alice/docs"}
    assert check(p, "s3:ListBucket", context=ok) == ALLOW
    assert check(p, "s3:ListBucket", context={**ok, "s3:prefix": "home/bob/"}) == IMPLICIT_DENY


# --- conditions: strings ---------------------------------------------------------------------


@pytest.mark.parametrize("operator,value,request_value,expected", [
    ("StringEquals", "prod", "prod", ALLOW),
    ("StringEquals", "prod", "Prod", IMPLICIT_DENY),
    ("StringNotEquals", "prod", "dev", ALLOW),
    ("StringNotEquals", "prod", "prod", IMPLICIT_DENY),
    ("StringEqualsIgnoreCase", "prod", "PROD", ALLOW),
    ("StringNotEqualsIgnoreCase", "prod", "PROD", IMPLICIT_DENY),
    ("StringLike", "pr*d", "prepaid", ALLOW),
    ("StringLike", "pr?d", "prod", ALLOW),
    ("StringLike", "pr?d", "prood", IMPLICIT_DENY),
    ("StringNotLike", "pr*", "prod", IMPLICIT_DENY),
    ("StringNotLike", "pr*", "dev", ALLOW),
    ("StringEquals", "a*", "abc", IMPLICIT_DENY),  # no wildcards outside the Like operators
])
def test_string_operators(operator, value, request_value, expected):
    assert check(when(operator, "aws:ResourceTag/env", value), context={"aws:ResourceTag/env": request_value}) \
        == expected


def test_condition_key_names_are_case_insensitive():
    p = when("StringEquals", "AWS:ResourceTag/Env", "prod")
    assert check(p, context={"aws:resourcetag/env": "prod"}) == ALLOW


def test_multiple_values_are_alternatives():
    p = when("StringEquals", "aws:RequestedRegion", ["eu-west-1", "eu-central-1"])
    assert check(p, context={"aws:RequestedRegion": "eu-central-1"}) == ALLOW
    assert check(p, context={"aws:RequestedRegion": "us-east-1"}) == IMPLICIT_DENY


def test_multiple_keys_and_operators_must_all_hold():
    p = policy(allow("s3:GetObject", Condition={
        "StringEquals": {"aws:RequestedRegion": "eu-west-1", "aws:PrincipalTag/team": "data"},
        "Bool": {"aws:SecureTransport": "true"},
    }))
    ok = {"aws:RequestedRegion": "eu-west-1", "aws:PrincipalTag/team": "data", "aws:SecureTransport": True}
    assert check(p, context=ok) == ALLOW
    assert check(p, context={**ok, "aws:PrincipalTag/team": "web"}) == IMPLICIT_DENY
    assert check(p, context={**ok, "aws:SecureTransport": False}) == IMPLICIT_DENY


def test_missing_key_fails_positive_operators_and_satisfies_negated_ones():
    assert check(when("StringEquals", "aws:ResourceTag/env", "prod")) == IMPLICIT_DENY
    assert check(when("StringNotEquals", "aws:ResourceTag/env", "prod")) == ALLOW
    assert check(when("StringNotLike", "aws:ResourceTag/env", "p*")) == ALLOW
    assert check(when("NotIpAddress", "aws:SourceIp", "10.0.0.0/8")) == ALLOW
    assert check(when("ArnNotLike", "aws:SourceArn", "arn:aws:s3:::*")) == ALLOW
    assert check(when("NumericLessThan", "s3:max-keys", "10")) == IMPLICIT_DENY


# --- conditions: numbers, dates, booleans, binary --------------------------------------------


@pytest.mark.parametrize("operator,value,request_value,expected", [
    ("NumericEquals", "10", 10, ALLOW),
    ("NumericEquals", "10", "10.0", ALLOW),
    ("NumericNotEquals", "10", 11, ALLOW),
    ("NumericNotEquals", "10", 10, IMPLICIT_DENY),
    ("NumericLessThan", "10", 9, ALLOW),
    ("NumericLessThan", "10", 10, IMPLICIT_DENY),
    ("NumericLessThanEquals", "10", 10, ALLOW),
    ("NumericGreaterThan", "10", 11, ALLOW),
    ("NumericGreaterThan", "10", 10, IMPLICIT_DENY),
    ("NumericGreaterThanEquals", "10", 10, ALLOW),
    ("NumericEquals", "10", "ten", IMPLICIT_DENY),
])
def test_numeric_operators(operator, value, request_value, expected):
    assert check(when(operator, "s3:max-keys", value), context={"s3:max-keys": request_value}) == expected


NOON = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("operator,value,request_value,expected", [
    ("DateEquals", "2024-06-01T12:00:00Z", NOON, ALLOW),
    ("DateNotEquals", "2024-06-01T12:00:00Z", NOON, IMPLICIT_DENY),
    ("DateLessThan", "2024-06-02T00:00:00Z", NOON, ALLOW),
    ("DateLessThan", "2024-06-01", NOON, IMPLICIT_DENY),
    ("DateLessThanEquals", "2024-06-01T12:00:00Z", "2024-06-01T12:00:00Z", ALLOW),
    ("DateGreaterThan", "2024-01-01T00:00:00Z", NOON, ALLOW),
    ("DateGreaterThanEquals", str(int(NOON.timestamp())), NOON, ALLOW),  # epoch seconds
    ("DateGreaterThan", "2024-06-01T12:00:00+02:00", NOON, ALLOW),
])
def test_date_operators(operator, value, request_value, expected):
    assert check(when(operator, "aws:CurrentTime", value), context={"aws:CurrentTime": request_value}) == expected


def test_bool_operator():
    p = when("Bool", "aws:SecureTransport", "true")
    assert check(p, context={"aws:SecureTransport": True}) == ALLOW
    assert check(p, context={"aws:SecureTransport": "TRUE"}) == ALLOW
    assert check(p, context={"aws:SecureTransport": False}) == IMPLICIT_DENY
    assert check(when("Bool", "aws:SecureTransport", False), context={"aws:SecureTransport": "false"}) == ALLOW


def test_binary_equals():
    p = when("BinaryEquals", "s3:x-amz-content", "QmluYXJ5")
    assert check(p, context={"s3:x-amz-content": b"Binary"}) == ALLOW
    assert check(p, context={"s3:x-amz-content": b"other"}) == IMPLICIT_DENY


# --- conditions: addresses and ARNs ----------------------------------------------------------


@pytest.mark.parametrize("operator,value,ip,expected", [
    ("IpAddress", "203.0.113.0/24", "203.0.113.7", ALLOW),
    ("IpAddress", "203.0.113.0/24", "198.51.100.7", IMPLICIT_DENY),
    ("IpAddress", "203.0.113.7", "203.0.113.7", ALLOW),
    ("IpAddress", "2001:db8::/32", "2001:db8::1", ALLOW),
    ("IpAddress", "203.0.113.0/24", "not-an-ip", IMPLICIT_DENY),
    ("NotIpAddress", "10.0.0.0/8", "10.1.2.3", IMPLICIT_DENY),
    ("NotIpAddress", "10.0.0.0/8", "192.168.0.1", ALLOW),
])
def test_ip_operators(operator, value, ip, expected):
    assert check(when(operator, "aws:SourceIp", value), context={"aws:SourceIp": ip}) == expected


@pytest.mark.parametrize("operator,value,arn,expected", [
    ("ArnEquals", "arn:aws:sns:us-east-1:123456789012:topic", "arn:aws:sns:us-east-1:123456789012:topic", ALLOW),
    ("ArnLike", "arn:aws:s3:::bucket-*", "arn:aws:s3:::bucket-logs", ALLOW),
    ("ArnLike", "arn:aws:lambda:*:123456789012:function:*", "arn:aws:lambda:eu-west-1:123456789012:function:f",
     ALLOW),
    ("ArnLike", "arn:aws:lambda:*:123456789012:function:*", "arn:aws:lambda:eu-west-1:999999999999:function:f",
     IMPLICIT_DENY),
    ("ArnLike", "arn:aws:s3:::*", "not-an-arn", IMPLICIT_DENY),
    ("ArnNotEquals", "arn:aws:s3:::a", "arn:aws:s3:::b", ALLOW),
    ("ArnNotLike", "arn:aws:s3:::a*", "arn:aws:s3:::abc", IMPLICIT_DENY),
])
def test_arn_operators(operator, value, arn, expected):
    assert check(when(operator, "aws:SourceArn", value), context={"aws:SourceArn": arn}) == expected


# --- Null and IfExists -----------------------------------------------------------------------


def test_null_operator():
    absent = when("Null", "aws:TokenIssueTime", "true")
    present = when("Null", "aws:TokenIssueTime", "false")
    assert check(absent) == ALLOW
    assert check(absent, context={"aws:TokenIssueTime": NOON}) == IMPLICIT_DENY
    assert check(present, context={"aws:TokenIssueTime": NOON}) == ALLOW
    assert check(present) == IMPLICIT_DENY


def test_if_exists_accepts_a_missing_key_and_tests_a_present_one():
    p = when("StringEqualsIfExists", "ec2:InstanceType", ["t3.micro"])
    assert check(p) == ALLOW
    assert check(p, context={"ec2:InstanceType": "t3.micro"}) == ALLOW
    assert check(p, context={"ec2:InstanceType": "m5.large"}) == IMPLICIT_DENY


def test_if_exists_works_with_every_operator_family():
    assert check(when("NumericLessThanIfExists", "s3:max-keys", "10")) == ALLOW
    assert check(when("NumericLessThanIfExists", "s3:max-keys", "10"), context={"s3:max-keys": 20}) == IMPLICIT_DENY
    assert check(when("DateLessThanIfExists", "aws:TokenIssueTime", "2020-01-01")) == ALLOW
    assert check(when("BoolIfExists", "aws:MultiFactorAuthPresent", "true")) == ALLOW
    assert check(when("IpAddressIfExists", "aws:SourceIp", "10.0.0.0/8")) == ALLOW
    assert check(when("ArnLikeIfExists", "aws:SourceArn", "arn:aws:s3:::x")) == ALLOW


def test_deny_unless_mfa_with_bool_if_exists():
    # The documented pattern: IfExists makes the Deny cover long-term keys (key absent) too.
    p = [policy(allow()), policy(deny("*", Condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}))]
    assert check(p) == DENY
    assert check(p, context={"aws:MultiFactorAuthPresent": False}) == DENY
    assert check(p, context={"aws:MultiFactorAuthPresent": True}) == ALLOW


# --- multivalued keys ------------------------------------------------------------------------


def test_for_any_value():
    p = when("ForAnyValue:StringEquals", "aws:TagKeys", ["env", "team"])
    assert check(p, context={"aws:TagKeys": ["owner", "team"]}) == ALLOW
    assert check(p, context={"aws:TagKeys": ["owner"]}) == IMPLICIT_DENY
    assert check(p, context={"aws:TagKeys": []}) == IMPLICIT_DENY
    assert check(p) == IMPLICIT_DENY


def test_for_all_values():
    p = when("ForAllValues:StringEquals", "aws:TagKeys", ["env", "team"])
    assert check(p, context={"aws:TagKeys": ["env", "team"]}) == ALLOW
    assert check(p, context={"aws:TagKeys": ["env"]}) == ALLOW
    assert check(p, context={"aws:TagKeys": ["env", "owner"]}) == IMPLICIT_DENY
    # a missing or empty key holds vacuously, as AWS documents
    assert check(p) == ALLOW
    assert check(p, context={"aws:TagKeys": []}) == ALLOW


def test_set_qualifiers_with_negated_and_like_operators():
    not_any = when("ForAnyValue:StringNotEquals", "aws:TagKeys", ["env", "team"])
    assert check(not_any, context={"aws:TagKeys": ["env", "owner"]}) == ALLOW
    assert check(not_any, context={"aws:TagKeys": ["env", "team"]}) == IMPLICIT_DENY
    all_like = when("ForAllValues:StringLike", "aws:TagKeys", ["app-*"])
    assert check(all_like, context={"aws:TagKeys": ["app-a", "app-b"]}) == ALLOW
    assert check(all_like, context={"aws:TagKeys": ["app-a", "db"]}) == IMPLICIT_DENY


def test_plain_operator_on_a_multivalued_key():
    p = when("StringEquals", "aws:TagKeys", "env")
    assert check(p, context={"aws:TagKeys": ["env", "team"]}) == ALLOW
    negated = when("StringNotEquals", "aws:TagKeys", "env")
    assert check(negated, context={"aws:TagKeys": ["env", "team"]}) == IMPLICIT_DENY


# --- limiting layers (session policies) ------------------------------------------------------


def test_session_policy_caps_identity_policies():
    identity = [policy(allow("s3:*"))]
    session = [policy(allow("s3:GetObject"))]
    assert decide(Request("s3:GetObject", "arn:aws:s3:::b/k"), identity, [session]) == ALLOW
    assert decide(Request("s3:PutObject", "arn:aws:s3:::b/k"), identity, [session]) == IMPLICIT_DENY


def test_session_policy_cannot_grant_more_than_identity():
    identity = [policy(allow("s3:GetObject"))]
    session = [policy(allow("*"))]
    assert decide(Request("s3:PutObject", "*"), identity, [session]) == IMPLICIT_DENY


def test_deny_in_a_limiting_layer_is_explicit():
    identity = [policy(allow("*"))]
    session = [policy(allow("*"), deny("s3:DeleteObject"))]
    assert decide(Request("s3:DeleteObject", "*"), identity, [session]) == DENY


def test_several_session_policies_form_one_layer():
    identity = [policy(allow("*"))]
    layer = [policy(allow("s3:GetObject")), policy(allow("s3:PutObject"))]
    assert decide(Request("s3:PutObject", "*"), identity, [layer]) == ALLOW


def test_without_limits_identity_decides():
    assert decide(Request("s3:PutObject", "*"), [policy(allow("s3:*"))]) == ALLOW


# --- principals (trust and resource policies) -------------------------------------------------


def trust(principal, **extra):
    return policy({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", **extra}, kind=TRUST)


ROLE = "arn:aws:iam::111111111111:role/r"
ALICE = Caller(account="111111111111", arns=("arn:aws:iam::111111111111:user/alice",))


def assume(p, caller):
    return check(p, "sts:AssumeRole", ROLE, caller=caller)


def test_principal_named_by_arn():
    assert assume(trust({"AWS": "arn:aws:iam::111111111111:user/alice"}), ALICE) == ALLOW
    assert assume(trust({"AWS": "arn:aws:iam::111111111111:user/bob"}), ALICE) == IMPLICIT_DENY


def test_principal_named_by_account():
    for name in ("111111111111", "arn:aws:iam::111111111111:root"):
        p = trust({"AWS": name})
        assert assume(p, ALICE) == ALLOW
        assert assume(p, Caller(account="111111111111", arns=ALICE.arns, match_account=False)) == IMPLICIT_DENY
        assert assume(p, Caller(account="222222222222", arns=("arn:aws:iam::222222222222:user/x",))) \
            == IMPLICIT_DENY


def test_principal_wildcards():
    assert assume(trust("*"), ALICE) == ALLOW
    assert assume(trust({"AWS": "*"}), ALICE) == ALLOW
    assert assume(trust({"AWS": "*"}), Caller(service="lambda.amazonaws.com")) == IMPLICIT_DENY


def test_service_principal():
    p = trust({"Service": ["lambda.amazonaws.com", "firehose.amazonaws.com"]})
    assert assume(p, Caller(service="lambda.amazonaws.com")) == ALLOW
    assert assume(p, Caller(service="glue.amazonaws.com")) == IMPLICIT_DENY
    assert assume(p, ALICE) == IMPLICIT_DENY


def test_role_arn_matches_its_sessions():
    session = Caller(account="111111111111", arns=("arn:aws:sts::111111111111:assumed-role/other/s",
                                                   "arn:aws:iam::111111111111:role/other"))
    assert assume(trust({"AWS": "arn:aws:iam::111111111111:role/other"}), session) == ALLOW


def test_not_principal():
    p = policy({"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::111111111111:user/alice"},
                "Action": "s3:*", "Resource": "*"}, kind=RESOURCE)
    bob = Caller(account="111111111111", arns=("arn:aws:iam::111111111111:user/bob",))
    assert check(p, caller=bob) == DENY
    assert check(p, caller=ALICE) == IMPLICIT_DENY


def test_trust_condition_on_external_id():
    p = trust({"AWS": "111111111111"}, Condition={"StringEquals": {"sts:ExternalId": "secret"}})
    assert evaluate([p], Request("sts:AssumeRole", ROLE, {"sts:ExternalId": "secret"}, ALICE)) == ALLOW
    assert evaluate([p], Request("sts:AssumeRole", ROLE, {}, ALICE)) == IMPLICIT_DENY


# --- validation ------------------------------------------------------------------------------


def malformed(document, kind="identity", require_version=False) -> str:
    with pytest.raises(MalformedPolicy) as info:
        parse_policy(document, kind, require_version)
    return info.value.message


def test_invalid_json():
    assert malformed("{not json") == "This policy contains invalid Json"


@pytest.mark.parametrize("document", [
    "[]",
    {"Version": "2012-10-17"},
    {"Version": "2012-10-17", "Statement": []},
    {"Version": "2012-10-17", "Statement": "x"},
    {"Version": "2012-10-17", "Statement": [allow()], "Extra": 1},
    {"Version": "2013-01-01", "Statement": [allow()]},
    {"Version": "2012-10-17", "Statement": [{**allow(), "Color": "blue"}]},
    {"Version": "2012-10-17", "Statement": [{**allow(), "NotAction": "s3:*"}]},
    {"Version": "2012-10-17", "Statement": [{**allow(), "NotResource": "*"}]},
    {"Version": "2012-10-17", "Statement": [{**allow(), "Effect": "Maybe"}]},
    {"Version": "2012-10-17", "Statement": [{**allow(), "Action": 5}]},
    {"Version": "2012-10-17", "Statement": [{**allow(), "Condition": {"StringWhatever": {"a:b": "c"}}}]},
    {"Version": "2012-10-17", "Statement": [{**allow(), "Condition": {"StringEquals": "x"}}]},
])
def test_syntax_errors(document):
    assert malformed(document) == "Syntax errors in policy."


def test_missing_effect():
    assert malformed({"Version": "2012-10-17", "Statement": [{"Action": "*", "Resource": "*"}]}) \
        == "Missing required field Effect"


def test_effect_is_case_sensitive():
    assert malformed({"Version": "2012-10-17", "Statement": [{**allow(), "Effect": "allow"}]}) \
        == "The policy failed legacy parsing"


def test_bad_date_in_condition():
    document = {"Version": "2012-10-17", "Statement": [
        allow(Condition={"DateGreaterThan": {"aws:CurrentTime": "yesterday"}})]}
    assert malformed(document) == "The policy failed legacy parsing"


def test_missing_actions_and_resources():
    assert malformed({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]}) \
        == "Policy statement must contain actions."
    assert malformed({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": []}]}) \
        == "Policy statement must contain actions."
    assert malformed({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]}) \
        == "Policy statement must contain resources."


def test_action_without_vendor():
    assert malformed({"Version": "2012-10-17", "Statement": [allow("GetObject")]}) \
        == "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
    assert malformed({"Version": "2012-10-17", "Statement": [allow("s3:Get:Object")]}) \
        == "Actions/Condition can contain only one colon."
    assert malformed({"Version": "2012-10-17", "Statement": [allow("s 3:Get")]}) == "Vendor s 3 is not valid"


def test_resource_format():
    assert malformed({"Version": "2012-10-17", "Statement": [allow("s3:*", "bucket")]}) \
        == 'Resource bucket must be in ARN format or "*".'
    assert malformed({"Version": "2012-10-17", "Statement": [allow("s3:*", "arn:nope:s3:::b")]}) \
        == 'Partition "nope" is not valid for resource "arn:nope:s3:::b".'


def test_duplicate_and_invalid_sids():
    statements = [{**allow(), "Sid": "One"}, {**allow(), "Sid": "One"}]
    assert malformed({"Version": "2012-10-17", "Statement": statements}) \
        == "Statement IDs (SID) in a single policy must be unique."
    assert malformed({"Version": "2012-10-17", "Statement": [{**allow(), "Sid": "has space"}]}).startswith(
        "Statement IDs (SID) must be alpha-numeric.")


def test_identity_policies_name_no_principal():
    document = {"Version": "2012-10-17", "Statement": [{**allow(), "Principal": "*"}]}
    assert malformed(document) == "Policy document should not specify a principal."


def test_managed_policies_need_the_current_version():
    assert malformed({"Statement": [allow()]}, require_version=True) \
        == "Policy document must be version 2012-10-17 or greater."
    parse_policy({"Statement": [allow()]})  # inline policies may omit it


def test_trust_policy_rules():
    base = {"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "sts:AssumeRole"}
    parse_policy({"Version": "2012-10-17", "Statement": [base]}, TRUST)
    assert malformed({"Version": "2012-10-17", "Statement": [{**base, "Resource": "*"}]}, TRUST) \
        == "Has prohibited field Resource"
    assert malformed({"Version": "2012-10-17", "Statement": [{**base, "Action": "s3:GetObject"}]}, TRUST) \
        == "AssumeRole policy may only specify STS AssumeRole actions."
    no_principal = {k: v for k, v in base.items() if k != "Principal"}
    assert malformed({"Version": "2012-10-17", "Statement": [no_principal]}, TRUST) \
        == "Missing required field Principal"
    assert malformed({"Version": "2012-10-17", "Statement": [{**base, "Principal": {"AWS": "bob"}}]}, TRUST) \
        == 'Invalid principal in policy: "AWS":"bob"'


def test_condition_values_may_be_scalars_of_any_json_type():
    parse_policy({"Version": "2012-10-17", "Statement": [allow(Condition={
        "Bool": {"aws:SecureTransport": False}, "NumericLessThan": {"s3:max-keys": 10}})]})


def test_unknown_condition_qualifier_is_rejected():
    document = {"Version": "2012-10-17", "Statement": [allow(Condition={"ForSome:StringEquals": {"a:b": "c"}})]}
    assert malformed(document) == "Syntax errors in policy."


# --- deciding without the request context -------------------------------------------------


def test_a_policy_uses_the_context_only_with_conditions_or_resource_variables():
    assert not policy(allow(), allow("s3:*", "arn:aws:s3:::bucket/*")).uses_context
    assert policy(allow(Condition={"Bool": {"aws:SecureTransport": "true"}})).uses_context
    assert policy(allow("s3:*", "arn:aws:s3:::home/${aws:username}/*")).uses_context
    assert policy({"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::home/${aws:username}/*"}).uses_context
    # Version 2008-10-17 has no policy variables: "${...}" there is literal text.
    assert not policy(allow("s3:*", "arn:aws:s3:::home/${aws:username}/*"), version="2008-10-17").uses_context


def test_static_resource_patterns_match_without_a_context():
    p = policy(allow("s3:GetObject", "arn:aws:s3:::bucket/*"), deny("s3:GetObject", "arn:aws:s3:::bucket/secret*"))
    assert not p.uses_context
    assert evaluate([p], Request("s3:GetObject", "arn:aws:s3:::bucket/key")) == ALLOW
    assert evaluate([p], Request("s3:GetObject", "arn:aws:s3:::bucket/secret.txt")) == DENY
    assert evaluate([p], Request("s3:GetObject", "arn:aws:s3:::other/key")) == IMPLICIT_DENY
    # A wildcard in the first five ARN segments stays inside its segment.
    q = policy(allow("s3:GetObject", "arn:aws:s3:*:*:bucket/*"))
    assert evaluate([q], Request("s3:GetObject", "arn:aws:s3:us-east-1:123:bucket/k")) == ALLOW
    assert evaluate([q], Request("s3:GetObject", "arn:aws:s3:a:b:c:bucket/k")) == IMPLICIT_DENY


def test_a_lowered_context_is_used_as_given():
    p = policy(allow(Condition={"StringEquals": {"aws:RequestedRegion": "us-east-1"}}))
    context = {"aws:requestedregion": "us-east-1"}
    assert evaluate([p], Request("s3:GetObject", "*", context, lowered=True)) == ALLOW
    assert evaluate([p], Request("s3:GetObject", "*", {"AWS:RequestedRegion": "eu-west-1"})) == IMPLICIT_DENY
