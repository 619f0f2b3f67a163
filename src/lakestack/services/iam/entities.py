"""IAM identities: users, groups (and who is in them) and roles.

Deleting an identity that still has things attached is refused with DeleteConflict, as on
AWS, rather than cascading: https://docs.aws.amazon.com/IAM/latest/UserGuide/id_users_remove.html
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lakestack.services.iam import ids
from lakestack.services.iam.errors import already_exists, delete_conflict, limit_exceeded, no_such_entity

if TYPE_CHECKING:
    from lakestack.services.iam.store import IamStore

MAX_TAGS = 50
MAX_GROUPS_PER_USER = 10


def iam_arn(account_id: str, kind: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account_id}:{kind}{path}{name}"


# --- tags (users and roles; IAM tag keys are unique regardless of case) ------------------


def merged_tags(existing: list[dict], new: list[dict]) -> list[dict]:
    out = list(existing)
    for tag in new:
        out = [t for t in out if t["Key"].lower() != tag["Key"].lower()]
        out.append({"Key": tag["Key"], "Value": tag.get("Value", "")})
    if len(out) > MAX_TAGS:
        raise limit_exceeded(f"The number of tags has reached the maximum limit of {MAX_TAGS}.")
    return out


def without_tags(existing: list[dict], keys: list[str]) -> list[dict]:
    drop = {k.lower() for k in keys}
    return [t for t in existing if t["Key"].lower() not in drop]


# --- users -------------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    user_id: str
    account_id: str
    name: str
    path: str
    created: float
    tags: list

    @property
    def arn(self) -> str:
        return iam_arn(self.account_id, "user", self.path, self.name)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> User:
        return cls(row["user_id"], row["account_id"], row["name"], row["path"], row["created"],
                   json.loads(row["tags"]))


class Users:
    def __init__(self, store: IamStore):
        self.store = store

    def get(self, account_id: str, name: str) -> User | None:
        row = self.store.query_one("SELECT * FROM users WHERE account_id = ? AND name = ?", (account_id, name))
        return User.from_row(row) if row else None

    def require(self, account_id: str, name: str) -> User:
        user = self.get(account_id, name)
        if user is None:
            raise no_such_entity(f"The user with name {name} cannot be found.")
        return user

    def by_id(self, user_id: str) -> User | None:
        row = self.store.query_one("SELECT * FROM users WHERE user_id = ?", (user_id,))
        return User.from_row(row) if row else None

    def list(self, account_id: str, path_prefix: str = "/") -> list[User]:
        rows = self.store.query(
            "SELECT * FROM users WHERE account_id = ? AND substr(path, 1, ?) = ? ORDER BY name",
            (account_id, len(path_prefix), path_prefix),
        )
        return [User.from_row(r) for r in rows]

    def create(self, account_id: str, name: str, path: str = "/", tags: list | None = None) -> User:
        user = User(ids.unique_id(ids.USER), account_id, name, path, time.time(), merged_tags([], tags or []))
        with self.store.write() as db:
            if db.execute("SELECT 1 FROM users WHERE account_id = ? AND name = ?", (account_id, name)).fetchone():
                raise already_exists(f"User with name {name} already exists.")
            db.execute(
                "INSERT INTO users (user_id, account_id, name, path, created, tags) VALUES (?, ?, ?, ?, ?, ?)",
                (user.user_id, account_id, name, path, user.created, json.dumps(user.tags)),
            )
        return user

    def update(self, account_id: str, name: str, new_name: str | None, new_path: str | None) -> None:
        with self.store.write() as db:
            user = self.require(account_id, name)
            if new_name and new_name.lower() != user.name.lower():
                if db.execute("SELECT 1 FROM users WHERE account_id = ? AND name = ?",
                              (account_id, new_name)).fetchone():
                    raise already_exists(f"User with name {new_name} already exists.")
            db.execute("UPDATE users SET name = ?, path = ? WHERE user_id = ?",
                       (new_name or user.name, new_path or user.path, user.user_id))

    def delete(self, account_id: str, name: str) -> None:
        with self.store.write() as db:
            user = self.require(account_id, name)
            checks = (
                ("SELECT 1 FROM access_keys WHERE user_id = ?", "must delete access keys first"),
                ("SELECT 1 FROM inline_policies WHERE entity_type = 'user' AND entity_id = ?",
                 "must delete policies first"),
                ("SELECT 1 FROM attachments WHERE entity_type = 'user' AND entity_id = ?",
                 "must detach all policies first"),
                ("SELECT 1 FROM group_members WHERE user_id = ?", "must remove user from all groups first"),
            )
            for sql, why in checks:
                if db.execute(sql, (user.user_id,)).fetchone():
                    raise delete_conflict(f"Cannot delete entity, {why}.")
            db.execute("DELETE FROM users WHERE user_id = ?", (user.user_id,))

    def set_tags(self, account_id: str, name: str, add: list | None = None, remove: list | None = None) -> None:
        with self.store.write() as db:
            user = self.require(account_id, name)
            tags = without_tags(merged_tags(user.tags, add or []), remove or [])
            db.execute("UPDATE users SET tags = ? WHERE user_id = ?", (json.dumps(tags), user.user_id))


# --- groups ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    group_id: str
    account_id: str
    name: str
    path: str
    created: float

    @property
    def arn(self) -> str:
        return iam_arn(self.account_id, "group", self.path, self.name)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Group:
        return cls(row["group_id"], row["account_id"], row["name"], row["path"], row["created"])


class Groups:
    def __init__(self, store: IamStore):
        self.store = store

    def get(self, account_id: str, name: str) -> Group | None:
        row = self.store.query_one("SELECT * FROM groups WHERE account_id = ? AND name = ?", (account_id, name))
        return Group.from_row(row) if row else None

    def require(self, account_id: str, name: str) -> Group:
        group = self.get(account_id, name)
        if group is None:
            raise no_such_entity(f"The group with name {name} cannot be found.")
        return group

    def by_id(self, group_id: str) -> Group | None:
        row = self.store.query_one("SELECT * FROM groups WHERE group_id = ?", (group_id,))
        return Group.from_row(row) if row else None

    def list(self, account_id: str, path_prefix: str = "/") -> list[Group]:
        rows = self.store.query(
            "SELECT * FROM groups WHERE account_id = ? AND substr(path, 1, ?) = ? ORDER BY name",
            (account_id, len(path_prefix), path_prefix),
        )
        return [Group.from_row(r) for r in rows]

    def create(self, account_id: str, name: str, path: str = "/") -> Group:
        group = Group(ids.unique_id(ids.GROUP), account_id, name, path, time.time())
        with self.store.write() as db:
            if db.execute("SELECT 1 FROM groups WHERE account_id = ? AND name = ?", (account_id, name)).fetchone():
                raise already_exists(f"Group with name {name} already exists.")
            db.execute("INSERT INTO groups (group_id, account_id, name, path, created) VALUES (?, ?, ?, ?, ?)",
                       (group.group_id, account_id, name, path, group.created))
        return group

    def update(self, account_id: str, name: str, new_name: str | None, new_path: str | None) -> None:
        with self.store.write() as db:
            group = self.require(account_id, name)
            if new_name and new_name.lower() != group.name.lower():
                if db.execute("SELECT 1 FROM groups WHERE account_id = ? AND name = ?",
                              (account_id, new_name)).fetchone():
                    raise already_exists(f"Group with name {new_name} already exists.")
            db.execute("UPDATE groups SET name = ?, path = ? WHERE group_id = ?",
                       (new_name or group.name, new_path or group.path, group.group_id))

    def delete(self, account_id: str, name: str) -> None:
        with self.store.write() as db:
            group = self.require(account_id, name)
            checks = (
                ("SELECT 1 FROM group_members WHERE group_id = ?", "must remove users from group first"),
                ("SELECT 1 FROM inline_policies WHERE entity_type = 'group' AND entity_id = ?",
                 "must delete policies first"),
                ("SELECT 1 FROM attachments WHERE entity_type = 'group' AND entity_id = ?",
                 "must detach all policies first"),
            )
            for sql, why in checks:
                if db.execute(sql, (group.group_id,)).fetchone():
                    raise delete_conflict(f"Cannot delete entity, {why}.")
            db.execute("DELETE FROM groups WHERE group_id = ?", (group.group_id,))

    def add_user(self, account_id: str, group_name: str, user_name: str) -> None:
        with self.store.write() as db:
            group = self.require(account_id, group_name)
            user = self.store.users.require(account_id, user_name)
            count = db.execute("SELECT count(*) FROM group_members WHERE user_id = ? AND group_id != ?",
                               (user.user_id, group.group_id)).fetchone()[0]
            if count >= MAX_GROUPS_PER_USER:
                raise limit_exceeded(f"Cannot exceed quota for GroupsPerUser: {MAX_GROUPS_PER_USER}")
            db.execute("INSERT OR IGNORE INTO group_members (group_id, user_id) VALUES (?, ?)",
                       (group.group_id, user.user_id))

    def remove_user(self, account_id: str, group_name: str, user_name: str) -> None:
        with self.store.write() as db:
            group = self.require(account_id, group_name)
            user = self.store.users.require(account_id, user_name)
            gone = db.execute("DELETE FROM group_members WHERE group_id = ? AND user_id = ?",
                              (group.group_id, user.user_id)).rowcount
            if not gone:
                raise no_such_entity(f"User {user.name} is not in group {group.name}.")

    def members(self, group: Group) -> list[User]:
        rows = self.store.query(
            "SELECT u.* FROM users u JOIN group_members m ON m.user_id = u.user_id WHERE m.group_id = ? "
            "ORDER BY u.name", (group.group_id,))
        return [User.from_row(r) for r in rows]

    def for_user(self, user: User) -> list[Group]:
        rows = self.store.query(
            "SELECT g.* FROM groups g JOIN group_members m ON m.group_id = g.group_id WHERE m.user_id = ? "
            "ORDER BY g.name", (user.user_id,))
        return [Group.from_row(r) for r in rows]


# --- roles -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Role:
    role_id: str
    account_id: str
    name: str
    path: str
    created: float
    trust_policy: str
    description: str | None
    max_session_duration: int
    tags: list
    last_used: float | None = None
    last_used_region: str | None = None

    @property
    def arn(self) -> str:
        return iam_arn(self.account_id, "role", self.path, self.name)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Role:
        return cls(row["role_id"], row["account_id"], row["name"], row["path"], row["created"],
                   row["trust_policy"], row["description"], row["max_session_duration"],
                   json.loads(row["tags"]), row["last_used"], row["last_used_region"])


class Roles:
    def __init__(self, store: IamStore):
        self.store = store

    def get(self, account_id: str, name: str) -> Role | None:
        row = self.store.query_one("SELECT * FROM roles WHERE account_id = ? AND name = ?", (account_id, name))
        return Role.from_row(row) if row else None

    def require(self, account_id: str, name: str) -> Role:
        role = self.get(account_id, name)
        if role is None:
            raise no_such_entity(f"The role with name {name} cannot be found.")
        return role

    def by_id(self, role_id: str) -> Role | None:
        row = self.store.query_one("SELECT * FROM roles WHERE role_id = ?", (role_id,))
        return Role.from_row(row) if row else None

    def by_arn(self, arn: str) -> Role | None:
        """The role an ARN names. Exact, case and path included: AssumeRole is case-sensitive."""
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
            return None
        rest = parts[5][len("role"):]
        path, _, name = rest.rpartition("/")
        role = self.get(parts[4], name)
        if role is None or role.name != name or role.path != path + "/":
            return None
        return role

    def list(self, account_id: str, path_prefix: str = "/") -> list[Role]:
        rows = self.store.query(
            "SELECT * FROM roles WHERE account_id = ? AND substr(path, 1, ?) = ? ORDER BY name",
            (account_id, len(path_prefix), path_prefix),
        )
        return [Role.from_row(r) for r in rows]

    def create(self, account_id: str, name: str, trust_policy: str, path: str = "/",
               description: str | None = None, max_session_duration: int = 3600,
               tags: list | None = None) -> Role:
        role = Role(ids.unique_id(ids.ROLE), account_id, name, path, time.time(), trust_policy, description,
                    max_session_duration, merged_tags([], tags or []))
        with self.store.write() as db:
            if db.execute("SELECT 1 FROM roles WHERE account_id = ? AND name = ?", (account_id, name)).fetchone():
                raise already_exists(f"Role with name {name} already exists.")
            db.execute(
                "INSERT INTO roles (role_id, account_id, name, path, created, trust_policy, description, "
                "max_session_duration, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (role.role_id, account_id, name, path, role.created, trust_policy, description,
                 max_session_duration, json.dumps(role.tags)),
            )
        return role

    def update(self, account_id: str, name: str, description: str | None = None,
               max_session_duration: int | None = None) -> None:
        with self.store.write() as db:
            role = self.require(account_id, name)
            db.execute(
                "UPDATE roles SET description = ?, max_session_duration = ? WHERE role_id = ?",
                (role.description if description is None else description,
                 max_session_duration or role.max_session_duration, role.role_id),
            )

    def update_trust(self, account_id: str, name: str, trust_policy: str) -> None:
        with self.store.write() as db:
            role = self.require(account_id, name)
            db.execute("UPDATE roles SET trust_policy = ? WHERE role_id = ?", (trust_policy, role.role_id))

    def delete(self, account_id: str, name: str) -> None:
        with self.store.write() as db:
            role = self.require(account_id, name)
            checks = (
                ("SELECT 1 FROM inline_policies WHERE entity_type = 'role' AND entity_id = ?",
                 "must delete policies first"),
                ("SELECT 1 FROM attachments WHERE entity_type = 'role' AND entity_id = ?",
                 "must detach all policies first"),
            )
            for sql, why in checks:
                if db.execute(sql, (role.role_id,)).fetchone():
                    raise delete_conflict(f"Cannot delete entity, {why}.")
            db.execute("DELETE FROM roles WHERE role_id = ?", (role.role_id,))

    def set_tags(self, account_id: str, name: str, add: list | None = None, remove: list | None = None) -> None:
        with self.store.write() as db:
            role = self.require(account_id, name)
            tags = without_tags(merged_tags(role.tags, add or []), remove or [])
            db.execute("UPDATE roles SET tags = ? WHERE role_id = ?", (json.dumps(tags), role.role_id))

    def mark_used(self, role: Role, region: str) -> None:
        with self.store.db.transaction() as db:  # not a permissions change: caches stay valid
            db.execute("UPDATE roles SET last_used = ?, last_used_region = ? WHERE role_id = ?",
                       (time.time(), region, role.role_id))
