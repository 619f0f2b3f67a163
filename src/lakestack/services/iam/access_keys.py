"""Long-term access keys: IAM users' keys and each account's root key.

"Last used" is noted in memory on the request path and written to the database lazily
(when someone asks, and on shutdown): AWS also reports it with a delay, and a disk write
per request would cost more than the request.
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lakestack.services.iam import ids
from lakestack.services.iam.errors import limit_exceeded, no_such_entity

if TYPE_CHECKING:
    import sqlite3

    from lakestack.services.iam.entities import User
    from lakestack.services.iam.store import IamStore

MAX_KEYS_PER_USER = 2


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    account_id: str
    user_id: str | None  # None: the account's root key
    secret: str
    status: str
    created: float
    last_used: float | None = None
    last_used_service: str | None = None
    last_used_region: str | None = None

    @property
    def is_root(self) -> bool:
        return self.user_id is None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> AccessKey:
        return cls(row["access_key_id"], row["account_id"], row["user_id"], row["secret"], row["status"],
                   row["created"], row["last_used"], row["last_used_service"], row["last_used_region"])


class AccessKeys:
    def __init__(self, store: IamStore):
        self.store = store
        self._usage: dict[str, tuple[float, str, str]] = {}
        self._usage_lock = threading.Lock()

    def get(self, access_key_id: str) -> AccessKey | None:
        row = self.store.query_one("SELECT * FROM access_keys WHERE access_key_id = ?", (access_key_id,))
        return AccessKey.from_row(row) if row else None

    def list(self, account_id: str, user: User | None) -> list[AccessKey]:
        if user is None:
            rows = self.store.query("SELECT * FROM access_keys WHERE account_id = ? AND user_id IS NULL "
                                    "ORDER BY created", (account_id,))
        else:
            rows = self.store.query("SELECT * FROM access_keys WHERE user_id = ? ORDER BY created", (user.user_id,))
        return [AccessKey.from_row(r) for r in rows]

    def require(self, account_id: str, user: User | None, access_key_id: str) -> AccessKey:
        key = self.get(access_key_id)
        owner = user.user_id if user else None
        if key is None or key.account_id != account_id or key.user_id != owner:
            raise no_such_entity(f"The Access Key with id {access_key_id} cannot be found.")
        return key

    def create(self, account_id: str, user: User | None) -> AccessKey:
        key = AccessKey(ids.access_key_id(), account_id, user.user_id if user else None,
                        ids.secret_access_key(), "Active", time.time())
        with self.store.write() as db:
            if len(self.list(account_id, user)) >= MAX_KEYS_PER_USER:
                raise limit_exceeded(f"Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_USER}")
            self._insert(db, key)
        return key

    def _insert(self, db, key: AccessKey) -> None:
        db.execute(
            "INSERT INTO access_keys (access_key_id, account_id, user_id, secret, status, created) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (key.access_key_id, key.account_id, key.user_id, key.secret, key.status, key.created),
        )

    def set_status(self, account_id: str, user: User | None, access_key_id: str, status: str) -> None:
        with self.store.write() as db:
            self.require(account_id, user, access_key_id)
            db.execute("UPDATE access_keys SET status = ? WHERE access_key_id = ?", (status, access_key_id))

    def delete(self, account_id: str, user: User | None, access_key_id: str) -> None:
        with self.store.write() as db:
            self.require(account_id, user, access_key_id)
            db.execute("DELETE FROM access_keys WHERE access_key_id = ?", (access_key_id,))

    # --- the root key --------------------------------------------------------------------

    def root_key(self, account_id: str) -> AccessKey | None:
        keys = self.list(account_id, None)
        return keys[0] if keys else None

    def ensure_root_key(self, account_id: str, access_key_id: str | None = None,
                        secret: str | None = None) -> AccessKey:
        """The account's root key; a configured key replaces whatever root keys are stored."""
        current = self.root_key(account_id)
        if access_key_id is None:
            if current is not None:
                return current
            access_key_id, secret = ids.access_key_id(), ids.secret_access_key()
        elif current is not None and (current.access_key_id, current.secret) == (access_key_id, secret):
            return current
        key = AccessKey(access_key_id, account_id, None, secret, "Active", time.time())
        with self.store.write() as db:
            db.execute("DELETE FROM access_keys WHERE account_id = ? AND user_id IS NULL", (account_id,))
            db.execute("DELETE FROM access_keys WHERE access_key_id = ?", (access_key_id,))
            self._insert(db, key)
        return key

    # --- last used -----------------------------------------------------------------------

    def note_use(self, access_key_id: str, service: str, region: str) -> None:
        with self._usage_lock:
            self._usage[access_key_id] = (time.time(), service, region)

    def flush_usage(self) -> None:
        with self._usage_lock:
            pending, self._usage = self._usage, {}
        if not pending:
            return
        with self.store.db.transaction() as db:  # not a permissions change: caches stay valid
            db.executemany(
                "UPDATE access_keys SET last_used = ?, last_used_service = ?, last_used_region = ? "
                "WHERE access_key_id = ?",
                [(when, service, region, key) for key, (when, service, region) in pending.items()],
            )
