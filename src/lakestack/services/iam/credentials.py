"""Whose access key is this? The answer for every signed request: root keys, IAM users'
keys, and STS temporary credentials, each with the principal it authenticates as.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from lakestack.aws.context import Credential, Principal
from lakestack.services.iam.caching import GenerationCache
from lakestack.services.iam.sessions import ASSUMED_ROLE, Session

if TYPE_CHECKING:
    from lakestack.services.iam.store import IamStore


def root_principal(account_id: str, access_key_id: str = "", session_token: str = "") -> Principal:
    return Principal(account_id=account_id, arn=f"arn:aws:iam::{account_id}:root", user_id=account_id,
                     kind="root", access_key_id=access_key_id, session_token=session_token)


class CredentialResolver:
    def __init__(self, store: IamStore):
        self.store = store
        self._cache = GenerationCache(store)

    def lookup(self, access_key_id: str) -> Credential | None:
        """The stored credential for the key, or None if unknown.

        A deactivated key comes back with active=False; temporary credentials come back
        with their `expiration`, which the caller checks against its clock (so that an
        expired session is answered ExpiredToken, not "unknown key").
        """
        return self._cache.get_or_load(access_key_id, lambda: self._load(access_key_id))

    def _load(self, access_key_id: str) -> Credential | None:
        key = self.store.access_keys.get(access_key_id)
        if key is not None:
            if key.is_root:
                principal = root_principal(key.account_id, access_key_id)
            else:
                user = self.store.users.by_id(key.user_id)
                if user is None:
                    return None
                principal = Principal(account_id=user.account_id, arn=user.arn, user_id=user.user_id, kind="user",
                                      access_key_id=access_key_id, source_arn=user.arn)
            return Credential(access_key_id, key.secret, principal, active=key.status == "Active")
        session = self.store.sessions.get(access_key_id)
        if session is None:
            return None
        principal = self._session_principal(session)
        if principal is None:
            return None
        expiration = dt.datetime.fromtimestamp(session.expiration, dt.UTC)
        return Credential(access_key_id, session.secret, principal, session_token=session.token,
                          expiration=expiration)

    def _session_principal(self, session: Session) -> Principal | None:
        if session.kind == ASSUMED_ROLE:
            return Principal(account_id=session.account_id, arn=session.arn, user_id=session.principal_id,
                             kind="assumed-role", access_key_id=session.access_key_id,
                             source_arn=session.source_arn, session_name=session.session_name,
                             session_policies=list(session.policies), session_token=session.token)
        # GetSessionToken: the same identity as the long-term key that asked for it.
        if session.subject_id is None:
            return root_principal(session.account_id, session.access_key_id, session.token)
        user = self.store.users.by_id(session.subject_id)
        if user is None:
            return None
        return Principal(account_id=user.account_id, arn=user.arn, user_id=user.user_id, kind="user",
                         access_key_id=session.access_key_id, source_arn=user.arn, session_token=session.token)
