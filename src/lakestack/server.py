"""Build the stack and serve it with uvicorn."""

from __future__ import annotations

import logging
import signal
import socket

import uvicorn

from lakestack.aws.gateway import Gateway
from lakestack.settings import Settings
from lakestack.stack import Stack


def build(settings: Settings) -> tuple[Stack, Gateway]:
    stack = Stack(settings)
    return stack, Gateway(stack)


class _Server(uvicorn.Server):
    def handle_exit(self, sig, frame) -> None:
        # Ctrl-C / SIGTERM ask for a clean stop: exit status 0 after shutdown, rather than
        # uvicorn's default of re-raising the signal once it is done.
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.should_exit = True


def uvicorn_server(app, settings: Settings) -> uvicorn.Server:
    config = uvicorn.Config(
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
    return _Server(config)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def serve(settings: Settings) -> None:
    """Run in the foreground until Ctrl-C / SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stack, gateway = build(settings)
    try:
        sock = bind(settings.host, settings.port)
        uvicorn_server(gateway, settings).run(sockets=[sock])
    finally:
        stack.close()
