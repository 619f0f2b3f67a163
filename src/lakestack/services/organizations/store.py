"""Where Organizations keeps things: `<state_dir>/organizations.db` (SQLite, WAL, synchronous=FULL).

An organization belongs to its management account. Every account of an organization, the
management account too, has a row in `accounts` (an account is in at most one organization);
each CreateAccount request has a row in `create_account_requests`, kept after it finishes as
AWS keeps them for ListCreateAccountStatus.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from lakestack.runtime.state import StateStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS organizations (
    id TEXT PRIMARY KEY,
    management_account TEXT NOT NULL UNIQUE,
    feature_set TEXT NOT NULL,
    root_id TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    account_id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email TEXT UNIQUE COLLATE NOCASE,
    name TEXT,
    joined_method TEXT NOT NULL,
    joined REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'ACTIVE',
    tags TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS accounts_by_organization ON accounts (organization_id, joined);
CREATE TABLE IF NOT EXISTS create_account_requests (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    account_name TEXT NOT NULL,
    state TEXT NOT NULL,
    requested REAL NOT NULL,
    completed REAL,
    account_id TEXT,
    failure_reason TEXT
);
CREATE INDEX IF NOT EXISTS requests_by_organization ON create_account_requests (organization_id, requested);
"""


@dataclass(frozen=True)
class Organization:
    id: str
    management_account: str
    feature_set: str
    root_id: str
    created: float

    @property
    def arn(self) -> str:
        return f"arn:aws:organizations::{self.management_account}:organization/{self.id}"


@dataclass(frozen=True)
class Account:
    account_id: str
    organization_id: str
    email: str | None
    name: str | None
    joined_method: str
    joined: float
    state: str
    tags: list


@dataclass(frozen=True)
class CreateAccountRequest:
    id: str
    organization_id: str
    account_name: str
    state: str
    requested: float
    completed: float | None
    account_id: str | None
    failure_reason: str | None


class OrganizationsStore:
    def __init__(self, state_dir: Path):
        self.db = StateStore(Path(state_dir) / "organizations.db", SCHEMA)

    def close(self) -> None:
        self.db.close()

    # --- organizations -------------------------------------------------------------------

    def organization_of(self, account_id: str) -> Organization | None:
        """The organization the account belongs to, as management or member account."""
        row = self.db.query_one(
            "SELECT o.* FROM organizations o JOIN accounts a ON a.organization_id = o.id WHERE a.account_id = ?",
            (account_id,))
        return Organization(**dict(row)) if row else None

    def create_organization(self, organization: Organization) -> None:
        with self.db.transaction() as db:
            db.execute("INSERT INTO organizations (id, management_account, feature_set, root_id, created) "
                       "VALUES (?, ?, ?, ?, ?)", (organization.id, organization.management_account,
                                                  organization.feature_set, organization.root_id, organization.created))
            db.execute("INSERT INTO accounts (account_id, organization_id, joined_method, joined) VALUES (?, ?, ?, ?)",
                       (organization.management_account, organization.id, "INVITED", organization.created))

    def delete_organization(self, organization_id: str) -> None:
        with self.db.transaction() as db:
            db.execute("DELETE FROM organizations WHERE id = ?", (organization_id,))

    # --- accounts ------------------------------------------------------------------------

    def accounts(self, organization_id: str) -> list[Account]:
        rows = self.db.query("SELECT * FROM accounts WHERE organization_id = ? ORDER BY joined, account_id",
                             (organization_id,))
        return [_account(row) for row in rows]

    def account(self, organization_id: str, account_id: str) -> Account | None:
        row = self.db.query_one("SELECT * FROM accounts WHERE organization_id = ? AND account_id = ?",
                                (organization_id, account_id))
        return _account(row) if row else None

    def email_taken(self, email: str) -> bool:
        return self.db.query_one("SELECT 1 FROM accounts WHERE email = ?", (email,)) is not None

    def is_known_account(self, account_id: str) -> bool:
        return self.db.query_one("SELECT 1 FROM accounts WHERE account_id = ?", (account_id,)) is not None

    def member_count(self, organization_id: str, management_account: str) -> int:
        row = self.db.query_one("SELECT count(*) AS n FROM accounts WHERE organization_id = ? AND account_id != ?",
                                (organization_id, management_account))
        return row["n"]

    # --- create account requests ---------------------------------------------------------

    def record_request(self, request: CreateAccountRequest, account: Account | None) -> None:
        """The finished request, and the account it created (if it did), in one transaction."""
        with self.db.transaction() as db:
            if account is not None:
                db.execute("INSERT INTO accounts (account_id, organization_id, email, name, joined_method, joined, "
                           "state, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (account.account_id, account.organization_id, account.email, account.name,
                            account.joined_method, account.joined, account.state, json.dumps(account.tags)))
            db.execute("INSERT INTO create_account_requests (id, organization_id, account_name, state, requested, "
                       "completed, account_id, failure_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (request.id, request.organization_id, request.account_name, request.state, request.requested,
                        request.completed, request.account_id, request.failure_reason))

    def request(self, organization_id: str, request_id: str) -> CreateAccountRequest | None:
        row = self.db.query_one("SELECT * FROM create_account_requests WHERE organization_id = ? AND id = ?",
                                (organization_id, request_id))
        return CreateAccountRequest(**dict(row)) if row else None

    def requests(self, organization_id: str, states: list[str] | None) -> list[CreateAccountRequest]:
        rows = self.db.query("SELECT * FROM create_account_requests WHERE organization_id = ? "
                             "ORDER BY requested, id", (organization_id,))
        found = [CreateAccountRequest(**dict(row)) for row in rows]
        return [r for r in found if not states or r.state in states]


def _account(row) -> Account:
    values = dict(row)
    values["tags"] = json.loads(values["tags"])
    return Account(**values)
