"""The IAM store, credential resolver and authorizer together, without a server: caches
must follow writes, sessions must resolve to their principals."""

from __future__ import annotations

import json
import threading

import pytest

from lakestack.services.iam.authorizer import Authorizer
from lakestack.services.iam.credentials import CredentialResolver
from lakestack.services.iam.policy import ALLOW, DENY, IMPLICIT_DENY
from lakestack.services.iam.sessions import ASSUMED_ROLE, SESSION_TOKEN
from lakestack.services.iam.store import IamStore

ACCOUNT = "123456789012"
S3_READ = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"


def doc(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def store(tmp_path):
    s = IamStore(tmp_path / "iam.db")
    s.ensure_account(ACCOUNT)
    yield s
    s.close()


@pytest.fixture
def resolver(store):
    return CredentialResolver(store)


@pytest.fixture
def authorizer(store):
    return Authorizer(store)


def test_root_key_is_created_once_and_replaced_by_configuration(store, resolver):
    first = store.access_keys.ensure_root_key(ACCOUNT)
    assert store.access_keys.ensure_root_key(ACCOUNT) == first
    principal = resolver.lookup(first.access_key_id).principal
    assert (principal.kind, principal.arn, principal.user_id) == ("root", f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT)
    fixed = store.access_keys.ensure_root_key(ACCOUNT, "AKIAFIXED00000000001", "x" * 40)
    assert fixed.access_key_id == "AKIAFIXED00000000001"
    assert resolver.lookup(first.access_key_id) is None
    assert resolver.lookup("AKIAFIXED00000000001").secret_access_key == "x" * 40


def test_user_key_resolves_and_follows_status_changes(store, resolver):
    user = store.users.create(ACCOUNT, "alice", "/data/")
    key = store.access_keys.create(ACCOUNT, user)
    credential = resolver.lookup(key.access_key_id)
    assert credential.active and credential.principal.arn == f"arn:aws:iam::{ACCOUNT}:user/data/alice"
    store.access_keys.set_status(ACCOUNT, user, key.access_key_id, "Inactive")
    assert resolver.lookup(key.access_key_id).active is False
    store.access_keys.delete(ACCOUNT, user, key.access_key_id)
    assert resolver.lookup(key.access_key_id) is None
    assert resolver.lookup("AKIANOSUCHKEY0000000") is None


def test_renaming_a_user_changes_the_principal(store, resolver):
    user = store.users.create(ACCOUNT, "bob")
    key = store.access_keys.create(ACCOUNT, user)
    assert resolver.lookup(key.access_key_id).principal.arn.endswith(":user/bob")
    store.users.update(ACCOUNT, "bob", "robert", None)
    assert resolver.lookup(key.access_key_id).principal.arn.endswith(":user/robert")


def test_authorizer_follows_policy_changes(store, resolver, authorizer):
    user = store.users.create(ACCOUNT, "carol")
    principal = resolver.lookup(store.access_keys.create(ACCOUNT, user).access_key_id).principal
    bucket = "arn:aws:s3:::lake"
    assert authorizer.decide(principal, "s3:ListBucket", bucket) == IMPLICIT_DENY
    store.policies.attach(ACCOUNT, S3_READ, "user", user.user_id)
    assert authorizer.decide(principal, "s3:ListBucket", bucket) == ALLOW
    store.inline.put("user", user.user_id, "deny", doc({"Effect": "Deny", "Action": "s3:*", "Resource": bucket}))
    assert authorizer.decide(principal, "s3:ListBucket", bucket) == DENY
    store.inline.delete("user", user.user_id, "deny")
    assert authorizer.is_allowed(principal, "s3:ListBucket", bucket, {})


def test_group_policies_and_membership(store, resolver, authorizer):
    user = store.users.create(ACCOUNT, "dave")
    group = store.groups.create(ACCOUNT, "readers")
    store.inline.put("group", group.group_id, "read", doc({"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}))
    principal = resolver.lookup(store.access_keys.create(ACCOUNT, user).access_key_id).principal
    assert not authorizer.is_allowed(principal, "s3:GetObject", "arn:aws:s3:::b/k")
    store.groups.add_user(ACCOUNT, "readers", "dave")
    assert authorizer.is_allowed(principal, "s3:GetObject", "arn:aws:s3:::b/k")


def test_username_variable_and_principal_tags(store, resolver, authorizer):
    user = store.users.create(ACCOUNT, "erin", tags=[{"Key": "Team", "Value": "red"}])
    store.inline.put("user", user.user_id, "home", doc(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::home/${aws:username}/*"},
        {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::teams/${aws:PrincipalTag/team}/*"}))
    principal = resolver.lookup(store.access_keys.create(ACCOUNT, user).access_key_id).principal
    assert authorizer.is_allowed(principal, "s3:PutObject", "arn:aws:s3:::home/erin/x")
    assert not authorizer.is_allowed(principal, "s3:PutObject", "arn:aws:s3:::home/frank/x")
    assert authorizer.is_allowed(principal, "s3:PutObject", "arn:aws:s3:::teams/red/x")
    # what the caller passes cannot override who the caller is
    assert not authorizer.is_allowed(principal, "s3:PutObject", "arn:aws:s3:::home/frank/x",
                                     {"aws:username": "frank"})


def test_root_is_allowed_everything_but_session_tokens_keep_out_of_iam(store, resolver, authorizer):
    root = resolver.lookup(store.access_keys.ensure_root_key(ACCOUNT).access_key_id).principal
    assert authorizer.decide(root, "iam:DeleteUser", "*") == ALLOW
    session = store.sessions.create(account_id=ACCOUNT, kind=SESSION_TOKEN, subject_id=None, arn=root.arn,
                                    principal_id=ACCOUNT, source_arn=root.arn, duration=900)
    temporary = resolver.lookup(session.access_key_id)
    assert temporary.session_token == session.token and temporary.principal.kind == "root"
    assert authorizer.is_allowed(temporary.principal, "s3:CreateBucket", "arn:aws:s3:::b")
    assert not authorizer.is_allowed(temporary.principal, "iam:ListUsers", "*")
    assert not authorizer.is_allowed(temporary.principal, "sts:GetSessionToken", "*")
    assert authorizer.is_allowed(temporary.principal, "sts:AssumeRole", "*")


def test_assumed_role_session_is_capped_by_its_session_policy(store, resolver, authorizer):
    role = store.roles.create(ACCOUNT, "worker", doc({"Effect": "Allow", "Principal": {"AWS": ACCOUNT},
                                                      "Action": "sts:AssumeRole"}))
    store.inline.put("role", role.role_id, "p", doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
    session_policy = {"Version": "2012-10-17",
                      "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    session = store.sessions.create(
        account_id=ACCOUNT, kind=ASSUMED_ROLE, subject_id=role.role_id,
        arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/worker/job", principal_id=f"{role.role_id}:job",
        source_arn=role.arn, duration=900, session_name="job", policies=[session_policy])
    credential = resolver.lookup(session.access_key_id)
    principal = credential.principal
    assert credential.access_key_id.startswith("ASIA") and credential.expiration is not None
    assert (principal.kind, principal.source_arn, principal.user_id) == ("assumed-role", role.arn,
                                                                         f"{role.role_id}:job")
    assert authorizer.is_allowed(principal, "s3:GetObject", "arn:aws:s3:::b/k")
    assert not authorizer.is_allowed(principal, "s3:PutObject", "arn:aws:s3:::b/k")


def test_state_survives_reopening(tmp_path):
    first = IamStore(tmp_path / "iam.db")
    first.ensure_account(ACCOUNT)
    user = first.users.create(ACCOUNT, "persisted")
    key = first.access_keys.create(ACCOUNT, user)
    first.close()
    second = IamStore(tmp_path / "iam.db")
    assert CredentialResolver(second).lookup(key.access_key_id).principal.arn.endswith(":user/persisted")
    assert second.policies.get(ACCOUNT, S3_READ) is not None
    second.close()


def test_concurrent_lookups_and_writes(store, resolver, authorizer):
    users = [store.users.create(ACCOUNT, f"u{i}") for i in range(8)]
    keys = [store.access_keys.create(ACCOUNT, u) for u in users]
    errors: list[BaseException] = []

    def reader():
        try:
            for _ in range(200):
                for key in keys:
                    credential = resolver.lookup(key.access_key_id)
                    authorizer.decide(credential.principal, "s3:ListBucket", "arn:aws:s3:::lake")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    def writer():
        try:
            for user in users:
                store.policies.attach(ACCOUNT, S3_READ, "user", user.user_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)] + [threading.Thread(target=writer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for key in keys:  # once the writes are done, every cached answer reflects them
        assert authorizer.is_allowed(resolver.lookup(key.access_key_id).principal, "s3:ListBucket",
                                     "arn:aws:s3:::lake")
