"""Async runs with webhooks, relayed back to the page.

The page asks the playground to start an async prediction; the playground gives the model a
webhook pointing back at itself (`/relay/webhook/<token>`), keeps every body that arrives on
that token's channel, and streams the channel to the page as Server-Sent Events. Bodies that
arrive before the page listens are replayed, so no event is lost to that race.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from .proxy import unreachable

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "canceled"})
WEBHOOK_EVENTS = ["start", "output", "logs", "completed"]
MAX_CHANNELS = 64  # old runs' channels are forgotten past this many
KEEPALIVE_SECONDS = 15.0


@dataclass
class Channel:
    """The webhook bodies of one async run, in the order they arrived."""

    bodies: list[dict[str, Any]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, body: dict[str, Any]) -> None:
        self.bodies.append(body)
        self.arrived.set()

    def ended(self) -> bool:
        return bool(self.bodies) and self.bodies[-1].get("status") in TERMINAL_STATUSES

    async def follow(self) -> AsyncIterator[dict[str, Any] | None]:
        """Every body from the first, then each new one; None for a keep-alive pause."""
        sent = 0
        while True:
            while sent < len(self.bodies):
                sent += 1
                yield self.bodies[sent - 1]
                if self.bodies[sent - 1].get("status") in TERMINAL_STATUSES:
                    return
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), KEEPALIVE_SECONDS)
            except TimeoutError:
                yield None


class Relay:
    def __init__(self) -> None:
        self.channels: OrderedDict[str, Channel] = OrderedDict()

    def open(self) -> str:
        token = secrets.token_urlsafe(12)
        self.channels[token] = Channel()
        while len(self.channels) > MAX_CHANNELS:
            self.channels.popitem(last=False)
        return token


def relay_of(request: Request) -> Relay:
    relay: Relay = request.app.state.relay
    return relay


async def start_async(request: Request) -> Response:
    """POST /relay/predictions: start the page's request as an async prediction with a webhook
    back to this playground; answers the token to follow and the model's own answer."""
    envelope = await request.json()
    if not isinstance(envelope, dict):
        return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
    token = relay_of(request).open()
    base = request.app.state.webhook_base or str(request.base_url).rstrip("/")
    envelope["webhook"] = f"{base}/relay/webhook/{token}"
    envelope["webhook_events_filter"] = WEBHOOK_EVENTS
    client: httpx.AsyncClient = request.app.state.upstream
    try:
        answer = await client.post(
            "/predictions", json=envelope, headers={"prefer": "respond-async"}
        )
    except httpx.HTTPError as exc:
        return unreachable(str(client.base_url), exc)
    try:
        body: Any = answer.json()
    except ValueError:
        body = answer.text
    return JSONResponse(
        {"token": token, "status_code": answer.status_code, "response": body, "request": envelope}
    )


async def receive_webhook(request: Request) -> Response:
    """POST /relay/webhook/<token>: the model reports on an async run."""
    channel = relay_of(request).channels.get(request.path_params["token"])
    if channel is None:
        return JSONResponse({"error": "no run is waiting for this webhook"}, status_code=404)
    body = await request.json()
    if isinstance(body, dict):
        channel.add(body)
    return Response(status_code=200)


async def follow(request: Request) -> Response:
    """GET /relay/events/<token>: the run's webhook bodies as Server-Sent Events."""
    channel = relay_of(request).channels.get(request.path_params["token"])
    if channel is None:
        return JSONResponse({"error": "no such run (it may be too old)"}, status_code=404)

    async def events() -> AsyncIterator[bytes]:
        async for body in channel.follow():
            if body is None:
                yield b": keep-alive\n\n"
            else:
                yield f"event: webhook\ndata: {json.dumps(body)}\n\n".encode()

    headers = {"cache-control": "no-store", "x-accel-buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
