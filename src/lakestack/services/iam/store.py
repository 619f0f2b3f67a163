"""IAM state: one SQLite database, `<state_dir>/iam.db`, shared by IAM and STS.

IAM is global: every entity belongs to an account and none to a region. Names of users,
groups, roles and policies are unique per account regardless of case, as on AWS.

Each concept has its own small class (users, groups, roles, access keys, managed and
inline policies, STS sessions, OpenID Connect providers); `IamStore` opens the database and
holds them. Every write goes through `IamStore.write()`, which bumps `generation` after the
commit so the credential and policy caches on the request path know to drop what they hold.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lakestack.runtime.state import StateStore
from lakestack.services.iam.access_keys import AccessKeys
from lakestack.services.iam.entities import Groups, Roles, Users
from lakestack.services.iam.inline_policies import InlinePolicies
from lakestack.services.iam.managed_policies import ManagedPolicies
from lakestack.services.iam.oidc_providers import OidcProviders
from lakestack.services.iam.sessions import Sessions

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    account_id TEXT PRIMARY KEY,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    name TEXT NOT NULL COLLATE NOCASE,
    path TEXT NOT NULL,
    created REAL NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    UNIQUE (account_id, name)
);
CREATE TABLE IF NOT EXISTS groups (
    group_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    name TEXT NOT NULL COLLATE NOCASE,
    path TEXT NOT NULL,
    created REAL NOT NULL,
    UNIQUE (account_id, name)
);
CREATE TABLE IF NOT EXISTS group_members (
    group_id TEXT NOT NULL REFERENCES groups(group_id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX IF NOT EXISTS group_members_by_user ON group_members(user_id);
CREATE TABLE IF NOT EXISTS roles (
    role_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    name TEXT NOT NULL COLLATE NOCASE,
    path TEXT NOT NULL,
    created REAL NOT NULL,
    trust_policy TEXT NOT NULL,
    description TEXT,
    max_session_duration INTEGER NOT NULL DEFAULT 3600,
    tags TEXT NOT NULL DEFAULT '[]',
    last_used REAL,
    last_used_region TEXT,
    UNIQUE (account_id, name)
);
-- user_id NULL: the account's root access key.
CREATE TABLE IF NOT EXISTS access_keys (
    access_key_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    user_id TEXT REFERENCES users(user_id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'Active',
    created REAL NOT NULL,
    last_used REAL,
    last_used_service TEXT,
    last_used_region TEXT
);
CREATE INDEX IF NOT EXISTS access_keys_by_user ON access_keys(account_id, user_id);
-- account_id 'aws' holds the AWS managed policies, visible to every account.
CREATE TABLE IF NOT EXISTS managed_policies (
    arn TEXT PRIMARY KEY,
    policy_id TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL,
    name TEXT NOT NULL COLLATE NOCASE,
    path TEXT NOT NULL,
    description TEXT,
    default_version TEXT NOT NULL,
    next_version INTEGER NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    UNIQUE (account_id, name)
);
CREATE TABLE IF NOT EXISTS policy_versions (
    policy_arn TEXT NOT NULL REFERENCES managed_policies(arn) ON DELETE CASCADE,
    version_id TEXT NOT NULL,
    document TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (policy_arn, version_id)
);
-- entity_type is 'user', 'group' or 'role'; entity_id that entity's unique ID.
CREATE TABLE IF NOT EXISTS attachments (
    policy_arn TEXT NOT NULL REFERENCES managed_policies(arn),
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    PRIMARY KEY (policy_arn, entity_type, entity_id)
);
CREATE INDEX IF NOT EXISTS attachments_by_entity ON attachments(entity_type, entity_id);
CREATE TABLE IF NOT EXISTS inline_policies (
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    name TEXT NOT NULL COLLATE NOCASE,
    document TEXT NOT NULL,
    PRIMARY KEY (entity_type, entity_id, name)
);
-- STS temporary credentials. kind: 'assumed-role' (subject_id = role) or 'session'
-- (GetSessionToken; subject_id = user, NULL for root).
CREATE TABLE IF NOT EXISTS sessions (
    access_key_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    secret TEXT NOT NULL,
    token TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject_id TEXT,
    arn TEXT NOT NULL,
    principal_id TEXT NOT NULL,
    source_arn TEXT NOT NULL,
    session_name TEXT NOT NULL DEFAULT '',
    policies TEXT NOT NULL DEFAULT '[]',
    tags TEXT NOT NULL DEFAULT '[]',
    created REAL NOT NULL,
    expiration REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_expiration ON sessions(expiration);
-- OpenID Connect identity providers; arn is arn:aws:iam::<account>:oidc-provider/<url>.
CREATE TABLE IF NOT EXISTS oidc_providers (
    arn TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    url TEXT NOT NULL,
    client_ids TEXT NOT NULL DEFAULT '[]',
    thumbprints TEXT NOT NULL DEFAULT '[]',
    tags TEXT NOT NULL DEFAULT '[]',
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS oidc_providers_by_account ON oidc_providers(account_id);
"""


def to_datetime(epoch: float | None) -> dt.datetime | None:
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, dt.UTC)


class IamStore:
    def __init__(self, path: Path):
        self.db = StateStore(path)
        # Statement by statement: StateStore(schema=…) runs executescript() inside its
        # transaction, and executescript() commits first, which breaks that transaction.
        with self.db.transaction() as db:
            for statement in SCHEMA.split(";\n"):
                if statement.strip():
                    db.execute(statement)
        self._generation = itertools.count(1)
        self.generation = 0
        self._bump_lock = threading.Lock()
        self.users = Users(self)
        self.groups = Groups(self)
        self.roles = Roles(self)
        self.access_keys = AccessKeys(self)
        self.policies = ManagedPolicies(self)
        self.inline = InlinePolicies(self)
        self.sessions = Sessions(self)
        self.oidc_providers = OidcProviders(self)
        self.policies.install_aws_managed()

    @contextmanager
    def write(self) -> Iterator:
        """A write transaction; caches are invalidated once it has committed."""
        with self.db.transaction() as db:
            yield db
        with self._bump_lock:
            self.generation = next(self._generation)

    def query(self, sql: str, params: tuple | dict = ()):
        return self.db.query(sql, params)

    def query_one(self, sql: str, params: tuple | dict = ()):
        return self.db.query_one(sql, params)

    def ensure_account(self, account_id: str) -> None:
        if self.query_one("SELECT 1 FROM accounts WHERE account_id = ?", (account_id,)):
            return
        with self.write() as db:
            db.execute("INSERT OR IGNORE INTO accounts (account_id, created) VALUES (?, ?)", (account_id, time.time()))

    def account_ids(self) -> set[str]:
        """Every account lakestack knows (the configured one, those Organizations created)."""
        return {row["account_id"] for row in self.query("SELECT account_id FROM accounts")}

    def account_created(self, account_id: str) -> float:
        row = self.query_one("SELECT created FROM accounts WHERE account_id = ?", (account_id,))
        return row["created"] if row else time.time()

    def close(self) -> None:
        self.db.close()
