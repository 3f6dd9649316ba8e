"""The HTTP protocol: uvicorn's httptools protocol, with each response sent in one write, and
limits on what a client may make the server hold.

uvicorn writes a response's head and its body separately, and uvloop sends each write at once:
two sends per response, and two wakeups of the client. Here the connection's writes are held
until the response is complete (or, for a streamed response, until the loop has run what is
ready), then sent together.

httptools (llhttp) puts no bound on a request's head: a client could send headers without end,
or open connections and send nothing. Here a head of more than MAX_HEADERS headers or
MAX_HEAD_BYTES bytes gets 431 (as Cog's server answers), and a connection that has not sent a
whole head within the idle timeout (uvicorn's `timeout_keep_alive`: since it connected, or
since its last response) is closed.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEADERS = 100
"""As Cog's server (hyper) allows."""
MAX_HEAD_BYTES = 64 * 1024
"""The request line and headers together."""
_TOO_LARGE = "Request Header Fields Too Large"


class _HeldWrites:
    """A transport whose writes wait for `flush` (or the loop's next turn)."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes) -> None:
        self._held.append(data)
        if len(self._held) == 1:  # a streamed response must not wait for its end
            self._loop.call_soon(self.flush)

    def flush(self) -> None:
        if self._held:
            held, self._held = self._held, []
            self._transport.writelines(held)  # one gathered send; a large body is not copied

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _HeadTooLarge(Exception):
    pass


class OneWriteProtocol(HttpToolsProtocol):
    # Set by connection_made before any other use.
    _head_pending: bool
    _head_bytes: int
    _head_deadline: asyncio.TimerHandle | None
    _head_refused: bool

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head_deadline = None
        self._head_refused = False
        self._await_head()
        super().connection_made(cast(asyncio.Transport, _HeldWrites(transport, self.loop)))

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._head_pending:
            self._head_bytes += len(data)
        super().data_received(data)
        # Checked after the parser has seen the data: a chunk may end the head and go on with
        # the body. httptools holds a header until it is whole, so the bytes are what count.
        if self._head_pending and self._head_bytes > MAX_HEAD_BYTES:
            self._refuse_head()

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        if len(self.headers) > MAX_HEADERS:
            raise _HeadTooLarge  # httptools stops parsing; uvicorn calls send_400_response

    def on_headers_complete(self) -> None:
        self._head_pending = False
        self._stop_head_deadline()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_pending, self._head_bytes = True, 0  # what comes next is the next head

    def on_response_complete(self) -> None:
        cast(_HeldWrites, self.transport).flush()
        super().on_response_complete()
        if not self.transport.is_closing() and not self.pipeline:
            self._await_head()

    def send_400_response(self, msg: str) -> None:
        if self._head_refused or len(self.headers or ()) > MAX_HEADERS:
            self._refuse_head()
            return
        super().send_400_response(msg)

    def _await_head(self) -> None:
        """Start the wait for a request's head: the connection is closed if it takes longer
        than the idle timeout (a client that connects and sends nothing included)."""
        self._head_pending, self._head_bytes = True, 0
        self._stop_head_deadline()
        self._head_deadline = self.loop.call_later(self.timeout_keep_alive, self._head_too_slow)

    def _stop_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self._head_pending and not self.transport.is_closing():
            self.transport.close()

    def _refuse_head(self) -> None:
        self._head_refused = True
        if self.transport.is_closing():
            return
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s"
            % (len(_TOO_LARGE), _TOO_LARGE.encode())
        )
        self.transport.close()
