"""Which service and which operation a request is for.

The service comes from the SigV4 credential scope when there is one, else from
X-Amz-Target, else S3 (anonymous and SigV2 requests are S3's). The operation comes from
X-Amz-Target (json), the Action parameter (query) or method + URI template (rest).
"""

from __future__ import annotations

import ipaddress
from functools import cache, lru_cache

from lakestack.aws.protocols import json as json_protocol
from lakestack.aws.protocols import query as query_protocol
from lakestack.aws.protocols.rest import RestRouter
from lakestack.aws.specs import service_model, signing_name


class ServiceIndex:
    """Lookup tables over the services lakestack serves."""

    def __init__(self, services):
        self.services = list(services)
        self.by_signing_name: dict[str, str] = {}
        self.by_target_prefix: dict[str, str] = {}
        for name in self.services:
            model = service_model(name)
            self.by_signing_name.setdefault(signing_name(model), name)
            prefix = model.metadata.get("targetPrefix")
            if prefix:
                self.by_target_prefix[prefix] = name
        # Unsigned query-protocol calls (AssumeRoleWithWebIdentity, or a missing signature)
        # are told apart by their Action, since every service shares one endpoint here.
        self.by_query_action: dict[str, str] = {}
        for name in self.services:
            model = service_model(name)
            if model.protocol == "query":
                for op in model.operation_names:
                    self.by_query_action.setdefault(op, name)

    def service_for(self, signing: str | None, http) -> str | None:
        if signing:
            return self.by_signing_name.get(signing)
        target = http.headers.get("x-amz-target")
        if target:
            return self.by_target_prefix.get(target.rsplit(".", 1)[0])
        return "s3" if "s3" in self.services else None


@cache
def rest_router(service: str) -> RestRouter:
    return RestRouter(service_model(service))


def operation_for(service: str, http, path: str, body: bytes | None) -> tuple[str | None, dict]:
    """(operation name or None, URI path parameters)."""
    model = service_model(service)
    protocol = model.protocol
    if protocol == "json":
        return json_protocol.operation_name(http), {}
    if protocol == "query":
        return query_protocol.operation_name(http, body or b""), {}
    return rest_router(service).match(http.method, path, http.query_dict, http.headers)


@lru_cache(maxsize=1024)
def s3_virtual_host_bucket(host: str) -> str | None:
    """The bucket named by a virtual-hosted-style Host (`bucket.s3.localhost`,
    `bucket.localhost`, `bucket.s3.us-east-1.localhost`), or None for path style."""
    hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    try:
        ipaddress.ip_address(hostname.strip("[]"))
        return None
    except ValueError:
        pass
    for suffix in (".localhost", ".localhost.localstack.cloud", ".amazonaws.com"):
        if hostname.endswith(suffix):
            head = hostname[: -len(suffix)]
            break
    else:
        return None
    labels = head.split(".")
    # bucket.s3, bucket.s3.us-east-1, bucket.s3-us-east-1: the bucket is left of the s3 label.
    for i in range(len(labels) - 1, -1, -1):
        if labels[i] == "s3" or labels[i].startswith("s3-"):
            return ".".join(labels[:i]) or None
    return head or None
