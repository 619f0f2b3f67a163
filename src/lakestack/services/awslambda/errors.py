"""Lambda's errors. Every one carries `Type` ("User" or "Service"), as AWS's do; the HTTP
status comes from botocore's model so it cannot drift from AWS's."""

from __future__ import annotations

from lakestack.aws.errors import AwsError
from lakestack.aws.specs import error_shapes


def error(code: str, message: str, **fields) -> AwsError:
    shape = error_shapes("lambda").get(code)
    status = shape.metadata.get("error", {}).get("httpStatusCode", 400) if shape is not None else 400
    fields.setdefault("Type", "User" if status < 500 else "Service")
    return AwsError(code, message, status=status, sender_fault=status < 500, **fields)


def invalid_parameter(message: str) -> AwsError:
    return error("InvalidParameterValueException", message)


def not_found(message: str) -> AwsError:
    return error("ResourceNotFoundException", message)


def function_not_found(arn: str) -> AwsError:
    return not_found(f"Function not found: {arn}")


def conflict(message: str) -> AwsError:
    return error("ResourceConflictException", message)


def precondition_failed() -> AwsError:
    return error("PreconditionFailedException", "The Revision Id provided does not match the latest Revision Id. "
                 "Call the GetFunction/GetAlias API to retrieve the latest Revision Id")


def too_many_requests(reason: str, message: str = "Rate Exceeded.") -> AwsError:
    # https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#API_Invoke_Errors
    return error("TooManyRequestsException", message, Reason=reason)


def request_too_large(limit: int) -> AwsError:
    return error("RequestTooLargeException",
                 f"Request must be smaller than {limit} bytes for the InvokeFunction operation")


def invalid_content(message: str) -> AwsError:
    return error("InvalidRequestContentException", message)
