"""A real webhook receiver and upload target on a free loopback port."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """Records POSTed webhooks and PUT uploads; answers `fail_first` requests with 503."""

    def __init__(self, fail_first: int = 0) -> None:
        self.webhooks: list[dict] = []
        self.bodies: list[bytes] = []
        """Every body received (webhooks and uploads), byte for byte."""
        self.webhook_headers: list[dict[str, str]] = []
        self.uploads: dict[str, tuple[bytes, str]] = {}
        self.fail_first = fail_first
        self.calls = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length", 0)))

            def do_POST(self) -> None:
                body = self._body()
                with receiver.lock:
                    receiver.bodies.append(body)
                    receiver.calls += 1
                    failing = receiver.calls <= receiver.fail_first
                    if not failing:
                        receiver.webhooks.append(json.loads(body))
                        receiver.webhook_headers.append(dict(self.headers.items()))
                self.send_response(503 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_PUT(self) -> None:
                body = self._body()
                with receiver.lock:
                    receiver.uploads[self.path] = (body, self.headers.get("Content-Type", ""))
                self.send_response(201)
                self.send_header("Location", f"http://files.test{self.path}?signature=x")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
