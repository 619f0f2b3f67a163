"""Cross-origin resource sharing: a bucket's CORS rules and how S3 evaluates requests on them.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors.html
https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketCors.html

A preflight (`OPTIONS`, unauthenticated) is allowed by the first rule whose AllowedOrigin
matches `Origin` (one `*` wildcard allowed), whose AllowedMethod holds
`Access-Control-Request-Method` and whose AllowedHeader patterns cover every name in
`Access-Control-Request-Headers`; otherwise it is a 403. An actual request carrying `Origin`
gets the `Access-Control-*` headers of the first rule that matches its origin and method.

Configurations live in `s3.db` (table `bucket_cors`) and are cached in memory: a request
without `Origin` never looks at them, one with it costs a dictionary lookup.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

from lakestack.aws.errors import AwsError
from lakestack.runtime.state import StateStore
from lakestack.services.s3 import errors

SCHEMA = """
CREATE TABLE IF NOT EXISTS bucket_cors (
    bucket TEXT PRIMARY KEY,
    configuration TEXT NOT NULL
)
"""
METHODS = ("GET", "PUT", "HEAD", "POST", "DELETE")
MAX_RULES = 100  # https://docs.aws.amazon.com/AmazonS3/latest/userguide/ManageCorsUsing.html
VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
_RULE_MEMBERS = ("ID", "AllowedHeaders", "AllowedMethods", "AllowedOrigins", "ExposeHeaders", "MaxAgeSeconds")


def _wildcard_match(pattern: str, value: str) -> bool:
    """`pattern` with at most one `*`, which matches any run of characters (none too)."""
    head, star, tail = pattern.partition("*")
    if not star:
        return pattern == value
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


@dataclass(frozen=True)
class Rule:
    origins: tuple[str, ...]
    methods: tuple[str, ...]
    headers: tuple[str, ...]  # lower case
    expose: tuple[str, ...]
    max_age: int | None

    @classmethod
    def of(cls, config: dict) -> Rule:
        return cls(tuple(config.get("AllowedOrigins") or ()), tuple(config.get("AllowedMethods") or ()),
                   tuple(h.lower() for h in config.get("AllowedHeaders") or ()),
                   tuple(config.get("ExposeHeaders") or ()), config.get("MaxAgeSeconds"))

    def origin(self, origin: str) -> str | None:
        """The Access-Control-Allow-Origin this rule answers `origin` with, or None."""
        for pattern in self.origins:
            if _wildcard_match(pattern, origin):
                return "*" if pattern == "*" else origin
        return None

    def allows_headers(self, names: list[str]) -> bool:
        return all(any(_wildcard_match(p, name) for p in self.headers) for name in names)

    def answer(self, allowed_origin: str) -> dict[str, str]:
        headers = {"Access-Control-Allow-Origin": allowed_origin,
                   "Access-Control-Allow-Methods": ", ".join(self.methods)}
        if allowed_origin != "*":  # S3 allows credentials unless every origin is allowed
            headers["Access-Control-Allow-Credentials"] = "true"
        if self.expose:
            headers["Access-Control-Expose-Headers"] = ", ".join(self.expose)
        headers["Vary"] = VARY
        return headers


def requested_headers(value: str | None) -> list[str]:
    return [name.strip().lower() for name in (value or "").split(",") if name.strip()]


def validate(configuration: dict) -> list[dict]:
    """PutBucketCors' rules, checked as S3 checks them, in the form GetBucketCors answers."""
    rules = configuration.get("CORSRules")
    if not rules or len(rules) > MAX_RULES:
        raise errors.malformed_xml()
    stored = []
    for rule in rules:
        if not rule.get("AllowedMethods") or not rule.get("AllowedOrigins"):
            raise errors.malformed_xml()
        for method in rule["AllowedMethods"]:
            if method not in METHODS:
                raise errors.invalid_request(f"Found unsupported HTTP method in CORS config. Unsupported method "
                                             f"is {method}")
        for origin in rule["AllowedOrigins"]:
            if origin.count("*") > 1:
                raise errors.invalid_request(f'AllowedOrigin "{origin}" can not have more than one wildcard.')
        for header in rule.get("AllowedHeaders") or ():
            if header.count("*") > 1:
                raise errors.invalid_request(f'AllowedHeader "{header}" can not have more than one wildcard.')
        for header in rule.get("ExposeHeaders") or ():
            if "*" in header:
                raise errors.invalid_request(f'ExposeHeader "{header}" contains wildcard. We currently do not '
                                             "support wildcard for ExposeHeader.")
        if rule.get("ID") is not None and len(rule["ID"]) > 255:
            raise errors.invalid_argument("The ID must be less than 255 characters", "ID", rule["ID"])
        stored.append({name: rule[name] for name in _RULE_MEMBERS if rule.get(name) is not None})
    return stored


def not_enabled(method: str, resource_type: str) -> AwsError:
    return AwsError("AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.", 403,
                    Method=method, ResourceType=resource_type)


def not_allowed(method: str, resource_type: str) -> AwsError:
    return AwsError("AccessForbidden", "CORSResponse: This CORS request is not allowed. This is usually because the "
                    "evalution of Origin, request method / Access-Control-Request-Method or "
                    "Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.", 403,
                    Method=method, ResourceType=resource_type)


class CorsConfigurations:
    def __init__(self, db: StateStore):
        self.db = db
        with db.transaction() as conn:
            conn.execute(SCHEMA)
        self._lock = threading.Lock()
        self._rules: dict[str, tuple[list[dict], tuple[Rule, ...]]] = {}
        for row in db.query("SELECT bucket, configuration FROM bucket_cors"):
            rules = json.loads(row["configuration"])
            self._rules[row["bucket"]] = (rules, tuple(Rule.of(r) for r in rules))

    def get(self, bucket: str) -> list[dict]:
        found = self._rules.get(bucket)
        if found is None:
            raise AwsError("NoSuchCORSConfiguration", "The CORS configuration does not exist", 404,
                           BucketName=bucket)
        return json.loads(json.dumps(found[0]))

    def put(self, bucket: str, configuration: dict) -> None:
        rules = validate(configuration)
        with self._lock:
            with self.db.transaction() as db:
                db.execute("INSERT OR REPLACE INTO bucket_cors (bucket, configuration) VALUES (?, ?)",
                           (bucket, json.dumps(rules)))
            self._rules[bucket] = (rules, tuple(Rule.of(r) for r in rules))

    def delete(self, bucket: str) -> None:
        """DeleteBucketCors, and DeleteBucket: the configuration goes with the bucket."""
        with self._lock:
            if bucket in self._rules:
                with self.db.transaction() as db:
                    db.execute("DELETE FROM bucket_cors WHERE bucket = ?", (bucket,))
                del self._rules[bucket]

    # -- evaluation --------------------------------------------------------------------------

    def preflight(self, bucket: str, key: str | None, origin: str | None, method: str | None,
                  request_headers: str | None) -> dict[str, str]:
        """The answer headers of an allowed preflight; 400 or 403 as S3 answers otherwise."""
        resource_type = "OBJECT" if key else "BUCKET"
        if not origin:
            raise AwsError("BadRequest", "Insufficient information. Origin request header needed.", 400)
        if not method:
            raise AwsError("BadRequest", "Invalid Access-Control-Request-Method: null", 400)
        if method not in METHODS:
            raise AwsError("BadRequest", f"Invalid Access-Control-Request-Method: {method}", 400)
        found = self._rules.get(bucket)
        if found is None:
            raise not_enabled(method, resource_type)
        names = requested_headers(request_headers)
        for rule in found[1]:
            allowed = rule.origin(origin)
            if allowed is None or method not in rule.methods or not rule.allows_headers(names):
                continue
            headers = rule.answer(allowed)
            if names:
                headers["Access-Control-Allow-Headers"] = ", ".join(names)
            if rule.max_age is not None:
                headers["Access-Control-Max-Age"] = str(rule.max_age)
            return headers
        raise not_allowed(method, resource_type)

    def response_headers(self, bucket: str, origin: str, method: str) -> dict[str, str]:
        """The CORS headers of an actual request from `origin` (none when no rule allows it)."""
        found = self._rules.get(bucket)
        if found is None:
            return {}
        for rule in found[1]:
            allowed = rule.origin(origin)
            if allowed is not None and method in rule.methods:
                return rule.answer(allowed)
        return {}

    def configured(self, bucket: str) -> bool:
        return bucket in self._rules
