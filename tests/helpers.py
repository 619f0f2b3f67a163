"""Small helpers shared by test modules (importable because tests/conftest.py puts this
folder on sys.path)."""

import os
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


def aws_cli_env(stack, directory, endpoint: bool = True, **extra: str) -> dict:
    """The environment for an `aws` CLI subprocess against `stack` with its root key: the
    caller's environment less every AWS_* variable, config and credentials files of its own
    under `directory` (so no profile of the machine's leaks in), and `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=stack.credentials["aws_access_key_id"],
               AWS_SECRET_ACCESS_KEY=stack.credentials["aws_secret_access_key"], AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE=str(directory / "config"), AWS_SHARED_CREDENTIALS_FILE=str(directory / "credentials"),
               **extra)
    if endpoint:
        env["AWS_ENDPOINT_URL"] = stack.endpoint_url
    return env


class Crash(Exception):
    """Stands in for kill -9 at a chosen step (S3 store crash tests)."""


def open_s3_store(home):
    """S3's store, buckets and objects on `home`, as the provider makes them (no server)."""
    from lakestack.services.s3.buckets import Buckets
    from lakestack.services.s3.objects import Objects
    from lakestack.services.s3.store import S3Store

    store = S3Store(home, home / "state")
    buckets = Buckets(store)
    return store, buckets, Objects(store, buckets)
