"""Shared test fixtures. (`lakestack_stack`, an in-process server per module, comes from
lakestack's own pytest plugin, lakestack.testing.)"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`lakestack up` in a subprocess on a fixed port and data dir, with known root keys:
    for tests that kill the server and start it again on the same data."""

    key_id = "AKIATESTSERVERPROC01"
    secret = "testserverprocesstestserverprocess000001"

    def __init__(self, home: Path, env: dict[str, str] | None = None):
        self.home = home
        self.port = free_port()
        self.env = dict(os.environ, LAKESTACK_ROOT_ACCESS_KEY_ID=self.key_id,
                        LAKESTACK_ROOT_SECRET_ACCESS_KEY=self.secret, **(env or {}))
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def https_endpoint_url(self) -> str:
        """The same port over TLS, trusted through `ca_bundle`."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_bundle(self) -> str:
        return str(self.home / "tls" / "ca.pem")

    def start(self) -> ServerProcess:
        self.proc = subprocess.Popen([str(BIN / "lakestack"), "up", "--port", str(self.port), "--home",
                                      str(self.home)], env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.endpoint_url}/_lakestack/health", timeout=1)
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(self.proc.stderr.read().decode()) from None
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)

    def client(self, service: str, **config):
        return boto3.session.Session().client(
            service, endpoint_url=self.endpoint_url, aws_access_key_id=self.key_id,
            aws_secret_access_key=self.secret, region_name="us-east-1",
            config=Config(retries={"max_attempts": 0}, connect_timeout=2, read_timeout=10, **config))


@pytest.fixture
def server_process(tmp_path):
    """A factory: server_process(env={...}) → a started ServerProcess on tmp_path."""
    servers: list[ServerProcess] = []

    def start(env: dict[str, str] | None = None) -> ServerProcess:
        server = ServerProcess(tmp_path, env)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()
