"""The playground's Starlette app: the page, its assets, the proxy and the webhook relay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from . import proxy, relay
from .guard import SameOriginGuard

STATIC = Path(__file__).parent / "static"
API_METHODS = ["GET", "POST", "PUT", "DELETE"]


async def index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})


async def info(request: Request) -> Response:
    """What the page shows about where the model is (for the curl command)."""
    return JSONResponse({"target": request.app.state.target})


def create_app(
    target: str,
    webhook_base: str | None = None,
    hosts: frozenset[str] | None = None,
) -> Starlette:
    """The playground for the Cog-compatible server at `target` (e.g. http://127.0.0.1:8393).

    `webhook_base`: how the model reaches this playground (http://host:port), when not by the
    address the page was opened at (a model in a container, say). `hosts`: the Host names
    accepted (None: any), see `guard.py`."""
    target = target.rstrip("/")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with proxy.upstream_client(target) as client:
            app.state.upstream = client
            yield

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/info", info, methods=["GET"]),
        Route("/api/{path:path}", proxy.forward, methods=API_METHODS),
        Route("/relay/predictions", relay.start_async, methods=["POST"]),
        Route("/relay/webhook/{token}", relay.receive_webhook, methods=["POST"]),
        Route("/relay/events/{token}", relay.follow, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [Middleware(SameOriginGuard, hosts=hosts)]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
    app.state.target = target
    app.state.relay = relay.Relay()
    app.state.webhook_base = webhook_base
    return app
