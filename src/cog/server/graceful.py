"""Uvicorn with Cog's shutdown rules (imported only once the worker is booting)."""

from __future__ import annotations

import contextlib
import signal
import socket
from collections.abc import Callable, Iterator
from types import FrameType

import uvicorn

SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class GracefulServer(uvicorn.Server):
    """Uvicorn, except that SIGTERM is ignored under --await-explicit-shutdown, a signal
    that asked for a graceful shutdown ends the process with status 0 once it is done, and
    `on_shutdown` runs as the shutdown begins (before uvicorn waits for open requests)."""

    ignore_sigterm = False
    on_shutdown: Callable[[], None] | None = None

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Predictions are canceled now, not once uvicorn's wait for the requests that wait
        # on them is over: their grace starts with the shutdown.
        if self.on_shutdown is not None:
            self.on_shutdown()
        await super().shutdown(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and self.ignore_sigterm:
            return
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in SHUTDOWN_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
