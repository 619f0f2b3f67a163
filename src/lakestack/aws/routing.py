"""Which service, which protocol and which operation a request is for.

The service comes from the SigV4 credential scope when there is one, else from the target
prefix (X-Amz-Target, or the `/service/<S>/` of an RPC v2 CBOR path), else S3 (anonymous and
SigV2 requests are S3's). The protocol comes from the request's shape — a service answers in
each protocol it speaks or spoke (specs.spoken_protocols), in the one the request came in.
The operation comes from X-Amz-Target (json), the Action parameter (query), the CBOR path, or
method + URI template (rest).
"""

from __future__ import annotations

import ipaddress
from functools import cache, lru_cache
from urllib.parse import unquote

from lakestack.aws.protocols import json as json_protocol
from lakestack.aws.protocols import query as query_protocol
from lakestack.aws.protocols.rest import RestRouter
from lakestack.aws.specs import known_services, service_model, signing_name, spoken_protocols

CBOR = "smithy-rpc-v2-cbor"


def request_protocol(http) -> str | None:
    """The protocol a request's shape says it speaks; None for a REST request."""
    headers = http.headers
    if headers.get("smithy-protocol") == "rpc-v2-cbor":
        return CBOR
    if "x-amz-target" in headers:
        return "json"
    if "Action=" in http.query_string or (http.method == "POST" and headers.get(
            "content-type", "").startswith("application/x-www-form-urlencoded")):
        return "query"
    return None


def target_prefix(http, protocol: str | None) -> str | None:
    """The service part of X-Amz-Target, or of a CBOR request's /service/<S>/operation/<Op>."""
    if protocol == "json":
        target = http.headers["x-amz-target"]
        return target.rsplit(".", 1)[0] if "." in target else target
    if protocol == CBOR:
        from lakestack.aws.protocols import cbor

        return cbor.service_shape_name(http)
    return None


def _short(prefix: str) -> str:
    # A CBOR path names the service shape without its namespace; a few target prefixes have one.
    return prefix.rsplit(".", 1)[-1]


def choose_protocol(service: str, shape: str | None) -> str:
    """The protocol to read and answer a request of `shape` to `service` in: the request's own
    when the service speaks it, else the service's own (whose routing then fails with that
    protocol's error, as AWS answers a request it cannot read)."""
    spoken = spoken_protocols(service)
    if shape is None:
        return next((p for p in spoken if p.startswith("rest-")), spoken[0])
    return shape if shape in spoken else spoken[0]


class ServiceIndex:
    """Lookup tables over the services lakestack serves (and, lazily, those botocore knows)."""

    def __init__(self, services):
        self.services = list(services)
        self.by_signing_name: dict[str, str] = {}
        self.by_target_prefix: dict[str, str] = {}
        for name in self.services:
            model = service_model(name)
            self.by_signing_name.setdefault(signing_name(model), name)
            for protocol in spoken_protocols(name):
                prefix = service_model(name, protocol).metadata.get("targetPrefix")
                if prefix:
                    self.by_target_prefix.setdefault(prefix, name)
                    self.by_target_prefix.setdefault(_short(prefix), name)
        # Unsigned query-protocol calls (AssumeRoleWithWebIdentity, or a missing signature)
        # are told apart by their Action, since every service shares one endpoint here.
        self.by_query_action: dict[str, str] = {}
        for name in self.services:
            model = service_model(name)
            if model.protocol == "query":
                for op in model.operation_names:
                    self.by_query_action.setdefault(op, name)

    def service_for(self, signing: str | None, http, shape: str | None) -> str | None:
        """The served service a request is for, or None."""
        if signing:
            return self.by_signing_name.get(signing)
        prefix = target_prefix(http, shape)
        if prefix:
            return self.by_target_prefix.get(prefix)
        return "s3" if "s3" in self.services else None

    def known_service_for(self, signing: str | None, http, shape: str | None) -> str | None:
        """A service botocore knows but lakestack does not serve, for a request to it."""
        by_signing, by_prefix = _known_indexes()
        if signing:
            return by_signing.get(signing)
        prefix = target_prefix(http, shape)
        return by_prefix.get(prefix) if prefix else None


@cache
def _known_indexes() -> tuple[dict[str, str], dict[str, str]]:
    by_signing: dict[str, str] = {}
    by_prefix: dict[str, str] = {}
    for name, metadata in known_services().items():
        by_signing.setdefault(metadata.get("signingName") or metadata.get("endpointPrefix", name), name)
        if metadata.get("targetPrefix"):
            by_prefix.setdefault(metadata["targetPrefix"], name)
            by_prefix.setdefault(_short(metadata["targetPrefix"]), name)
    return by_signing, by_prefix


@cache
def rest_router(service: str) -> RestRouter:
    return RestRouter(service_model(service))


def operation_for(service: str, http, path: str, body: bytes | None,
                  protocol: str | None = None) -> tuple[str | None, dict]:
    """(operation name or None, URI path parameters) of a request in `protocol` (default: the
    service's own)."""
    protocol = protocol or service_model(service).protocol
    if protocol == "json":
        return json_protocol.operation_name(http), {}
    if protocol in ("query", "ec2"):
        return query_protocol.operation_name(http, body or b""), {}
    if protocol == CBOR:
        from lakestack.aws.protocols import cbor

        return cbor.operation_name(http), {}
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


def s3_bucket_and_key(http) -> tuple[str | None, str | None]:
    """(bucket, key) an S3 request names, by virtual host or path; None for what it does not name."""
    path = http.raw_path.split("?", 1)[0]
    bucket = s3_virtual_host_bucket(http.host)
    if bucket is not None:
        return bucket, unquote(path[1:]) or None
    name, _, key = path[1:].partition("/")
    return unquote(name) or None, unquote(key) or None


def is_s3_post_object(http) -> bool:
    """A browser's form upload (POST Object): multipart/form-data POSTed to a bucket's URL.
    botocore's model has no such operation; https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html"""
    if http.method != "POST" or not http.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        return False
    bucket, key = s3_bucket_and_key(http)
    return bucket is not None and key is None
