"""`POST /predictions` and `POST /trainings` straight on ASGI.

The hot route skips Starlette's routing, middleware, request and response objects, which cost
about as much per prediction as the rest of the server; its logic is the routes' own (`create`).
Answers streamed as Server-Sent Events are sent as Starlette's StreamingResponse sends them,
without the anyio task group it starts per stream. Everything else goes to the Starlette app.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncGenerator
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from ..runtime.json_slices import carries_much, dumps_in_slices
from .prediction import Prediction
from .requests import BadRequest, mode_of, parse_envelope_off_loop, read_body, trace_headers
from .routes import SSE_HEADERS, Call, Reply, create, sse_events, wait_for_disconnect
from .supervisor import Supervisor

_KINDS = {"/predictions": "prediction", "/trainings": "training"}
_HEADERS = frozenset(
    {"content-type", "content-length", "accept", "prefer", "traceparent", "tracestate"}
)
_SERVER_ERROR = b"Internal Server Error"
_JSON = b"application/json"
_TEXT = b"text/plain; charset=utf-8"
# As StreamingResponse(media_type="text/event-stream", headers=SSE_HEADERS) has them.
_SSE_HEADERS = [
    *(
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in SSE_HEADERS.items()
    ),
    (b"content-type", b"text/event-stream; charset=utf-8"),
]


class FastPredictions:
    """ASGI middleware in front of the app: creates predictions itself."""

    def __init__(self, app: ASGIApp, supervisor: Supervisor) -> None:
        self.app = app
        self.supervisor = supervisor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = _KINDS.get(scope["path"]) if scope["type"] == "http" else None
        if kind is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        mode = mode_of(headers.get("accept", ""), headers.get("prefer", ""))
        call = Call(kind, mode, False, trace_headers(headers), receive)
        try:
            answer = await self._answer(call, receive, headers)
            if answer is None:
                return  # the client went away before it finished sending
            if not isinstance(answer, Prediction):
                if carries_much(answer.body):
                    content, media_type = await asyncio.to_thread(_content, answer.body)
                else:
                    content, media_type = _content(answer.body)
        except Exception:
            # As Starlette's ServerErrorMiddleware: a plain 500, and the error for the log.
            await _send(send, 500, _SERVER_ERROR, _TEXT)
            raise
        if isinstance(answer, Prediction):  # an error once the stream has begun is only logged
            await _stream(receive, send, sse_events(self.supervisor, answer))
            return
        await _send(send, answer.status, content, media_type)

    async def _answer(
        self, call: Call, receive: Receive, headers: dict[str, str]
    ) -> Reply | Prediction | None:
        limit = self.supervisor.settings.max_request_bytes
        try:
            body = await read_body(receive, headers.get("content-length"), limit)
            if body is None:
                return None
            envelope = await parse_envelope_off_loop(body, headers.get("content-type", ""))
        except BadRequest as exc:
            return Reply(exc.status, exc.text)
        return await create(self.supervisor, call, envelope)


async def _stream(receive: Receive, send: Send, events: AsyncGenerator[bytes, None]) -> None:
    """Send the events as they come; a client that goes away ends the stream (and so closes
    the generator), as StreamingResponse does under ASGI 2.3, where a send to a gone client
    raises nothing."""
    streaming = asyncio.current_task()
    assert streaming is not None
    gone = False

    def on_disconnect(watcher: asyncio.Task[None]) -> None:
        nonlocal gone
        if not watcher.cancelled():
            gone = True
            streaming.cancel()

    watcher = asyncio.ensure_future(wait_for_disconnect(receive))
    watcher.add_done_callback(on_disconnect)
    try:
        await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
        async for chunk in events:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except asyncio.CancelledError:
        if not gone:
            raise
        # Our own cancel, for the client that went away: not the server's. (3.10 does not
        # count cancels, so there is nothing to take back.)
        if sys.version_info >= (3, 11):
            streaming.uncancel()
    finally:
        watcher.cancel()
        await events.aclose()


def _headers(scope: Scope) -> dict[str, str]:
    """The request headers this route reads (the first of each, as Starlette's `get`)."""
    found: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        if name in _HEADERS and name not in found:
            found[name] = raw_value.decode("latin-1")
    return found


def _content(body: Any) -> tuple[bytes, bytes | None]:
    if body is None:
        return b"", None
    if isinstance(body, str):
        return body.encode(), _TEXT
    return _render(body), _JSON


def _render(body: Any) -> bytes:
    # Byte for byte what Starlette's JSONResponse renders.
    if carries_much(body):  # a big output: short steps, for the thread that renders it
        return dumps_in_slices(body, ensure_ascii=False, allow_nan=False)
    return json.dumps(
        body, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


async def _send(send: Send, status: int, content: bytes, media_type: bytes | None) -> None:
    headers = [(b"content-length", str(len(content)).encode())]
    if status == 413:  # the rest of the body is not wanted: no reading it to reuse the connection
        headers.append((b"connection", b"close"))
    if media_type is not None:
        headers.append((b"content-type", media_type))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
