"""Managed policies: standalone, versioned documents attached to users, groups and roles.

A policy keeps up to five versions, one of which is the default (the one that applies).
Customer managed policies belong to one account; AWS managed ones (account 'aws') are
visible to all. https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-versioning.html
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lakestack.services.iam import ids
from lakestack.services.iam.aws_managed import AWS_MANAGED_POLICIES
from lakestack.services.iam.entities import merged_tags
from lakestack.services.iam.errors import already_exists, delete_conflict, limit_exceeded, no_such_entity

if TYPE_CHECKING:
    from lakestack.services.iam.store import IamStore

AWS_ACCOUNT = "aws"
MAX_VERSIONS = 5
MAX_ATTACHED = 10  # managed policies per user, group or role (AWS default quota)
_QUOTA_NAMES = {"user": "PoliciesPerUser", "group": "PoliciesPerGroup", "role": "PoliciesPerRole"}


@dataclass(frozen=True)
class ManagedPolicy:
    arn: str
    policy_id: str
    account_id: str
    name: str
    path: str
    description: str | None
    default_version: str
    created: float
    updated: float
    tags: list

    @property
    def is_aws_managed(self) -> bool:
        return self.account_id == AWS_ACCOUNT

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ManagedPolicy:
        return cls(row["arn"], row["policy_id"], row["account_id"], row["name"], row["path"], row["description"],
                   row["default_version"], row["created"], row["updated"], json.loads(row["tags"]))


@dataclass(frozen=True)
class PolicyVersion:
    policy_arn: str
    version_id: str
    document: str
    created: float
    is_default: bool


def policy_arn(account_id: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account_id}:policy{path}{name}"


class ManagedPolicies:
    def __init__(self, store: IamStore):
        self.store = store

    def install_aws_managed(self) -> None:
        """Make sure the AWS managed policies exist, with the documents this version ships."""
        for spec in AWS_MANAGED_POLICIES:
            document = json.dumps(spec.document, indent=4)
            row = self.store.query_one(
                "SELECT v.document FROM managed_policies p JOIN policy_versions v "
                "ON v.policy_arn = p.arn AND v.version_id = p.default_version WHERE p.arn = ?", (spec.arn,))
            if row is not None and row["document"] == document:
                continue
            stamp = time.time()
            with self.store.write() as db:
                db.execute(
                    "INSERT OR IGNORE INTO managed_policies (arn, policy_id, account_id, name, path, description, "
                    "default_version, next_version, created, updated) VALUES (?, ?, ?, ?, ?, ?, 'v1', 2, ?, ?)",
                    (spec.arn, ids.unique_id(ids.MANAGED_POLICY), AWS_ACCOUNT, spec.name, spec.path,
                     spec.description, stamp, stamp),
                )
                db.execute("UPDATE managed_policies SET default_version = 'v1', updated = ? WHERE arn = ?",
                           (stamp, spec.arn))
                db.execute("INSERT OR REPLACE INTO policy_versions (policy_arn, version_id, document, created) "
                           "VALUES (?, 'v1', ?, ?)", (spec.arn, document, stamp))

    # --- policies ------------------------------------------------------------------------

    def get(self, account_id: str, arn: str) -> ManagedPolicy | None:
        """The policy if `account_id` can see it (its own, or AWS managed)."""
        row = self.store.query_one("SELECT * FROM managed_policies WHERE arn = ? AND account_id IN (?, ?)",
                                   (arn, account_id, AWS_ACCOUNT))
        return ManagedPolicy.from_row(row) if row else None

    def require(self, account_id: str, arn: str) -> ManagedPolicy:
        policy = self.get(account_id, arn)
        if policy is None:
            raise no_such_entity(f"Policy {arn} was not found.")
        return policy

    def require_own(self, account_id: str, arn: str) -> ManagedPolicy:
        """A customer managed policy of this account (AWS managed ones cannot be changed)."""
        policy = self.require(account_id, arn)
        if policy.is_aws_managed:
            raise no_such_entity(f"Policy {arn} was not found.")
        return policy

    def list(self, account_id: str, scope: str = "All", path_prefix: str = "/") -> list[ManagedPolicy]:
        owners = {"AWS": (AWS_ACCOUNT,), "Local": (account_id,)}.get(scope, (account_id, AWS_ACCOUNT))
        marks = ",".join("?" * len(owners))
        rows = self.store.query(
            f"SELECT * FROM managed_policies WHERE account_id IN ({marks}) AND substr(path, 1, ?) = ? "
            "ORDER BY name", (*owners, len(path_prefix), path_prefix))
        return [ManagedPolicy.from_row(r) for r in rows]

    def attachment_count(self, account_id: str, arn: str) -> int:
        return self.store.query_one("SELECT count(*) FROM attachments WHERE policy_arn = ? AND account_id = ?",
                                    (arn, account_id))[0]

    def create(self, account_id: str, name: str, document: str, path: str = "/", description: str | None = None,
               tags: list | None = None) -> ManagedPolicy:
        stamp = time.time()
        policy = ManagedPolicy(policy_arn(account_id, path, name), ids.unique_id(ids.MANAGED_POLICY), account_id,
                               name, path, description, "v1", stamp, stamp, merged_tags([], tags or []))
        with self.store.write() as db:
            if db.execute("SELECT 1 FROM managed_policies WHERE account_id = ? AND name = ?",
                          (account_id, name)).fetchone():
                raise already_exists(f"A policy called {name} already exists. Duplicate names are not allowed.")
            db.execute(
                "INSERT INTO managed_policies (arn, policy_id, account_id, name, path, description, "
                "default_version, next_version, created, updated, tags) VALUES (?, ?, ?, ?, ?, ?, 'v1', 2, ?, ?, ?)",
                (policy.arn, policy.policy_id, account_id, name, path, description, stamp, stamp,
                 json.dumps(policy.tags)),
            )
            db.execute("INSERT INTO policy_versions (policy_arn, version_id, document, created) "
                       "VALUES (?, 'v1', ?, ?)", (policy.arn, document, stamp))
        return policy

    def delete(self, account_id: str, arn: str) -> None:
        with self.store.write() as db:
            self.require_own(account_id, arn)
            if db.execute("SELECT 1 FROM attachments WHERE policy_arn = ?", (arn,)).fetchone():
                raise delete_conflict("Cannot delete a policy attached to entities.")
            if db.execute("SELECT count(*) FROM policy_versions WHERE policy_arn = ?", (arn,)).fetchone()[0] > 1:
                raise delete_conflict("This policy has more than one version. Before you delete a policy, you "
                                      "must delete the policy's versions. The default version is deleted with "
                                      "the policy.")
            db.execute("DELETE FROM managed_policies WHERE arn = ?", (arn,))

    # --- versions ------------------------------------------------------------------------

    def versions(self, account_id: str, arn: str) -> list[PolicyVersion]:
        """Newest first, as ListPolicyVersions answers."""
        policy = self.require(account_id, arn)
        rows = self.store.query("SELECT * FROM policy_versions WHERE policy_arn = ? "
                                "ORDER BY CAST(substr(version_id, 2) AS INTEGER) DESC", (arn,))
        return [PolicyVersion(arn, r["version_id"], r["document"], r["created"],
                              r["version_id"] == policy.default_version) for r in rows]

    def version(self, account_id: str, arn: str, version_id: str) -> PolicyVersion:
        policy = self.require(account_id, arn)
        row = self.store.query_one("SELECT * FROM policy_versions WHERE policy_arn = ? AND version_id = ?",
                                   (arn, version_id))
        if row is None:
            raise no_such_entity(f"Policy {arn} version {version_id} does not exist or is not attachable.")
        return PolicyVersion(arn, version_id, row["document"], row["created"], version_id == policy.default_version)

    def default_document(self, arn: str) -> str | None:
        row = self.store.query_one(
            "SELECT v.document FROM managed_policies p JOIN policy_versions v "
            "ON v.policy_arn = p.arn AND v.version_id = p.default_version WHERE p.arn = ?", (arn,))
        return row["document"] if row else None

    def create_version(self, account_id: str, arn: str, document: str, set_default: bool) -> PolicyVersion:
        stamp = time.time()
        with self.store.write() as db:
            self.require_own(account_id, arn)
            if db.execute("SELECT count(*) FROM policy_versions WHERE policy_arn = ?", (arn,)).fetchone()[0] \
                    >= MAX_VERSIONS:
                raise limit_exceeded(f"A managed policy can have up to {MAX_VERSIONS} versions. Before you create "
                                     "a new version, you must delete an existing version.")
            number = db.execute("SELECT next_version FROM managed_policies WHERE arn = ?", (arn,)).fetchone()[0]
            version_id = f"v{number}"
            db.execute("INSERT INTO policy_versions (policy_arn, version_id, document, created) VALUES (?, ?, ?, ?)",
                       (arn, version_id, document, stamp))
            db.execute("UPDATE managed_policies SET next_version = ?, updated = ? WHERE arn = ?",
                       (number + 1, stamp, arn))
            if set_default:
                db.execute("UPDATE managed_policies SET default_version = ? WHERE arn = ?", (version_id, arn))
        return PolicyVersion(arn, version_id, document, stamp, set_default)

    def delete_version(self, account_id: str, arn: str, version_id: str) -> None:
        with self.store.write() as db:
            version = self.version(account_id, arn, version_id)
            self.require_own(account_id, arn)
            if version.is_default:
                raise delete_conflict("Cannot delete the default version of a policy.")
            db.execute("DELETE FROM policy_versions WHERE policy_arn = ? AND version_id = ?", (arn, version_id))

    def set_default_version(self, account_id: str, arn: str, version_id: str) -> None:
        with self.store.write() as db:
            self.version(account_id, arn, version_id)
            self.require_own(account_id, arn)
            db.execute("UPDATE managed_policies SET default_version = ?, updated = ? WHERE arn = ?",
                       (version_id, time.time(), arn))

    # --- attachments ---------------------------------------------------------------------

    def attach(self, account_id: str, arn: str, entity_type: str, entity_id: str) -> None:
        with self.store.write() as db:
            if self.get(account_id, arn) is None:
                raise no_such_entity(f"Policy {arn} does not exist or is not attachable.")
            if db.execute("SELECT 1 FROM attachments WHERE policy_arn = ? AND entity_type = ? AND entity_id = ?",
                          (arn, entity_type, entity_id)).fetchone():
                return
            count = db.execute("SELECT count(*) FROM attachments WHERE entity_type = ? AND entity_id = ?",
                               (entity_type, entity_id)).fetchone()[0]
            if count >= MAX_ATTACHED:
                raise limit_exceeded(f"Cannot exceed quota for {_QUOTA_NAMES[entity_type]}: {MAX_ATTACHED}")
            db.execute("INSERT INTO attachments (policy_arn, entity_type, entity_id, account_id) VALUES (?, ?, ?, ?)",
                       (arn, entity_type, entity_id, account_id))

    def detach(self, arn: str, entity_type: str, entity_id: str) -> None:
        with self.store.write() as db:
            gone = db.execute("DELETE FROM attachments WHERE policy_arn = ? AND entity_type = ? AND entity_id = ?",
                              (arn, entity_type, entity_id)).rowcount
            if not gone:
                raise no_such_entity(f"Policy {arn} was not found.")

    def attached(self, entity_type: str, entity_id: str, path_prefix: str = "/") -> list[ManagedPolicy]:
        rows = self.store.query(
            "SELECT p.* FROM managed_policies p JOIN attachments a ON a.policy_arn = p.arn "
            "WHERE a.entity_type = ? AND a.entity_id = ? AND substr(p.path, 1, ?) = ? ORDER BY p.name",
            (entity_type, entity_id, len(path_prefix), path_prefix))
        return [ManagedPolicy.from_row(r) for r in rows]

    def attached_to(self, account_id: str, arn: str) -> list[tuple[str, str]]:
        """(entity type, entity ID) of everything in the account the policy is attached to."""
        rows = self.store.query("SELECT entity_type, entity_id FROM attachments WHERE policy_arn = ? AND account_id = ?",
                                (arn, account_id))
        return [(r["entity_type"], r["entity_id"]) for r in rows]

    def attached_documents(self, entity_type: str, entity_id: str) -> list[tuple[str, str]]:
        """(policy ARN, default version document) of each policy attached to the entity."""
        rows = self.store.query(
            "SELECT p.arn, v.document FROM attachments a JOIN managed_policies p ON p.arn = a.policy_arn "
            "JOIN policy_versions v ON v.policy_arn = p.arn AND v.version_id = p.default_version "
            "WHERE a.entity_type = ? AND a.entity_id = ?", (entity_type, entity_id))
        return [(r["arn"], r["document"]) for r in rows]
