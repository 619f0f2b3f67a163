"""STS temporary credentials (AssumeRole and GetSessionToken sessions), kept with the
identities they stand for so the credential resolver finds them like any other key.

Expired sessions stay a day so a late caller hears "expired" rather than "unknown key".
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lakestack.services.iam import ids

if TYPE_CHECKING:
    from lakestack.services.iam.store import IamStore

ASSUMED_ROLE = "assumed-role"
SESSION_TOKEN = "session"  # GetSessionToken: the caller's own identity, temporarily
KEEP_EXPIRED = 24 * 3600


@dataclass(frozen=True)
class Session:
    access_key_id: str
    account_id: str
    secret: str
    token: str
    kind: str
    subject_id: str | None  # the role (assumed-role) or user (session; None for root)
    arn: str  # what GetCallerIdentity answers
    principal_id: str  # "AROA…:session-name", or the user ID / account ID
    source_arn: str  # the role or user whose policies apply
    session_name: str
    policies: list  # session policy documents (dicts)
    tags: list
    created: float
    expiration: float

    @property
    def expired(self) -> bool:
        return time.time() >= self.expiration

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Session:
        return cls(row["access_key_id"], row["account_id"], row["secret"], row["token"], row["kind"],
                   row["subject_id"], row["arn"], row["principal_id"], row["source_arn"], row["session_name"],
                   json.loads(row["policies"]), json.loads(row["tags"]), row["created"], row["expiration"])


class Sessions:
    def __init__(self, store: IamStore):
        self.store = store

    def get(self, access_key_id: str) -> Session | None:
        row = self.store.query_one("SELECT * FROM sessions WHERE access_key_id = ?", (access_key_id,))
        return Session.from_row(row) if row else None

    def create(self, *, account_id: str, kind: str, subject_id: str | None, arn: str, principal_id: str,
               source_arn: str, duration: int, session_name: str = "", policies: list | None = None,
               tags: list | None = None) -> Session:
        stamp = time.time()
        session = Session(ids.access_key_id(ids.TEMPORARY_KEY), account_id, ids.secret_access_key(),
                          ids.session_token(), kind, subject_id, arn, principal_id, source_arn, session_name,
                          policies or [], tags or [], stamp, stamp + duration)
        # A new key changes nothing already cached, so this write leaves the caches alone.
        with self.store.db.transaction() as db:
            db.execute("DELETE FROM sessions WHERE expiration < ?", (stamp - KEEP_EXPIRED,))
            db.execute(
                "INSERT INTO sessions (access_key_id, account_id, secret, token, kind, subject_id, arn, "
                "principal_id, source_arn, session_name, policies, tags, created, expiration) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session.access_key_id, account_id, session.secret, session.token, kind, subject_id, arn,
                 principal_id, source_arn, session_name, json.dumps(session.policies), json.dumps(session.tags),
                 stamp, session.expiration),
            )
        return session
