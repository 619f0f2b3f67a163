"""CloudWatch Logs' errors, with the messages AWS uses."""

from __future__ import annotations

from lakestack.aws.errors import AwsError


def invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterException", message)


def group_not_found() -> AwsError:
    return AwsError("ResourceNotFoundException", "The specified log group does not exist.")


def stream_not_found() -> AwsError:
    return AwsError("ResourceNotFoundException", "The specified log stream does not exist.")


def group_exists() -> AwsError:
    return AwsError("ResourceAlreadyExistsException", "The specified log group already exists")


def stream_exists() -> AwsError:
    return AwsError("ResourceAlreadyExistsException", "The specified log stream already exists")


def deletion_protected() -> AwsError:
    return AwsError("ValidationException", "Log group deletion protection is enabled. Disable it before deleting the "
                    "log group.")


def too_many_tags(arn: str, limit: int) -> AwsError:
    return AwsError("TooManyTagsException", f"A resource can have no more than {limit} tags.", resourceName=arn)


def resource_not_found(arn: str) -> AwsError:
    return AwsError("ResourceNotFoundException", f"The specified resource does not exist: {arn}")
