"""IAM OpenID Connect identity providers: the issuers (GitHub Actions, EKS clusters, …) a
role's trust policy may name as `{"Federated": "arn:aws:iam::<account>:oidc-provider/<url>"}`.

A provider is identified by its URL: the ARN is the URL without `https://`, verbatim (so
`https://host` and `https://host/` are two providers). AWS answers `Url` without the scheme.
https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateOpenIDConnectProvider.html
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from lakestack.services.iam.entities import merged_tags, without_tags
from lakestack.services.iam.errors import (
    already_exists,
    invalid_input,
    limit_exceeded,
    no_such_entity,
    validation_error,
)

if TYPE_CHECKING:
    from lakestack.services.iam.store import IamStore

# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
MAX_PROVIDERS = 100
MAX_CLIENT_IDS = 100
MAX_THUMBPRINTS = 5
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$")


def provider_arn(account_id: str, url: str) -> str:
    """The ARN of the provider for `url` (given with or without `https://`)."""
    return f"arn:aws:iam::{account_id}:oidc-provider/{url.removeprefix('https://')}"


def check_url(url: str) -> str:
    """The URL without its scheme, or the error AWS gives: https only, a host name without
    port or credentials, a path allowed, no query or fragment."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise validation_error("Invalid Open ID Connect Provider URL")
    if parts.scheme != "https" or not url.startswith("https://"):
        raise invalid_input("Invalid Open ID Connect Provider URL. The URL must begin with https://.")
    host = parts.netloc
    if "?" in url or "#" in url or "@" in host or ":" in host or not _HOST.match(host):
        raise invalid_input("Invalid Open ID Connect Provider URL.")
    return url[len("https://"):]


def check_client_ids(client_ids: list[str]) -> list[str]:
    unique = list(dict.fromkeys(client_ids))  # adding a client ID twice keeps one
    if len(unique) > MAX_CLIENT_IDS:
        raise limit_exceeded(f"Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}")
    return unique


def check_thumbprints(thumbprints: list[str]) -> list[str]:
    # The model bounds each to 40 characters; AWS checks no character set and keeps them in
    # lower case. Its message says "fewer than 5" but five are accepted.
    if len(thumbprints) > MAX_THUMBPRINTS:
        raise invalid_input("Thumbprint list must contain fewer than 5 entries.")
    return [t.lower() for t in thumbprints]


def check_new_tags(tags: list[dict]) -> list[dict]:
    keys = [t["Key"].lower() for t in tags]
    if len(set(keys)) != len(keys):
        raise invalid_input("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
    return merged_tags([], tags)


@dataclass(frozen=True)
class OidcProvider:
    arn: str
    account_id: str
    url: str  # without the scheme, as AWS answers it
    client_ids: list
    thumbprints: list
    tags: list
    created: float

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> OidcProvider:
        return cls(row["arn"], row["account_id"], row["url"], json.loads(row["client_ids"]),
                   json.loads(row["thumbprints"]), json.loads(row["tags"]), row["created"])


class OidcProviders:
    def __init__(self, store: IamStore):
        self.store = store

    def get(self, account_id: str, arn: str) -> OidcProvider | None:
        row = self.store.query_one("SELECT * FROM oidc_providers WHERE account_id = ? AND arn = ?",
                                   (account_id, arn))
        return OidcProvider.from_row(row) if row else None

    def require(self, account_id: str, arn: str) -> OidcProvider:
        provider = self.get(account_id, arn)
        if provider is None:
            raise no_such_entity(f"OpenIDConnect Provider not found for arn {arn}")
        return provider

    def list(self, account_id: str) -> list[OidcProvider]:
        rows = self.store.query("SELECT * FROM oidc_providers WHERE account_id = ? ORDER BY arn", (account_id,))
        return [OidcProvider.from_row(r) for r in rows]

    def create(self, account_id: str, url: str, client_ids: list[str], thumbprints: list[str],
               tags: list[dict]) -> OidcProvider:
        provider = OidcProvider(provider_arn(account_id, url), account_id, url, client_ids, thumbprints, tags,
                                time.time())
        with self.store.write() as db:
            if db.execute("SELECT 1 FROM oidc_providers WHERE arn = ?", (provider.arn,)).fetchone():
                raise already_exists(f"Provider with url https://{url} already exists.")
            count = db.execute("SELECT count(*) FROM oidc_providers WHERE account_id = ?", (account_id,)).fetchone()[0]
            if count >= MAX_PROVIDERS:
                raise limit_exceeded(f"Cannot exceed quota for OpenIdConnectProvidersPerAccount: {MAX_PROVIDERS}")
            db.execute(
                "INSERT INTO oidc_providers (arn, account_id, url, client_ids, thumbprints, tags, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (provider.arn, account_id, url, json.dumps(client_ids), json.dumps(thumbprints), json.dumps(tags),
                 provider.created),
            )
        return provider

    def delete(self, account_id: str, arn: str) -> None:
        # Roles that trust the provider stay; AssumeRoleWithWebIdentity would then fail.
        with self.store.write() as db:
            gone = db.execute("DELETE FROM oidc_providers WHERE account_id = ? AND arn = ?",
                              (account_id, arn)).rowcount
            if not gone:  # Delete words it differently from the other operations
                raise no_such_entity(f"OpenId connect Provider {arn} cannot be found.")

    def _update(self, account_id: str, arn: str, change) -> None:
        """Read, change and write one provider in one transaction: change(provider) gives the
        columns to set."""
        with self.store.write() as db:
            provider = self.require(account_id, arn)
            columns = change(provider)
            db.execute(f"UPDATE oidc_providers SET {', '.join(f'{c} = ?' for c in columns)} WHERE arn = ?",
                       (*(json.dumps(v) for v in columns.values()), arn))

    def add_client_id(self, account_id: str, arn: str, client_id: str) -> None:
        self._update(account_id, arn, lambda p: {"client_ids": check_client_ids([*p.client_ids, client_id])})

    def remove_client_id(self, account_id: str, arn: str, client_id: str) -> None:
        # Removing a client ID the provider does not have succeeds, as on AWS.
        self._update(account_id, arn, lambda p: {"client_ids": [c for c in p.client_ids if c != client_id]})

    def set_thumbprints(self, account_id: str, arn: str, thumbprints: list[str]) -> None:
        self._update(account_id, arn, lambda p: {"thumbprints": check_thumbprints(thumbprints)})

    def set_tags(self, account_id: str, arn: str, add: list | None = None, remove: list | None = None) -> None:
        self._update(account_id, arn,
                     lambda p: {"tags": without_tags(merged_tags(p.tags, add or []), remove or [])})
