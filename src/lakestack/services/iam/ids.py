"""Identifiers shaped like AWS's, from `secrets`.

Unique IDs are a four-letter prefix naming the entity type plus 17 characters; access key
IDs are 20 characters (AKIA… long-term, ASIA… temporary); secrets are 40 characters.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-prefixes
"""

from __future__ import annotations

import base64
import secrets
import string

USER = "AIDA"
GROUP = "AGPA"
ROLE = "AROA"
MANAGED_POLICY = "ANPA"
ACCESS_KEY = "AKIA"
TEMPORARY_KEY = "ASIA"

_ID_CHARS = string.ascii_uppercase + "234567"
_SECRET_CHARS = string.ascii_letters + string.digits + "+/"


def _random(chars: str, n: int) -> str:
    return "".join(secrets.choice(chars) for _ in range(n))


def unique_id(prefix: str) -> str:
    return prefix + _random(_ID_CHARS, 17)


def access_key_id(prefix: str = ACCESS_KEY) -> str:
    return prefix + _random(_ID_CHARS, 16)


def secret_access_key() -> str:
    return _random(_SECRET_CHARS, 40)


def session_token() -> str:
    # Opaque to clients; long and base64-looking like AWS's, and unguessable.
    return "IQoJb3JpZ2luX2VjE" + base64.b64encode(secrets.token_bytes(192)).decode()
