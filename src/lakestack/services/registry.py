"""The services lakestack serves, by botocore service name. Explicit on purpose: grep here
to find any provider."""

from __future__ import annotations

import importlib

PROVIDERS: dict[str, str] = {
    "s3": "lakestack.services.s3.provider:S3Provider",
    "sts": "lakestack.services.sts.provider:StsProvider",
    "iam": "lakestack.services.iam.provider:IamProvider",
    "glue": "lakestack.services.glue.provider:GlueProvider",
    "kinesis": "lakestack.services.kinesis.provider:KinesisProvider",
    "lambda": "lakestack.services.awslambda.provider:LambdaProvider",
    "logs": "lakestack.services.logs.provider:LogsProvider",
    "athena": "lakestack.services.athena.provider:AthenaProvider",
    "organizations": "lakestack.services.organizations.provider:OrganizationsProvider",
}


def load_provider_class(service: str):
    module_name, _, class_name = PROVIDERS[service].partition(":")
    return getattr(importlib.import_module(module_name), class_name)
