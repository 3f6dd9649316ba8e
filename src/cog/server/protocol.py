"""The HTTP protocol: uvicorn's httptools protocol, with each response sent in one write.

uvicorn writes a response's head and its body separately, and uvloop sends each write at once:
two sends per response, and two wakeups of the client. Here the connection's writes are held
until the response is complete (or, for a streamed response, until the loop has run what is
ready), then sent together.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


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


class OneWriteProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(cast(asyncio.Transport, _HeldWrites(transport, self.loop)))

    def on_response_complete(self) -> None:
        cast(_HeldWrites, self.transport).flush()
        super().on_response_complete()
