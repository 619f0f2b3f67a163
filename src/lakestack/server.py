"""Build the stack and serve it on one port: HTTP/1.1 and HTTP/2, plain and TLS
(runtime/endpoint.py), with the certificate from the home's local CA (runtime/tls.py)."""

from __future__ import annotations

import configparser
import errno
import logging
import socket
import ssl
from collections.abc import Callable
from pathlib import Path

import uvicorn

from lakestack import __version__
from lakestack.aws.gateway import Gateway
from lakestack.runtime import instance, tls
from lakestack.runtime.endpoint import Endpoint
from lakestack.runtime.files import atomic_write
from lakestack.settings import Settings
from lakestack.stack import Stack

PROFILE = "lakestack"


class StartupError(RuntimeError):
    """The server cannot start, for a reason one line explains (port taken, bad TLS files)."""


def build(settings: Settings) -> tuple[Stack, Gateway]:
    stack = Stack(settings)
    return stack, Gateway(stack)


def uvicorn_config(app, settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        # Large S3 bodies stream through; no request-size cap at the HTTP layer.
        h11_max_incomplete_event_size=1 << 20,
        timeout_keep_alive=30,
        # lakestack binds to loopback and is addressed directly, not through a proxy.
        proxy_headers=False,
        # Don't wait out a long Lambda invoke on Ctrl-C: stop within ten seconds.
        timeout_graceful_shutdown=10,
        server_header=False,
    )


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(f"port {port} on {host} is already in use (another lakestack or another "
                               f"server?): choose another with --port, or --port 0 for any free one") from None
        if exc.errno == errno.EACCES:
            raise StartupError(f"not allowed to listen on port {port} on {host}: choose a port "
                               f"above 1023 with --port") from None
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def tls_context(settings: Settings) -> tuple[ssl.SSLContext, Path | None]:
    """The endpoint's SSLContext and the CA bundle that trusts it: the home's local CA
    (created on first start), or None when the user brought their own certificate."""
    if settings.tls_cert or settings.tls_key:
        if not (settings.tls_cert and settings.tls_key):
            raise StartupError("--tls-cert and --tls-key (LAKESTACK_TLS_CERT, LAKESTACK_TLS_KEY) go together")
        try:
            return tls.server_context(settings.tls_cert, settings.tls_key), None
        except (OSError, ssl.SSLError) as exc:
            raise StartupError(f"cannot use the TLS certificate {settings.tls_cert} with key "
                               f"{settings.tls_key}: {exc}") from None
    ca = tls.certificate_authority(settings.home)
    cert, key = ca.issue_files("endpoint", tls.endpoint_names(settings.host))
    return tls.server_context(cert, key), ca.cert_path


def write_aws_profile(settings: Settings, ca_bundle: Path | None) -> Path:
    """`<home>/config`: the `lakestack` profile with this endpoint and region (the keys are in
    `<home>/credentials`), so AWS_CONFIG_FILE + AWS_SHARED_CREDENTIALS_FILE + AWS_PROFILE is
    all the AWS CLI needs. Other sections and keys a user added are kept."""
    path = settings.home / "config"
    parser = configparser.ConfigParser(interpolation=None)
    if path.exists():
        parser.read(path)
    section = f"profile {PROFILE}"
    if not parser.has_section(section):
        parser.add_section(section)
    parser[section]["endpoint_url"] = settings.endpoint_url
    parser[section]["region"] = settings.region
    if ca_bundle is not None:
        parser[section]["ca_bundle"] = str(ca_bundle)
    else:
        parser.remove_option(section, "ca_bundle")
    lines = []
    for name in parser.sections():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {value}" for key, value in parser[name].items())
        lines.append("")
    data = "\n".join(lines).encode()
    if not path.exists() or path.read_bytes() != data:
        atomic_write(path, data, mode=0o644)
    return path


class Server:
    """A stack served on one bound port, its home claimed and its address recorded.

    Constructing it claims the home (instance.AlreadyRunning if another server has it),
    binds the port (StartupError if taken; port 0 picks a free one, and `settings.port`
    then says which), prepares TLS and builds the stack. `run()` serves until `stop()`,
    Ctrl-C or SIGTERM; `close()` releases everything.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.stack = None
        self.socket: socket.socket | None = None
        self.claim = instance.claim(settings.home)
        try:
            self.socket = bind(settings.host, settings.port)
            settings.port = self.socket.getsockname()[1]
            context, self.ca_bundle = tls_context(settings)
            self.stack, gateway = build(settings)
            self.endpoint = Endpoint(uvicorn_config(gateway, settings), tls=context)
            self.aws_config = write_aws_profile(settings, self.ca_bundle)
            self.claim.record(endpoint=settings.endpoint_url, https_endpoint=settings.https_endpoint_url,
                              host=settings.host, port=settings.port,
                              ca_bundle=str(self.ca_bundle) if self.ca_bundle else None,
                              aws_config=str(self.aws_config), version=__version__)
        except BaseException:
            self.close()
            raise

    @property
    def started(self) -> bool:
        return self.endpoint.started

    def run(self) -> None:
        self.endpoint.run(sockets=[self.socket])

    def stop(self) -> None:
        self.endpoint.should_exit = True

    def close(self) -> None:
        if self.stack is not None:
            self.stack.close()
            self.stack = None
        if self.socket is not None:
            self.socket.close()
            self.socket = None
        self.claim.release()


def serve(settings: Settings, on_ready: Callable[[Server], None] | None = None) -> None:
    """Run in the foreground until Ctrl-C / SIGTERM. `on_ready(server)` is called once the
    port is bound and recorded, before serving."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = Server(settings)
    try:
        if on_ready is not None:
            on_ready(server)
        server.run()
    finally:
        server.close()
