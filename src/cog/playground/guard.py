"""Keep other web sites out: the playground runs predictions for whoever can reach it.

A page from another site can make the browser POST here (cross-site requests), and a host
name that resolves to 127.0.0.1 can read the answers (DNS rebinding). So requests that change
something must come from the playground's own page (Origin, when sent, names this server),
and, when the playground listens on loopback only, the Host header must be a loopback name.
The model's webhooks send no Origin and pass.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def allowed_hosts(bound_host: str, webhook_host: str | None) -> frozenset[str] | None:
    """The Host names to accept; None (any) when the playground listens beyond loopback."""
    if bound_host not in LOOPBACK_NAMES and not bound_host.startswith("127."):
        return None
    return LOOPBACK_NAMES | {bound_host} | ({webhook_host} if webhook_host else set())


class SameOriginGuard:
    def __init__(self, app: ASGIApp, hosts: frozenset[str] | None) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self._refusal(scope)
            if refusal is not None:
                await PlainTextResponse(refusal, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> str | None:
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if self.hosts is not None and (urlsplit(f"//{host}").hostname or "") not in self.hosts:
            return f"the playground answers on loopback names only, not {host!r}"
        origin = headers.get("origin")
        if origin and scope["method"] not in SAFE_METHODS and urlsplit(origin).netloc != host:
            return f"requests from {origin} are not accepted; open the playground's own page"
        return None
