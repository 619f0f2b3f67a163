"""Wire protocols a service spoke before botocore's model moved it on.

AWS keeps answering every protocol a service ever spoke: an SDK released before a migration
(or one that never migrated, like the AWS SDK for JavaScript v3's Athena client) keeps
working. The installed botocore only describes the newest, so this table adds the others,
each with the metadata that protocol needs and where the entry comes from. The gateway
answers a request in the protocol it came in (see `aws/routing.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class EarlierProtocol:
    protocol: str  # botocore's protocol name: json, query, rest-json, rest-xml, smithy-rpc-v2-cbor
    metadata: dict = field(default_factory=dict)  # what the protocol needs: jsonVersion, targetPrefix, ...
    source: str = ""


EARLIER_PROTOCOLS: dict[str, tuple[EarlierProtocol, ...]] = {
    "athena": (
        EarlierProtocol(
            "json", {"jsonVersion": "1.1", "targetPrefix": "AmazonAthena"},
            "botocore <= 1.43 data/athena/2017-05-18/service-2.json (protocol json, jsonVersion 1.1, "
            "targetPrefix AmazonAthena); botocore 1.44 moved Athena to rest-json. The AWS SDK for "
            "JavaScript v3, the Java SDK and the JDBC/ODBC drivers still send JSON 1.1.",
        ),
    ),
    "cloudwatch": (
        # https://aws.amazon.com/about-aws/whats-new/2025/07/amazon-cloudwatch-sdk-optimized-json-cbor-protocols-in-preview/
        # CloudWatch moved from the Query protocol to JSON 1.0 and Smithy RPC v2 CBOR; older SDKs
        # (and the AWS CLI v1 before botocore 1.42.7) still send Query.
        EarlierProtocol(
            "query", {"xmlNamespace": "http://monitoring.amazonaws.com/doc/2010-08-01/"},
            "botocore < 1.42.7 data/cloudwatch/2010-08-01/service-2.json (protocol query)",
        ),
        EarlierProtocol(
            "json", {"jsonVersion": "1.0", "targetPrefix": "GraniteServiceVersion20100801"},
            "botocore 1.42.7 data/cloudwatch/2010-08-01/service-2.json (protocol json, awsQueryCompatible)",
        ),
        EarlierProtocol(
            "smithy-rpc-v2-cbor", {"targetPrefix": "GraniteServiceVersion20100801"},
            "botocore 1.44 data/cloudwatch/2010-08-01/service-2.json (protocols smithy-rpc-v2-cbor, json, query)",
        ),
    ),
}


def earlier_protocols(service: str) -> tuple[EarlierProtocol, ...]:
    return EARLIER_PROTOCOLS.get(service, ())
