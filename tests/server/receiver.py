"""A real webhook receiver and upload target on a free loopback port."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Answer = Callable[[dict], tuple[int, float]]
"""How to answer one webhook: its status and the seconds to wait before answering."""


class Receiver:
    """Records POSTed webhooks and PUT uploads; answers `fail_first` requests with 503, and
    the others as `answer` says (200 at once by default)."""

    def __init__(self, fail_first: int = 0, answer: Answer | None = None) -> None:
        self.webhooks: list[dict] = []
        """The webhooks accepted (answered 2xx), in the order they arrived."""
        self.attempts: list[tuple[dict, int]] = []
        """Every webhook POSTed, accepted or not, with the status it was answered."""
        self.bodies: list[bytes] = []
        """Every body received (webhooks and uploads), byte for byte."""
        self.webhook_headers: list[dict[str, str]] = []
        self.uploads: dict[str, tuple[bytes, str]] = {}
        self.fail_first = fail_first
        self.answer = answer
        self.calls = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length", 0)))

            def do_POST(self) -> None:
                body = self._body()
                webhook = json.loads(body)
                with receiver.lock:
                    receiver.calls += 1
                    failing = receiver.calls <= receiver.fail_first
                status, delay = (503, 0.0) if failing else (200, 0.0)
                if not failing and receiver.answer is not None:
                    status, delay = receiver.answer(webhook)
                time.sleep(delay)
                with receiver.lock:  # recorded as answered: the sender sees this order
                    receiver.bodies.append(body)
                    receiver.attempts.append((webhook, status))
                    if 200 <= status < 300:
                        receiver.webhooks.append(webhook)
                        receiver.webhook_headers.append(dict(self.headers.items()))
                self.send_response(status)
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
