"""AWS-shaped errors. Providers raise these; the protocol layer renders them."""

from __future__ import annotations


class AwsError(Exception):
    """An error answered to the client in the service's own error shape.

    `fields` are extra members of the error shape (S3 adds `BucketName`, `Key`, …).
    """

    def __init__(self, code: str, message: str = "", status: int = 400, sender_fault: bool = True,
                 headers: dict[str, str] | None = None, **fields):
        super().__init__(message or code)
        self.code = code
        self.message = message
        self.status = status
        self.sender_fault = sender_fault
        # Extra HTTP headers on the error answer (S3's x-amz-bucket-region on HeadBucket 404).
        self.headers = headers or {}
        self.fields = fields

    def __repr__(self) -> str:
        return f"AwsError({self.code!r}, {self.message!r}, status={self.status})"


def not_implemented(service: str, operation: str, served: bool = True) -> AwsError:
    # AWS has no such error; this names what is missing instead of faking success.
    message = (f"{service}.{operation} is not implemented yet" if served
               else f"lakestack does not serve {service} yet ({service}.{operation} was called)")
    return AwsError(
        "NotImplementedError",
        message,
        status=501,
        sender_fault=False,
    )


def validation_error(protocol: str, message: str) -> AwsError:
    """The validation error each protocol family uses."""
    if protocol == "query":
        return AwsError("ValidationError", message)
    if protocol == "rest-xml":
        return AwsError("InvalidArgument", message)
    return AwsError("ValidationException", message)


def internal_error() -> AwsError:
    return AwsError("InternalFailure", "An internal error occurred; see the lakestack server log.", status=500,
                    sender_fault=False)
