"""Reading an HTTP prediction request: its body (ASGI), the envelope in it, and how the client
wants the answer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from . import envelope_errors, strict_json
from .errors import BadRequest as BadRequest  # re-exported: callers import it from here
from .predictions import Envelope, Mode

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
"""An ASGI receive channel."""

# Parsing a body this big takes milliseconds: done in a thread, so that the loop goes on
# serving (other requests, health checks) between the parser's steps.
PARSE_IN_THREAD_BYTES = 1 << 20


async def read_body(receive: Receive, content_length: str | None, limit: int) -> bytes | None:
    """The whole body, or None if the client went away first. A body over `limit` bytes is
    refused before it is read: at once by its Content-Length, or (sent in chunks) as soon as
    what has come exceeds the limit."""
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        raise too_large(limit)
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def too_large(limit: int) -> BadRequest:
    return BadRequest(
        413,
        f"{envelope_errors.TOO_LARGE} (the limit is {limit} bytes: send large files as URLs, "
        "or raise PYCOG_MAX_REQUEST_BYTES)",
    )


async def parse_envelope_off_loop(body: bytes, content_type: str) -> Envelope:
    if len(body) > PARSE_IN_THREAD_BYTES:
        return await asyncio.to_thread(parse_envelope, body, content_type)
    return parse_envelope(body, content_type)


def parse_envelope(body: bytes, content_type: str) -> Envelope:
    """The request body as an envelope. As in Cog, a request without a Content-Type has none
    (whatever it sends), and one with another type than JSON is refused."""
    if not content_type:
        return Envelope()
    if "json" not in content_type:
        raise BadRequest(415, envelope_errors.NOT_JSON)
    data = decode_json(body)
    if type(data) is not dict or not _plain(data):
        misfit = envelope_errors.envelope_misfit(data)
        if misfit is not None:
            text = envelope_errors.describe(body.decode("utf-8", "replace"), misfit)
            raise BadRequest(misfit.status, text)
    return Envelope.of_request(data, data.get("id"))


def decode_json(body: bytes) -> Any:
    """The body's JSON value; BadRequest (400) saying what is wrong and where, in the words
    of Cog's parser, for a syntax error, a constant (NaN), a bad string or nesting too deep."""
    try:
        return strict_json.loads(body)
    except strict_json.Refusal as refusal:
        path = envelope_errors.path_text(refusal.path)
        raise BadRequest(400, f"{envelope_errors.PARSE}{path}{refusal}") from None
    except (ValueError, RecursionError) as exc:
        raise _syntax_error(body, exc) from None


def _plain(data: dict[str, Any]) -> bool:
    """Whether the envelope surely fits, checked cheaply (the usual body has no context or
    events filter, and a string id); when not, `envelope_misfit` looks closely."""
    return (
        type(data.get("id", "")) is str
        and type(data.get("webhook", "")) is str
        and "context" not in data
        and "webhook_events_filter" not in data
    )


def _syntax_error(body: bytes, exc: ValueError | RecursionError) -> BadRequest:
    text = body.decode("utf-8", "replace")
    if isinstance(exc, json.JSONDecodeError):
        return BadRequest(400, envelope_errors.syntax_error(text, exc))
    return BadRequest(400, f"{envelope_errors.PARSE}{exc}")


def trace_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The W3C trace headers of a request, passed on to its webhooks."""
    return {k: v for k in ("traceparent", "tracestate") if (v := headers.get(k))}


def mode_of(accept: str, prefer: str) -> Mode:
    """`sse`, `async` or `sync`, from the Accept and Prefer headers (Cog's rules)."""
    if "text/event-stream" in accept:
        return "sse"
    if prefer.strip() == "respond-async":
        return "async"
    return "sync"
