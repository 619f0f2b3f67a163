"""Athena's API errors (not query failures: those are FAILED executions)."""

from __future__ import annotations

from lakestack.aws.errors import AwsError


def invalid_request(message: str, code: str = "INVALID_INPUT") -> AwsError:
    return AwsError("InvalidRequestException", message, AthenaErrorCode=code)


def not_found(message: str, resource: str | None = None) -> AwsError:
    fields = {"ResourceName": resource} if resource else {}
    return AwsError("ResourceNotFoundException", message, **fields)


def metadata_error(message: str) -> AwsError:
    return AwsError("MetadataException", message)
