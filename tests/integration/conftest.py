"""Fixtures shared by integration modules."""

import pytest

from lakestack.engines.streams.nats_server import NatsServer
from lakestack.inprocess import LocalStack


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
