"""What pycog relies on in uvicorn's internals, pinned (pyproject bounds uvicorn's version).

server/protocol.py subclasses uvicorn's HttpToolsProtocol so that a response leaves in one
write; server/graceful.py replaces uvicorn's `capture_signals`. When a new uvicorn changes
either, these tests say so before the bound is raised.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
import uvicorn.server
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from cog.server.graceful import SHUTDOWN_SIGNALS, GracefulServer
from cog.server.protocol import OneWriteProtocol

BODY = b"x" * 300


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A plain ASGI app: head and body sent as two ASGI messages, as Starlette does."""
    if scope["type"] != "http":
        return
    headers = [(b"content-length", str(len(BODY)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})


class _CountingTransport:
    """The real transport, counting the sends (write and writelines calls) made on it."""

    def __init__(self, transport: asyncio.Transport, sends: list[int]) -> None:
        self._transport = transport
        self._sends = sends

    def write(self, data: bytes) -> None:
        self._sends.append(1)
        self._transport.write(data)

    def writelines(self, data: Any) -> None:
        self._sends.append(1)
        self._transport.writelines(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _counting(base: type[HttpToolsProtocol], sends: list[int]) -> type[HttpToolsProtocol]:
    class Counting(base):  # type: ignore[misc, valid-type]
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(_CountingTransport(transport, sends))  # type: ignore[arg-type]

    return Counting


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _serving(protocol: type[HttpToolsProtocol]) -> Iterator[int]:
    """A real uvicorn on a loopback port, in a thread (so without signal handling)."""
    port = _free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, http=protocol, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise AssertionError("uvicorn did not start")
            threading.Event().wait(0.01)
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def _exchange(port: int, requests: int) -> list[bytes]:
    """Send `requests` requests on one keep-alive connection, one after the other; return the
    responses as received."""
    responses = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for _ in range(requests):
            sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            data = b""
            while not data.endswith(BODY):
                chunk = sock.recv(65536)
                assert chunk, "connection closed early"
                data += chunk
            responses.append(data)
    return responses


def _sends_per_response(protocol: type[HttpToolsProtocol], requests: int = 3) -> int:
    sends: list[int] = []
    with _serving(_counting(protocol, sends)) as port:
        responses = _exchange(port, requests)
    assert all(response.startswith(b"HTTP/1.1 200 OK") for response in responses)
    assert len(sends) % requests == 0, sends
    return len(sends) // requests


def test_one_write_protocol_sends_each_response_in_one_write():
    assert _sends_per_response(OneWriteProtocol) == 1


def test_uvicorn_alone_still_writes_head_and_body_apart():
    """The reason for OneWriteProtocol: if uvicorn ever sends a response in one write itself,
    protocol.py's write holding can go."""
    assert _sends_per_response(HttpToolsProtocol) >= 2


# --- signals ---------------------------------------------------------------------------------


class _Recorder:
    """A Python handler on the shutdown signals that records what reaches it (instead of
    pytest's, or the default that would end the test run)."""

    def __init__(self) -> None:
        self.received: list[int] = []

    def __call__(self, sig: int, _frame: Any) -> None:
        self.received.append(sig)


@contextmanager
def _recorded_signals() -> Iterator[_Recorder]:
    recorder = _Recorder()
    previous = {sig: signal.signal(sig, recorder) for sig in SHUTDOWN_SIGNALS}
    try:
        yield recorder
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _capture_and_signal(server: uvicorn.Server) -> tuple[dict[int, Any], list[int], bool]:
    """Handlers inside the server's capture_signals, the signals re-raised after it, and
    whether SIGTERM inside asked the server to exit."""
    with _recorded_signals() as recorder:
        with server.capture_signals():
            inside = {sig: signal.getsignal(sig) for sig in SHUTDOWN_SIGNALS}
            signal.raise_signal(signal.SIGTERM)
        restored = {sig: signal.getsignal(sig) for sig in SHUTDOWN_SIGNALS}
        assert all(handler is recorder for handler in restored.values()), restored
    return inside, recorder.received, server.should_exit


def _config() -> uvicorn.Config:
    return uvicorn.Config(app, lifespan="off")


def test_graceful_handles_the_signals_uvicorn_handles():
    assert set(SHUTDOWN_SIGNALS) == set(uvicorn.server.HANDLED_SIGNALS)


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals: main thread"
)
def test_graceful_capture_matches_uvicorns_but_for_the_re_raise():
    uvicorn_inside, uvicorn_reraised, uvicorn_exits = _capture_and_signal(uvicorn.Server(_config()))
    graceful = GracefulServer(_config())
    graceful_inside, graceful_reraised, graceful_exits = _capture_and_signal(graceful)
    # Both route every shutdown signal to the server's handle_exit, which asks it to exit.
    assert all(h.__func__ is uvicorn.Server.handle_exit for h in uvicorn_inside.values())
    assert all(h.__func__ is GracefulServer.handle_exit for h in graceful_inside.values())
    assert uvicorn_exits and graceful_exits
    # uvicorn raises the captured signal again once it is done (the process then dies of it);
    # pycog's server ends with status 0 instead, as Cog's does: the one deliberate difference.
    assert uvicorn_reraised == [signal.SIGTERM]
    assert graceful_reraised == []


def test_graceful_ignores_sigterm_when_told():
    server = GracefulServer(_config())
    server.ignore_sigterm = True
    _, reraised, exits = _capture_and_signal(server)
    assert not exits and reraised == []
