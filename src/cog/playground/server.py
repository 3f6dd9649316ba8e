"""Run the playground on a port, in a background thread, until told to stop."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from .app import create_app
from .errors import PortUnavailable
from .guard import allowed_hosts

STARTUP_TIMEOUT_SECONDS = 10.0


class PlaygroundServer:
    """The playground for `target`, listening on host:port once `start()` returns."""

    def __init__(
        self,
        target: str,
        host: str = "127.0.0.1",
        port: int = 9000,
        webhook_host: str | None = None,
    ) -> None:
        self.host = host
        self._socket = _bind(host, port)
        self.port = int(self._socket.getsockname()[1])  # port 0 picks a free one
        webhook_base = f"http://{webhook_host}:{self.port}" if webhook_host else None
        hosts = allowed_hosts(host, webhook_host)
        app = create_app(target, webhook_base=webhook_base, hosts=hosts)
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="playground", daemon=True)

    @property
    def url(self) -> str:
        return loopback_url(self.host, self.port)

    def _run(self) -> None:
        self._server.run(sockets=[self._socket])

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise PortUnavailable(f"the playground did not start on {self.url}")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._socket.close()

    def alive(self) -> bool:
        return self._thread.is_alive()


def loopback_url(host: str, port: int) -> str:
    """The URL to reach a server bound to host:port from this machine (a wildcard address
    is reached through loopback)."""
    shown = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}"


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortUnavailable(
            f"cannot listen on {host}:{port} for the playground ({exc.strerror}); "
            "choose another port with -p/--playground-port"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
