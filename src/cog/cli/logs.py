"""Showing a model's logs while a (non-streaming) prediction runs.

The server only offers Server-Sent Events to streaming models, so for the others the CLI asks
for `logs` webhooks to a receiver of its own on a loopback port, and prints what is new in
each snapshot; the final response's logs print whatever the last webhook had not.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LogFollower:
    """Prints each new part of a prediction's logs once, whichever snapshot brings it."""

    def __init__(self) -> None:
        self._shown = 0
        self._lock = threading.Lock()
        self.closed = False

    def show(self, logs: str) -> None:
        with self._lock:
            if self.closed or len(logs) <= self._shown:
                return
            sys.stderr.write(logs[self._shown :])
            sys.stderr.flush()
            self._shown = len(logs)

    def finish(self, logs: str) -> None:
        """Show the final logs; later (late) webhooks are ignored."""
        self.show(logs)
        with self._lock:
            if self._shown and not logs.endswith("\n"):
                sys.stderr.write("\n")
            self.closed = True


def _handler(follower: LogFollower) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body: Any = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                body = {}
            logs = body.get("logs") if isinstance(body, dict) else None
            if isinstance(logs, str):
                follower.show(logs)
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Silence the standard library's access log."""

    return Handler


@contextmanager
def following_logs() -> Iterator[tuple[str, LogFollower]]:
    """A webhook URL on 127.0.0.1 and the follower that prints what it receives."""
    follower = LogFollower()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(follower))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/logs", follower
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
