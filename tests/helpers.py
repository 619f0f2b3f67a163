"""Small helpers shared by test modules (importable because tests/conftest.py puts this
folder on sys.path)."""

import time

import pytest
from botocore.exceptions import ClientError


def error_of(call, *args, **kwargs) -> dict:
    """The error response of a boto3 call that must fail."""
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    return caught.value.response


def wait_active(kinesis, name: str, timeout: float = 10) -> None:
    """Wait for a Kinesis stream to reach ACTIVE (creation and resharding are asynchronous)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
            return
        time.sleep(0.02)
    raise AssertionError(f"{name} did not become ACTIVE")
