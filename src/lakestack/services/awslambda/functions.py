"""Functions, their versions and aliases: the model, and the catalog that keeps it.

A `Version` holds the FunctionConfiguration exactly as Lambda answers it (so the provider
returns copies of it) plus what lakestack needs to run it: which code package and layers.
`$LATEST` is the mutable version; published versions are frozen copies of it.

The whole catalog lives in memory (it is small) and every change is written through to
SQLite before the call returns. Lookups on the invoke path never touch the database.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import threading
import time
import uuid
from dataclasses import dataclass, field

from lakestack.runtime.state import StateStore
from lakestack.services.awslambda import errors
from lakestack.services.awslambda.names import LATEST, FunctionRef, function_arn, is_version


def timestamp(when: float | None = None) -> str:
    """Lambda's LastModified format: 2024-01-15T10:20:30.123+0000."""
    moment = dt.datetime.fromtimestamp(time.time() if when is None else when, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def new_revision() -> str:
    return str(uuid.uuid4())


@dataclass
class Version:
    config: dict
    code_sha: str  # hex digest: the package in the code store
    layer_shas: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.config["FunctionName"]

    @property
    def number(self) -> str:
        return self.config["Version"]

    @property
    def timeout(self) -> int:
        return self.config["Timeout"]

    @property
    def memory(self) -> int:
        return self.config["MemorySize"]

    @property
    def revision(self) -> str:
        return self.config["RevisionId"]

    @property
    def ready(self) -> bool:
        return (self.config.get("State") == "Active"
                and self.config.get("LastUpdateStatus", "Successful") == "Successful")

    @property
    def log_group(self) -> str:
        return (self.config.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{self.name}"

    @property
    def environment(self) -> dict[str, str]:
        return dict((self.config.get("Environment") or {}).get("Variables") or {})

    def to_json(self) -> dict:
        return {"config": self.config, "code_sha": self.code_sha, "layer_shas": self.layer_shas}

    @classmethod
    def from_json(cls, data: dict) -> Version:
        return cls(data["config"], data["code_sha"], list(data.get("layer_shas") or []))

    def output(self) -> dict:
        return copy.deepcopy(self.config)


@dataclass
class Function:
    account: str
    region: str
    name: str
    versions: dict[str, Version] = field(default_factory=dict)
    aliases: dict[str, dict] = field(default_factory=dict)  # name → AliasConfiguration
    tags: dict[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    # Resource policies: "" for the function itself, else the version or alias they are on.
    policies: dict[str, dict] = field(default_factory=dict)
    policy_revisions: dict[str, str] = field(default_factory=dict)
    # PutFunctionEventInvokeConfig, by qualifier ("" = unqualified/$LATEST).
    invoke_configs: dict[str, dict] = field(default_factory=dict)
    last_version: int = 0
    created: float = field(default_factory=time.time)
    # Set when $LATEST is ready to run; replaced on each update (not stored).
    prepared: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    @property
    def arn(self) -> str:
        return function_arn(self.region, self.account, self.name)

    @property
    def latest(self) -> Version:
        return self.versions[LATEST]

    def published(self) -> list[Version]:
        return sorted((v for k, v in self.versions.items() if k != LATEST), key=lambda v: int(v.number))

    def to_json(self) -> dict:
        return {
            "versions": {k: v.to_json() for k, v in self.versions.items()},
            "aliases": self.aliases,
            "tags": self.tags,
            "reserved_concurrency": self.reserved_concurrency,
            "policies": self.policies,
            "policy_revisions": self.policy_revisions,
            "invoke_configs": self.invoke_configs,
            "last_version": self.last_version,
            "created": self.created,
        }

    @classmethod
    def from_json(cls, account: str, region: str, name: str, data: dict) -> Function:
        function = cls(account, region, name,
                       versions={k: Version.from_json(v) for k, v in data["versions"].items()},
                       aliases=data.get("aliases") or {}, tags=data.get("tags") or {},
                       reserved_concurrency=data.get("reserved_concurrency"),
                       policies=data.get("policies") or {}, policy_revisions=data.get("policy_revisions") or {},
                       invoke_configs=data.get("invoke_configs") or {},
                       last_version=data.get("last_version") or 0, created=data.get("created") or time.time())
        if function.latest.ready:
            function.prepared.set()
        return function


class Catalog:
    """Every function, in memory, written through to SQLite."""

    def __init__(self, db: StateStore):
        self.db = db
        # Held while changing a function; readers take references without it.
        self.lock = threading.RLock()
        self._functions: dict[tuple[str, str, str], Function] = {}
        for row in db.query("SELECT account, region, name, document FROM functions"):
            function = Function.from_json(row["account"], row["region"], row["name"], json.loads(row["document"]))
            self._functions[(function.account, function.region, function.name)] = function

    # -- finding ------------------------------------------------------------------------

    def get(self, account: str, region: str, name: str) -> Function | None:
        return self._functions.get((account, region, name))

    def require(self, ref: FunctionRef) -> Function:
        function = self.get(ref.account, ref.region, ref.name)
        if function is None:
            raise errors.function_not_found(ref.arn)
        return function

    def all(self, account: str, region: str) -> list[Function]:
        # list() copies in one step, so a concurrent CreateFunction cannot break the loop.
        return sorted((f for (a, r, _), f in list(self._functions.items()) if a == account and r == region),
                      key=lambda f: f.name)

    def everywhere(self) -> list[Function]:
        return list(self._functions.values())

    def resolve(self, ref: FunctionRef) -> tuple[Function, Version]:
        """The version a reference runs: a version number, an alias (routing by weight), or
        $LATEST when unqualified."""
        function = self.require(ref)
        qualifier = ref.qualifier or LATEST
        if is_version(qualifier):
            version = function.versions.get(qualifier)
            if version is None:
                raise errors.function_not_found(ref.arn)
            return function, version
        alias = function.aliases.get(qualifier)
        if alias is None:
            raise errors.function_not_found(ref.arn)
        number = pick_alias_version(alias)
        return function, function.versions[number]

    # -- changing -----------------------------------------------------------------------

    def add(self, function: Function) -> None:
        with self.lock:
            key = (function.account, function.region, function.name)
            if key in self._functions:
                raise errors.conflict(f"Function already exist: {function.name}")
            self._write(function)
            self._functions[key] = function

    def save(self, function: Function) -> None:
        with self.lock:
            self._write(function)

    def remove(self, function: Function) -> None:
        with self.lock:
            with self.db.transaction() as db:
                db.execute("DELETE FROM functions WHERE account = ? AND region = ? AND name = ?",
                           (function.account, function.region, function.name))
            self._functions.pop((function.account, function.region, function.name), None)

    def _write(self, function: Function) -> None:
        document = json.dumps(function.to_json(), separators=(",", ":"))
        with self.db.transaction() as db:
            db.execute("INSERT OR REPLACE INTO functions (account, region, name, document) VALUES (?, ?, ?, ?)",
                       (function.account, function.region, function.name, document))


def pick_alias_version(alias: dict) -> str:
    """An alias with AdditionalVersionWeights sends that share of invocations to the other
    version (weighted routing), the rest to its FunctionVersion."""
    import random

    weights = ((alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {})
    if weights:
        draw = random.random()
        for number, weight in weights.items():
            if draw < weight:
                return number
            draw -= weight
    return alias["FunctionVersion"]
