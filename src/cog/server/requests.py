"""Parsing a prediction request: the envelope, and how the client wants the answer."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse


class BadRequest(Exception):
    """The request cannot be used; carries the status and JSON body to answer with."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body)
        self.status = status
        self.body = body

    @property
    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status)


@dataclass
class Envelope:
    id: str | None = None
    input: dict[str, Any] = field(default_factory=dict)
    context: dict[str, str] = field(default_factory=dict)
    webhook: str | None = None
    webhook_events_filter: list[str] | None = None


def _error(status: int, message: str) -> BadRequest:
    return BadRequest(status, {"detail": message})


def _invalid(location: list[str], message: str) -> BadRequest:
    detail = [{"loc": ["body", *location], "msg": message, "type": "value_error"}]
    return BadRequest(422, {"detail": detail})


async def read_envelope(request: Request) -> Envelope:
    return parse_envelope(await request.body(), request.headers.get("content-type", ""))


def parse_envelope(body: bytes, content_type: str) -> Envelope:
    """The request body as an envelope; an empty body is `{}` (as in Cog)."""
    if not body.strip():
        return Envelope()
    if content_type and "json" not in content_type:
        raise _error(415, f"Content-Type must be application/json, not {content_type}")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise _error(400, f"the request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _invalid([], "the request body must be a JSON object")
    return _envelope(data)


def _envelope(data: dict[str, Any]) -> Envelope:
    envelope = Envelope()
    if data.get("id") is not None:
        if not isinstance(data["id"], str) or not data["id"]:
            raise _invalid(["id"], "id must be a non-empty string")
        envelope.id = data["id"]
    raw_input = data.get("input")
    if raw_input is not None and not isinstance(raw_input, dict):
        raise _invalid(["input"], "input must be an object")
    envelope.input = raw_input or {}
    context = data.get("context") or {}
    if not isinstance(context, dict):
        raise _invalid(["context"], "context must be an object of strings")
    envelope.context = {str(k): str(v) for k, v in context.items()}
    webhook = data.get("webhook")
    if webhook is not None and (not isinstance(webhook, str) or "://" not in webhook):
        raise _invalid(["webhook"], "webhook must be an http(s) URL")
    envelope.webhook = webhook
    events = data.get("webhook_events_filter")
    if events is not None and not (
        isinstance(events, list) and all(isinstance(e, str) for e in events)
    ):
        raise _invalid(["webhook_events_filter"], "webhook_events_filter must be a list of events")
    envelope.webhook_events_filter = events
    return envelope


def response_mode(request: Request) -> str:
    return mode_of(request.headers.get("accept", ""), request.headers.get("prefer", ""))


def trace_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The W3C trace headers of a request, passed on to its webhooks."""
    return {k: v for k in ("traceparent", "tracestate") if (v := headers.get(k))}


def mode_of(accept: str, prefer: str) -> str:
    """`sse`, `async` or `sync`, from the Accept and Prefer headers (Cog's rules)."""
    if "text/event-stream" in accept:
        return "sse"
    if prefer.strip() == "respond-async":
        return "async"
    return "sync"


def new_prediction_id() -> str:
    return f"pred_{time.time_ns():x}"
