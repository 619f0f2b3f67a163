"""lakestack in this process, on a free port, for tests and notebooks."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

from lakestack.server import bind, build, uvicorn_server
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

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> LocalStack:
        if self._home is None:
            self._home = Path(tempfile.mkdtemp(prefix="lakestack-"))
        sock = bind("127.0.0.1", self._port)
        port = sock.getsockname()[1]
        self.settings = Settings.from_env(home=self._home, host="127.0.0.1", port=port, region=self._region,
                                          **self._settings_overrides)
        self.stack, gateway = build(self.settings)
        self._server = uvicorn_server(gateway, self.settings)
        self._server.config.install_signal_handlers = False  # not the main thread
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="lakestack-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("lakestack server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            self._server = None
        if self.stack is not None:
            self.stack.close()
            self.stack = None
        if self._own_home and self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)

    @property
    def home(self) -> Path:
        return self._home

    @property
    def endpoint_url(self) -> str:
        return self.settings.endpoint_url

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
