"""Fixtures shared by integration modules. A module that needs other settings defines its
own `stack`; `s3` and `anonymous` then follow it."""

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config

import lakestack
from lakestack.engines.streams.nats_server import NatsServer
from lakestack.inprocess import LocalStack


@pytest.fixture(scope="module")
def stack():
    """A lakestack for the module, in process on a free port, default settings."""
    with lakestack.local() as running:
        yield running


@pytest.fixture(scope="module")
def s3(stack):
    return stack.client("s3")


@pytest.fixture(scope="module")
def anonymous(stack):
    """An S3 client that signs nothing (an anonymous caller)."""
    return boto3.client("s3", endpoint_url=stack.endpoint_url, region_name="us-east-1",
                        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 0}))


@pytest.fixture(scope="session")
def nats_url():
    """A local `nats-server -js` on a free loopback port, for the JetStream stream engine."""
    with NatsServer() as url:
        yield url


@pytest.fixture(scope="module", params=["embedded", "jetstream"])
def kinesis_stack(request):
    """A lakestack per module and stream engine (the module's tests run once on each)."""
    options = {"stream_engine": request.param, "kinesis_enforce_limits": False}
    if request.param == "jetstream":
        options["nats_url"] = request.getfixturevalue("nats_url")
    with LocalStack(**options) as running:
        running.stack.provider("kinesis").transition_seconds = 0.05
        yield running
