"""Predictions over HTTP: `POST /predictions`, `PUT /predictions/{id}`, `GET
/predictions/{id}` (and the same for trainings) straight on ASGI, over the prediction core.

The hot route skips Starlette's routing, middleware, request and response objects, which cost
about as much per prediction as the rest of the server. Answers streamed as Server-Sent Events
are sent as Starlette's StreamingResponse sends them, without the anyio task group it starts
per stream. Everything else goes to the Starlette app (`routes`).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncGenerator, Callable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from ..runtime.json_slices import carries_much, dumps_in_slices
from .prediction import StreamEvent
from .predictions import HEARTBEAT, Answer, Kind, Order, Predictions, Verdict
from .requests import BadRequest, mode_of, parse_envelope_off_loop, read_body, trace_headers

KEEPALIVE_SECONDS = 15.0
_KINDS: dict[str, Kind] = {"predictions": "prediction", "trainings": "training"}
_COLLECTIONS: dict[str, Kind] = {f"/{name}": kind for name, kind in _KINDS.items()}
_STATUS = {
    Verdict.COMPLETED: 200,
    Verdict.ACCEPTED: 202,
    Verdict.ABANDONED: 499,
    Verdict.INVALID: 422,
    Verdict.BUSY: 409,
    Verdict.QUEUE_FULL: 429,
    Verdict.NOT_READY: 503,
    Verdict.CANNOT_STREAM: 406,
    Verdict.TOO_MANY_STREAMS: 429,
}
_HEADERS = frozenset(
    {"content-type", "content-length", "accept", "prefer", "traceparent", "tracestate"}
)
_SERVER_ERROR = b"Internal Server Error"
_JSON = b"application/json"
_TEXT = b"text/plain; charset=utf-8"
_SSE_HEADERS = [
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
    (b"content-type", b"text/event-stream; charset=utf-8"),
]


class FastPredictions:
    """ASGI middleware in front of the app: creates predictions itself."""

    def __init__(self, app: ASGIApp, predictions: Predictions) -> None:
        self.app = app
        self.predictions = predictions
        self.tracing = predictions.tracing
        extra = None if self.tracing is None else self.tracing.settings.trace_header
        self.header_names = _HEADERS if extra is None else _HEADERS | {extra}
        self.begin_shutdown: Callable[[], None] = predictions.begin_shutdown
        """For `serve()`: starts the shutdown of what is in flight."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = _target(scope["path"]) if scope["type"] == "http" else None
        if target is None:
            await self.app(scope, receive, send)
            return
        kind, path_id = target
        method = scope["method"]
        if path_id is not None and method == "GET":
            await self._poll(path_id, send)
            return
        if method != ("POST" if path_id is None else "PUT"):
            # As Starlette answers a route's other methods (Cog's item allows PUT, not GET).
            allowed = b"POST" if path_id is None else b"GET,PUT"
            await _send(send, 405, b"", None, [(b"allow", allowed)])
            return
        headers = _headers(scope, self.header_names)
        if self.tracing is None:
            await self._respond(kind, path_id, receive, send, headers)
            return
        route = f"/{kind}s" if path_id is None else f"/{kind}s/{{{kind}_id}}"
        with self.tracing.request(method, route, headers) as request:
            await self._respond(kind, path_id, receive, request.watch(send), headers)

    async def _respond(
        self,
        kind: Kind,
        path_id: str | None,
        receive: Receive,
        send: Send,
        headers: dict[str, str],
    ) -> None:
        extra: list[tuple[bytes, bytes]] = []
        media_type: bytes | None
        try:
            answer = await self._answer(kind, path_id, receive, headers)
            if answer is None:
                return  # the client went away before it finished sending
            if isinstance(answer, BadRequest):
                status, content, media_type = answer.status, answer.text.encode(), _TEXT
                if status == 413:  # the rest of the body is not wanted: no reading it
                    extra.append((b"connection", b"close"))
            elif answer.verdict is not Verdict.STREAM:
                status = _STATUS[answer.verdict]
                if answer.retry_after is not None:
                    extra.append((b"retry-after", str(answer.retry_after).encode()))
                if carries_much(answer.body):
                    content, media_type = await asyncio.to_thread(_content, answer.body)
                else:
                    content, media_type = _content(answer.body)
        except Exception:
            # As Starlette's ServerErrorMiddleware: a plain 500, and the error for the log.
            await _send(send, 500, _SERVER_ERROR, _TEXT)
            raise
        if not isinstance(answer, BadRequest) and answer.verdict is Verdict.STREAM:
            assert answer.prediction is not None
            # An error once the stream has begun is only logged.
            events = self.predictions.stream(answer.prediction, KEEPALIVE_SECONDS)
            await _stream(receive, send, _sse(events))
            return
        await _send(send, status, content, media_type, extra)

    async def _poll(self, prediction_id: str, send: Send) -> None:
        """`GET /predictions/{id}`: its response now (running, waiting, or finished and still
        kept), or 404."""
        body = self.predictions.state(prediction_id)
        status = 200
        if body is None:
            body, status = self.predictions.not_found(prediction_id), 404
        if carries_much(body):
            content, media_type = await asyncio.to_thread(_content, body)
        else:
            content, media_type = _content(body)
        await _send(send, status, content, media_type)

    async def _answer(
        self, kind: Kind, path_id: str | None, receive: Receive, headers: dict[str, str]
    ) -> Answer | BadRequest | None:
        """The core's answer, the request's refusal, or None if the client left."""
        limit = self.predictions.settings.max_request_bytes
        try:
            body = await read_body(receive, headers.get("content-length"), limit)
            if body is None:
                return None
            envelope = await parse_envelope_off_loop(body, headers.get("content-type", ""))
        except BadRequest as exc:
            return exc
        if path_id is not None:
            if envelope.id is not None and envelope.id != path_id:
                return _id_mismatch(kind)
            envelope.id = path_id
        mode = mode_of(headers.get("accept", ""), headers.get("prefer", ""))
        order = Order(kind, mode, envelope, trace_headers(headers), idempotent=path_id is not None)
        return await self.predictions.create(order, lambda: wait_for_disconnect(receive))


def _target(path: str) -> tuple[Kind, str | None] | None:
    """`/predictions` → (prediction, None); `/predictions/ID` → (prediction, ID); else None
    (and the same for trainings)."""
    collection = _COLLECTIONS.get(path)  # the hot route: one lookup
    if collection is not None:
        return collection, None
    name, _, item = path[1:].partition("/")
    kind = _KINDS.get(name)
    if kind is None or not path.startswith("/") or not item or "/" in item:
        return None
    return kind, item


def _id_mismatch(kind: Kind) -> Answer:
    detail = [
        {
            "loc": ["body", "id"],
            "msg": f"{kind} ID must match the ID supplied in the URL",
            "type": "value_error",
        }
    ]
    return Answer(Verdict.INVALID, {"detail": detail})


async def wait_for_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def _sse(events: AsyncGenerator[StreamEvent, None]) -> AsyncGenerator[bytes, None]:
    """The core's stream as Server-Sent Events."""
    try:
        async for event in events:
            if event is HEARTBEAT:
                yield b": keep-alive\n\n"
                continue
            data = json.dumps(event.data, separators=(",", ":"))
            yield f"event: {event.name}\ndata: {data}\n\n".encode()
    finally:
        await events.aclose()  # its end cancels a prediction its last stream left early


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


def _headers(scope: Scope, names: frozenset[str]) -> dict[str, str]:
    """The request headers this route reads (the first of each, as Starlette's `get`)."""
    found: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        if name in names and name not in found:
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


async def _send(
    send: Send,
    status: int,
    content: bytes,
    media_type: bytes | None,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """One response. `extra`: after a 413, `connection: close` (the rest of the body is not
    wanted: no reading it to reuse the connection); after a 405, the allowed method."""
    headers = [*(extra or []), (b"content-length", str(len(content)).encode())]
    if media_type is not None:
        headers.append((b"content-type", media_type))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
