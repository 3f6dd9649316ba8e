"""HTTP range requests with retries, resumption and cache-host routing, over one aiohttp
session shared by every file of a run (so per-host connection caps hold across files)."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from .._version import __version__
from .errors import DownloadError
from .options import DownloadOptions
from .routing import CacheRouter

log = logging.getLogger("pget")

Sink = Callable[[int, bytes], None]
"""Receives (offset, data) for every piece of body read."""
READ_SIZE = 1 << 20
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class _Retry(Exception):
    """A failure worth another attempt (5xx, 429, dropped connection, short body)."""


class StaticResolver(AbstractResolver):
    """`--resolve host:port:ip`: connect to the given address instead of looking the host up."""

    def __init__(self, overrides: dict[str, str]) -> None:
        self.overrides = overrides
        self.fallback = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        address = self.overrides.get(f"{host}:{port}")
        if address is None:
            return await self.fallback.resolve(host, port, family)
        inet = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [
            ResolveResult(hostname=host, host=address, port=port, family=inet, proto=0, flags=0)
        ]

    async def close(self) -> None:
        await self.fallback.close()


@dataclass
class Probe:
    """What the first request of a file told: its size, where it really is, and whether the
    server answers ranges. `response` is still open: its body is the first chunk."""

    size: int | None
    url: str
    ranged: bool
    response: aiohttp.ClientResponse


class Fetcher:
    """Fetches byte ranges; `slots` bounds the requests in flight across all files."""

    def __init__(self, options: DownloadOptions) -> None:
        self.options = options
        self.router = CacheRouter(options.cache_hosts, options.cache_uri_prefixes)
        self.slots = asyncio.Semaphore(options.connections())
        connector = aiohttp.TCPConnector(
            limit=0,
            limit_per_host=options.max_conn_per_host,
            resolver=StaticResolver(options.resolve),
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                sock_connect=options.connect_timeout, sock_read=options.read_timeout
            ),
            headers={"User-Agent": f"pget/{__version__} (pycog)", **options.headers},
            auto_decompress=False,
        )

    async def close(self) -> None:
        await self.session.close()

    async def backoff(self, attempt: int) -> None:
        base = self.options.backoff_base * attempt
        await asyncio.sleep(base * random.uniform(1.0, 1.47))

    async def probe(self, url: str, first_chunk: int) -> Probe:
        """GET the first chunk; retried like any other request."""
        for attempt in range(self.options.retries + 1):
            try:
                response = await self.session.get(
                    url, headers={"Range": f"bytes=0-{first_chunk - 1}"}
                )
            except (aiohttp.ClientError, TimeoutError) as exc:
                await self._give_up_or_wait(url, attempt, exc)
                continue
            if response.status in RETRYABLE_STATUS:
                response.release()
                await self._give_up_or_wait(url, attempt, _Retry(f"HTTP {response.status}"))
                continue
            if response.status not in (200, 206):
                response.release()
                raise DownloadError(f"{url}: the server answered HTTP {response.status}")
            return _probe_of(response)
        raise DownloadError(f"{url}: no answer after {self.options.retries} retries")

    async def _give_up_or_wait(self, url: str, attempt: int, exc: BaseException) -> None:
        if attempt >= self.options.retries:
            raise DownloadError(f"{url}: {exc} (after {attempt} retries)") from None
        log.debug("retrying %s after %s", url, exc)
        await self.backoff(attempt + 1)

    async def read_body(self, response: aiohttp.ClientResponse, start: int, sink: Sink) -> int:
        """Stream a response body into the sink from offset `start`; returns the next offset."""
        offset = start
        try:
            async for data in response.content.iter_chunked(READ_SIZE):
                sink(offset, data)
                offset += len(data)
        finally:
            response.release()
        return offset

    async def fetch_range(self, url: str, start: int, end: int, sink: Sink) -> None:
        """Fetch bytes [start, end] into the sink, resuming the missing bytes after failures;
        cacheable URLs go to their cache host first, then the next one, then the origin."""
        attempt = 0
        next_offset = start
        sources = self._sources(url, start)

        def tracked(offset: int, data: bytes) -> None:
            nonlocal next_offset
            sink(offset, data)
            next_offset = offset + len(data)

        while next_offset <= end:
            source = sources[0] if sources else url
            try:
                async with self.slots:
                    await self._fetch_once(source, next_offset, end, tracked)
                if next_offset <= end:
                    raise _Retry(f"short body: {end - next_offset + 1} bytes missing")
            except (aiohttp.ClientError, TimeoutError, _Retry) as exc:
                if source != url:
                    log.debug("cache host failed for %s: %s", url, exc)
                    sources.pop(0)
                    continue
                attempt += 1
                if attempt > self.options.retries:
                    raise DownloadError(
                        f"{url}: bytes {next_offset}-{end} failed after "
                        f"{self.options.retries} retries: {exc}"
                    ) from None
                await self.backoff(attempt)

    def _sources(self, url: str, offset: int) -> list[str]:
        if not self.router.applies_to(url):
            return []
        routes = (self.router.route(url, offset, attempt) for attempt in (0, 1))
        return [route for route in routes if route is not None]

    async def _fetch_once(self, url: str, offset: int, end: int, sink: Sink) -> None:
        headers = {"Range": f"bytes={offset}-{end}"}
        async with self.session.get(url, headers=headers) as response:
            if response.status in RETRYABLE_STATUS:
                raise _Retry(f"HTTP {response.status}")
            if response.status != 206:
                raise DownloadError(
                    f"{url}: expected 206 Partial Content for a range, got HTTP {response.status}"
                )
            async for data in response.content.iter_chunked(READ_SIZE):
                take = data[: end - offset + 1]
                sink(offset, take)
                offset += len(take)

    async def fetch_stream(self, url: str, skip: int, sink: Sink) -> int:
        """A whole body in one stream (servers without ranges). A retry starts over and skips
        the bytes already delivered. Returns the size."""
        delivered = skip
        for attempt in range(self.options.retries + 1):
            try:
                async with self.slots, self.session.get(url) as response:
                    if response.status != 200:
                        raise _Retry(f"HTTP {response.status}")
                    position = 0
                    async for data in response.content.iter_chunked(READ_SIZE):
                        end = position + len(data)
                        if end > delivered:
                            sink(delivered, data[delivered - position :])
                            delivered = end
                        position = end
                    return position
            except (aiohttp.ClientError, TimeoutError, _Retry) as exc:
                await self._give_up_or_wait(url, attempt, exc)
        raise DownloadError(f"{url}: failed after {self.options.retries} retries")


def _probe_of(response: aiohttp.ClientResponse) -> Probe:
    final_url = str(response.url)
    if response.status == 206:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        size = int(match[3]) if match and match[3] != "*" else None
        return Probe(size, final_url, True, response)
    length = response.headers.get("Content-Length")
    return Probe(int(length) if length else None, final_url, False, response)
