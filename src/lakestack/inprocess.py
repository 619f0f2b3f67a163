"""lakestack in this process, on a free port, for tests and notebooks."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

from lakestack.server import Server
from lakestack.settings import Settings


class LocalStack:
    """`with lakestack.local() as stack:` — a real server in a background thread.

    `home` keeps state in a folder of your choice (kept afterwards); by default a
    temporary folder is used and removed on exit.
    """

    def __init__(self, home: str | Path | None = None, region: str = "us-east-1", port: int = 0, **settings):
        self._own_home = home is None
        self._home = Path(home) if home else None
        self._region = region
        self._port = port
        self._settings_overrides = settings
        self.settings: Settings | None = None
        self.stack = None
        self._server = None
        self._thread = None
        self._ca_bundle: str | None = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> LocalStack:
        if self._home is None:
            self._home = Path(tempfile.mkdtemp(prefix="lakestack-"))
        self.settings = Settings.from_env(home=self._home, host="127.0.0.1", port=self._port, region=self._region,
                                          **self._settings_overrides)
        # Claims the home (a second server on it refuses), binds, builds the stack.
        self._server = Server(self.settings)
        self.stack = self._server.stack
        self._ca_bundle = str(self._server.ca_bundle) if self._server.ca_bundle else None
        self._thread = threading.Thread(target=self._server.run, name="lakestack-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._server.close()
                raise RuntimeError("lakestack server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._thread.join(timeout=15)
            self._server.close()
            self._server = None
            self.stack = None
        if self._own_home and self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)

    @property
    def home(self) -> Path:
        return self._home

    @property
    def endpoint_url(self) -> str:
        """http://127.0.0.1:<port>"""
        return self.settings.endpoint_url

    @property
    def https_endpoint_url(self) -> str:
        """https://127.0.0.1:<port>: the same port over TLS; trust `ca_bundle` (boto3:
        `verify=stack.ca_bundle`, or AWS_CA_BUNDLE)."""
        return self.settings.https_endpoint_url

    @property
    def ca_bundle(self) -> str | None:
        """The local CA certificate (PEM) that signed the endpoint's certificate."""
        return self._ca_bundle

    @property
    def credentials(self) -> dict:
        """Root credentials as boto3 keyword arguments."""
        key_id, secret = self.stack.provider("iam").root_credentials()
        return {"aws_access_key_id": key_id, "aws_secret_access_key": secret}

    def client(self, service: str, **kwargs):
        import boto3

        options = {"endpoint_url": self.endpoint_url, "region_name": self._region, **self.credentials}
        options.update(kwargs)
        return boto3.session.Session().client(service, **options)

    def resource(self, service: str, **kwargs):
        import boto3

        options = {"endpoint_url": self.endpoint_url, "region_name": self._region, **self.credentials}
        options.update(kwargs)
        return boto3.session.Session().resource(service, **options)
