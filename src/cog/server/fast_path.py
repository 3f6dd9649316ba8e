"""`POST /predictions` and `POST /trainings` straight on ASGI.

The hot route skips Starlette's routing, middleware, request and response objects, which cost
about as much per prediction as the rest of the server; its logic is the routes' own (`create`).
Everything else, and answers streamed as Server-Sent Events, go to the Starlette app.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from .prediction import Prediction
from .requests import BadRequest, mode_of, parse_envelope
from .routes import Call, Reply, create
from .supervisor import Supervisor

_KINDS = {"/predictions": "prediction", "/trainings": "training"}
_HEADERS = frozenset({"content-type", "accept", "prefer", "traceparent", "tracestate"})
_SERVER_ERROR = b"Internal Server Error"
_JSON = b"application/json"


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
        if mode == "sse":  # a streamed answer: Starlette's StreamingResponse
            await self.app(scope, receive, send)
            return
        trace = {k: v for k in ("traceparent", "tracestate") if (v := headers.get(k))}
        call = Call(kind, mode, False, trace, receive)
        try:
            body = await _body(receive)
            if body is None:
                return  # the client went away before it finished sending
            answer = await self._answer(call, body, headers.get("content-type", ""))
            content = b"" if answer.body is None else _render(answer.body)
        except Exception:
            # As Starlette's ServerErrorMiddleware: a plain 500, and the error for the log.
            await _send(send, 500, _SERVER_ERROR, b"text/plain; charset=utf-8")
            raise
        await _send(send, answer.status, content, None if answer.body is None else _JSON)

    async def _answer(self, call: Call, body: bytes, content_type: str) -> Reply:
        try:
            envelope = parse_envelope(body, content_type)
        except BadRequest as exc:
            return Reply(exc.status, exc.body)
        answer = await create(self.supervisor, call, envelope)
        assert not isinstance(answer, Prediction)  # only an SSE call is answered by a stream
        return answer


def _headers(scope: Scope) -> dict[str, str]:
    """The request headers this route reads (the first of each, as Starlette's `get`)."""
    found: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        if name in _HEADERS and name not in found:
            found[name] = raw_value.decode("latin-1")
    return found


async def _body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _render(body: Any) -> bytes:
    # Byte for byte what Starlette's JSONResponse renders.
    return json.dumps(
        body, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


async def _send(send: Send, status: int, content: bytes, media_type: bytes | None) -> None:
    headers = [(b"content-length", str(len(content)).encode())]
    if media_type is not None:
        headers.append((b"content-type", media_type))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
