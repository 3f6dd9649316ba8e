"""A real HTTP origin on 127.0.0.1 for download tests and benchmarks, with failure injection.

Paths:
    /f/<name>             the file, with Range support
    /norange/<name>       ignores Range (200 with the whole body)
    /nolength/<name>      ignores Range and sends no Content-Length (chunked)
    /redirect/<name>      302 to /f/<name>
    /flaky503/<name>      the first `fail_first` requests answer 503
    /drop/<name>          every response stops after `drop_after` bytes (connection closed)
                          for the first `fail_first` requests
Per-connection pacing (bytes/s) and time-to-first-byte apply to every body.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import threading
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web

_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


@dataclass
class OriginSettings:
    rate: float | None = None
    """Bytes per second per response (None: unpaced)."""
    ttfb: float = 0.0
    fail_first: int = 2
    drop_after: int = 100_000
    block: int = 256 * 1024


@dataclass
class Origin:
    files: dict[str, bytes]
    settings: OriginSettings = field(default_factory=OriginSettings)
    requests: Counter[str] = field(default_factory=Counter)
    ranges: list[str] = field(default_factory=list)
    url: str = ""
    keep_request_lines: bool = False
    request_lines: list[str] = field(default_factory=list)
    """Request targets as sent (absolute when this origin plays a forward proxy)."""
    proxy_credentials: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def count(self, key: str) -> int:
        with self._lock:
            self.requests[key] += 1
            return self.requests[key]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        mode, name = request.match_info["mode"], request.match_info["name"]
        if self.keep_request_lines:
            self.request_lines.append(request.raw_path)
            self.proxy_credentials.add(request.headers.get("Proxy-Authorization", ""))
        if name not in self.files:
            return web.Response(status=404)
        if mode == "redirect":
            self.count(f"redirect/{name}")
            raise web.HTTPFound(f"/f/{name}")
        calls = self.count(f"{mode}/{name}")
        if mode == "flaky503" and calls <= self.settings.fail_first:
            return web.Response(status=503)
        body = self.files[name]
        header = request.headers.get("Range")
        self.ranges.append(header or "")
        ranged = mode not in ("norange", "nolength")
        match = _RANGE.match(header or "") if ranged else None
        start, end = 0, len(body) - 1
        status = 200
        if match:
            start = int(match[1])
            end = min(int(match[2]) if match[2] else len(body) - 1, len(body) - 1)
            status = 206
        response = web.StreamResponse(status=status)
        if mode == "nolength":
            response.enable_chunked_encoding()
        else:
            response.content_length = end - start + 1
        if status == 206:
            response.headers["Content-Range"] = f"bytes {start}-{end}/{len(body)}"
        response.headers["Accept-Ranges"] = "bytes" if ranged else "none"
        if self.settings.ttfb:
            await asyncio.sleep(self.settings.ttfb)
        await response.prepare(request)
        limit = end + 1
        if mode == "drop" and calls <= self.settings.fail_first:
            limit = min(limit, start + self.settings.drop_after)
        try:
            await self._send(response, body, start, limit)
        except ConnectionError:
            return response  # the client went away (it had what it wanted, or gave up)
        if limit <= end:
            assert request.transport is not None
            request.transport.close()
            return response
        await response.write_eof()
        return response

    async def _send(self, response: web.StreamResponse, body: bytes, start: int, stop: int) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        sent = 0
        view = memoryview(body)
        for offset in range(start, stop, self.settings.block):
            piece = view[offset : min(offset + self.settings.block, stop)]
            await response.write(piece)
            sent += len(piece)
            if self.settings.rate:
                ahead = sent / self.settings.rate - (loop.time() - began)
                if ahead > 0:
                    await asyncio.sleep(ahead)


class OriginServer:
    """Runs an Origin on a free loopback port in a background thread."""

    def __init__(self, origin: Origin, tls: ssl.SSLContext | None = None) -> None:
        self.origin = origin
        self.tls = tls
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner: web.AppRunner | None = None

    def __enter__(self) -> Origin:
        self.thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self.loop)
        port = future.result(timeout=10)
        self.origin.url = f"{'https' if self.tls else 'http'}://127.0.0.1:{port}"
        return self.origin

    async def _start(self) -> int:
        app = web.Application()
        app.router.add_get("/{mode}/{name:.+}", self.origin.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=self.tls)
        await site.start()
        server = site._server
        assert server is not None
        return int(server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    def __exit__(self, *exc: object) -> None:
        assert self.runner is not None
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
