"""Layers: versioned archives of libraries that functions extract into /opt.

Each layer (per account and region) is one JSON document with its versions; version
numbers are never reused, even after a version is deleted, as on AWS.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field

from lakestack.runtime.state import StateStore
from lakestack.services.awslambda import errors, policies
from lakestack.services.awslambda.functions import timestamp
from lakestack.services.awslambda.names import layer_arn, parse_layer_version_arn


@dataclass
class Layer:
    account: str
    region: str
    name: str
    versions: dict[int, dict] = field(default_factory=dict)  # number → {"info": response, "sha": hex}
    policies: dict[int, dict] = field(default_factory=dict)
    last_version: int = 0

    @property
    def arn(self) -> str:
        return layer_arn(self.region, self.account, self.name)

    def to_json(self) -> dict:
        return {"versions": {str(k): v for k, v in self.versions.items()},
                "policies": {str(k): v for k, v in self.policies.items()}, "last_version": self.last_version}

    @classmethod
    def from_json(cls, account: str, region: str, name: str, data: dict) -> Layer:
        return cls(account, region, name, {int(k): v for k, v in data["versions"].items()},
                   {int(k): v for k, v in (data.get("policies") or {}).items()}, data.get("last_version") or 0)


class Layers:
    def __init__(self, db: StateStore):
        self.db = db
        self.lock = threading.RLock()
        self._layers: dict[tuple[str, str, str], Layer] = {}
        for row in db.query("SELECT account, region, name, document FROM layers"):
            layer = Layer.from_json(row["account"], row["region"], row["name"], json.loads(row["document"]))
            self._layers[(layer.account, layer.region, layer.name)] = layer

    def get(self, account: str, region: str, name: str) -> Layer | None:
        return self._layers.get((account, region, name))

    def all(self, account: str, region: str) -> list[Layer]:
        return sorted((layer for (a, r, _), layer in list(self._layers.items()) if a == account and r == region
                       and layer.versions), key=lambda layer: layer.name)

    def shas_in_use(self) -> set[str]:
        with self.lock:
            return {v["sha"] for layer in self._layers.values() for v in layer.versions.values()}

    def publish(self, account: str, region: str, name: str, params: dict, sha_hex: str, sha256: str, size: int,
                location: str) -> dict:
        with self.lock:
            layer = self.get(account, region, name) or Layer(account, region, name)
            layer.last_version += 1
            number = layer.last_version
            info = {
                "Content": {"Location": location, "CodeSha256": sha256, "CodeSize": size},
                "LayerArn": layer.arn,
                "LayerVersionArn": layer_arn(region, account, name, number),
                "Description": params.get("Description") or "",
                "CreatedDate": timestamp(),
                "Version": number,
            }
            for key in ("CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"):
                if params.get(key):
                    info[key] = params[key]
            layer.versions[number] = {"info": info, "sha": sha_hex}
            self._save(layer)
            return info

    def version(self, account: str, region: str, name: str, number: int) -> dict:
        layer = self.get(account, region, name)
        if layer is None or number not in layer.versions:
            raise errors.not_found("The resource you requested does not exist.")
        return layer.versions[number]

    def for_function(self, arn: str, account: str) -> dict:
        """A layer version a function in `account` may use (its own, or shared with it)."""
        parsed = parse_layer_version_arn(arn)
        missing = errors.invalid_parameter(f"Layer version {arn} does not exist.")
        if parsed is None:
            raise missing
        region, owner, name, number = parsed
        layer = self.get(owner, region, name)
        if layer is None or number not in layer.versions:
            raise missing
        if owner != account and not policies.allows_account(layer.policies.get(number), account,
                                                            "lambda:GetLayerVersion", arn):
            raise errors.error("AccessDeniedException", f"User is not authorized to perform: "
                               f"lambda:GetLayerVersion on resource: {arn}")
        return layer.versions[number]

    def delete_version(self, account: str, region: str, name: str, number: int) -> None:
        with self.lock:
            layer = self.get(account, region, name)
            if layer is None or number not in layer.versions:
                return  # DeleteLayerVersion succeeds for a version that is not there
            del layer.versions[number]
            layer.policies.pop(number, None)
            self._save(layer)

    def set_policy(self, layer: Layer, number: int, policy: dict | None) -> None:
        with self.lock:
            if policy is None:
                layer.policies.pop(number, None)
            else:
                layer.policies[number] = policy
            self._save(layer)

    def _save(self, layer: Layer) -> None:
        self._layers[(layer.account, layer.region, layer.name)] = layer
        with self.db.transaction() as db:
            db.execute("INSERT OR REPLACE INTO layers (account, region, name, document) VALUES (?, ?, ?, ?)",
                       (layer.account, layer.region, layer.name, json.dumps(layer.to_json())))


def layer_statement(params: dict, resource: str) -> dict:
    """The statement AddLayerVersionPermission adds."""
    principal = params["Principal"]
    out = {
        "Sid": params["StatementId"],
        "Effect": "Allow",
        "Principal": "*" if principal == "*" else {"AWS": f"arn:aws:iam::{principal}:root"},
        "Action": params["Action"],
        "Resource": resource,
    }
    if params.get("OrganizationId"):
        out["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": params["OrganizationId"]}}
    return out
