"""Output files PUT to --upload-url: streamed from disk with a length, replayed on a redirect."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from cog.runtime.outputs import FILE_MARKER
from cog.server.files import UPLOAD_PIECE, FileResolver


@contextmanager
def _upload_target() -> Iterator[tuple[str, list[dict[str, object]]]]:
    """A loopback server: /hop answers 307 to /store, which keeps what it is sent."""
    seen: list[dict[str, object]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            seen.append(
                {
                    "path": self.path,
                    "body": body,
                    "length": self.headers.get("Content-Length"),
                    "chunked": self.headers.get("Transfer-Encoding"),
                    "type": self.headers.get("Content-Type"),
                }
            )
            if self.path.startswith("/hop/"):
                self.send_response(307)
                self.send_header("Location", self.path.replace("/hop/", "/store/", 1))
            else:
                self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


async def _resolve(upload_url: str, value: object) -> object:
    async with httpx.AsyncClient() as client:
        return await FileResolver(upload_url, lambda: client).resolve(value)


def test_a_file_is_streamed_with_its_length_and_sent_again_after_a_redirect(tmp_path):
    payload = os.urandom(UPLOAD_PIECE * 2 + 7)  # more than one piece
    path = tmp_path / "out.png"
    path.write_bytes(payload)
    with _upload_target() as (url, seen):
        result = asyncio.run(_resolve(url + "/hop", {FILE_MARKER: str(path)}))
    assert result == f"{url}/store/out.png"
    assert [request["path"] for request in seen] == ["/hop/out.png", "/store/out.png"]
    for request in seen:
        assert request["body"] == payload
        assert request["length"] == str(len(payload))
        assert request["chunked"] is None
        assert request["type"] == "image/png"


def test_the_body_is_read_a_piece_at_a_time_and_can_be_read_again(tmp_path):
    from cog.server.files import FileBody

    path = tmp_path / "big.bin"
    path.write_bytes(b"a" * UPLOAD_PIECE + b"b" * 3)

    async def pieces() -> list[bytes]:
        return [piece async for piece in FileBody(str(path))]

    first, again = asyncio.run(pieces()), asyncio.run(pieces())
    assert [len(piece) for piece in first] == [UPLOAD_PIECE, 3]
    assert first == again
