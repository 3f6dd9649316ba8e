"""Byte ranges over HTTP with retries, resumption and cache-host routing.

Everything here blocks: each transfer runs on a thread of its own (see connections.py for
why). A `Fetcher` is shared by every file of a run, so the connection cap holds across files.
"""

from __future__ import annotations

import http.client
import logging
import random
import re
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urljoin

from .._version import __version__
from .connections import REDIRECTS, ConnectionPool
from .errors import DownloadError, Stopped
from .options import DownloadOptions
from .routing import CacheRouter

log = logging.getLogger("pget")

Sink = Callable[[int, memoryview], None]
"""Receives (offset, data) for every piece of body read; `data` is only valid during the call."""
READ_SIZE = 512 * 1024
MAX_REDIRECTS = 10
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
NETWORK_ERRORS = (OSError, http.client.HTTPException)
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class _Retry(Exception):
    """A failure worth another attempt (5xx, 429, dropped connection, short body)."""


@dataclass
class Probe:
    """What the first request of a file told: its size, where it really is (after redirects),
    and whether the server answers ranges. Its body, the first chunk, is read by `read_first`."""

    size: int | None
    url: str
    ranged: bool


class Fetcher:
    """Fetches byte ranges; `slots` bounds the requests in flight across all files, and
    `pool` runs the transfers after each file's first chunk."""

    def __init__(self, options: DownloadOptions) -> None:
        self.options = options
        self.router = CacheRouter(options.cache_hosts, options.cache_uri_prefixes)
        self.connections = ConnectionPool(options)
        self.slots = threading.BoundedSemaphore(options.max_connections())
        self.pool = ThreadPoolExecutor(options.max_connections(), thread_name_prefix="pget")
        self.headers = {"User-Agent": f"pget/{__version__} (pycog)", **options.headers}
        self._buffers = threading.local()

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.connections.close()

    def buffer(self) -> memoryview:
        """This thread's read buffer."""
        view: memoryview | None = getattr(self._buffers, "view", None)
        if view is None:
            view = self._buffers.view = memoryview(bytearray(READ_SIZE))
        return view

    def backoff(self, attempt: int) -> None:
        time.sleep(self.options.backoff_base * attempt * random.uniform(1.0, 1.47))

    def probe_and_read(
        self, url: str, first_chunk: int, sink: Sink, on_probe: Callable[[Probe], None]
    ) -> tuple[Probe, int]:
        """GET the first chunk (retried like any request), following redirects; `on_probe` is
        told the size as soon as the headers arrive, so the other chunks start while this
        body is read. Returns the probe and the bytes of the first body delivered (a dropped
        connection returns what arrived; the caller resumes)."""
        for attempt in range(self.options.retries + 1):
            try:
                with self.slots:
                    return self._probe_once(url, first_chunk, sink, on_probe)
            except (*NETWORK_ERRORS, _Retry) as exc:
                self._give_up_or_wait(url, attempt, exc)
        raise DownloadError(f"{url}: no answer after {self.options.retries} retries")

    def _probe_once(
        self, url: str, first_chunk: int, sink: Sink, on_probe: Callable[[Probe], None]
    ) -> tuple[Probe, int]:
        headers = {**self.headers, "Range": f"bytes=0-{first_chunk - 1}"}
        for _ in range(MAX_REDIRECTS + 1):
            with self.connections.request(url, headers) as response:
                if response.status in REDIRECTS and response.getheader("Location"):
                    url = urljoin(url, response.getheader("Location", ""))
                    continue
                if response.status in RETRYABLE_STATUS:
                    raise _Retry(f"HTTP {response.status}")
                if response.status not in (200, 206):
                    raise DownloadError(f"{url}: the server answered HTTP {response.status}")
                probe = _probe_of(response, url)
                on_probe(probe)
                reached, _dropped = self._read_kept(response, 0, None, sink)
                return probe, reached  # the caller resumes what a dropped connection lost
        raise DownloadError(f"{url}: more than {MAX_REDIRECTS} redirects")

    def _read_kept(
        self, response: http.client.HTTPResponse, start: int, end: int | None, sink: Sink
    ) -> tuple[int, Exception | None]:
        """Read a body until it ends or the connection drops, keeping what arrived: the next
        offset, and the network error that cut it short (if one did)."""
        reached = start

        def tracked(at: int, data: memoryview) -> None:
            nonlocal reached
            sink(at, data)
            reached = at + len(data)

        try:
            return self.read_body(response, start, end, tracked), None
        except NETWORK_ERRORS as exc:
            return reached, exc

    def _give_up_or_wait(self, url: str, attempt: int, exc: BaseException) -> None:
        if isinstance(exc, ssl.SSLCertVerificationError):
            raise DownloadError(
                f"{url}: the server's TLS certificate is not trusted ({exc.verify_message}); "
                "for a private CA, point SSL_CERT_FILE at its certificate"
            ) from None
        if attempt >= self.options.retries:
            raise DownloadError(f"{url}: {exc} (after {attempt} retries)") from None
        log.debug("retrying %s after %s", url, exc)
        self.backoff(attempt + 1)

    def read_body(
        self, response: http.client.HTTPResponse, start: int, end: int | None, sink: Sink
    ) -> int:
        """Read a body into the sink from offset `start`, at most up to `end` (inclusive);
        returns the next offset."""
        view = self.buffer()
        offset = start
        while end is None or offset <= end:
            want = len(view) if end is None else min(len(view), end - offset + 1)
            count = response.readinto(view[:want])
            if not count:
                break
            sink(offset, view[:count])
            offset += count
        return offset

    def fetch_range(self, url: str, start: int, end: int, sink: Sink) -> None:
        """Fetch bytes [start, end] into the sink, resuming the missing bytes after failures;
        cacheable URLs go to their cache host first, then the next one, then the origin."""
        attempt = 0
        next_offset = start
        sources = self._sources(url, start)
        while next_offset <= end:
            source = sources[0] if sources else url
            try:
                with self.slots:
                    next_offset = self._fetch_once(source, next_offset, end, sink)
                if next_offset <= end:
                    raise _Retry(f"short body: {end - next_offset + 1} bytes missing")
            except (*NETWORK_ERRORS, _Retry) as exc:
                if self.connections.stopped:
                    raise Stopped("stopped") from None
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
                self.backoff(attempt)

    def _sources(self, url: str, offset: int) -> list[str]:
        if not self.router.applies_to(url):
            return []
        routes = (self.router.route(url, offset, attempt) for attempt in (0, 1))
        return [route for route in routes if route is not None]

    def _fetch_once(self, url: str, offset: int, end: int, sink: Sink) -> int:
        """One request for [offset, end]; returns the next offset. A connection that drops
        before any byte arrived raises; after some, the caller resumes from the returned one."""
        headers = {**self.headers, "Range": f"bytes={offset}-{end}"}
        with self.connections.request(url, headers) as response:
            if response.status in RETRYABLE_STATUS:
                raise _Retry(f"HTTP {response.status}")
            if response.status != 206:
                raise DownloadError(
                    f"{url}: expected 206 Partial Content for a range, got HTTP {response.status}"
                )
            reached, dropped = self._read_kept(response, offset, end, sink)
        if dropped is not None and reached == offset:
            raise dropped
        return reached

    def fetch_stream(self, url: str, skip: int, sink: Sink) -> int:
        """A whole body in one stream (servers without ranges). A retry starts over and skips
        the bytes already delivered. Returns the size."""
        delivered = skip
        for attempt in range(self.options.retries + 1):
            position = 0

            def skipping(at: int, data: memoryview) -> None:
                nonlocal delivered, position
                end = at + len(data)
                if end > delivered:
                    sink(delivered, data[delivered - at :])
                    delivered = end
                position = end

            try:
                with self.slots, self.connections.request(url, self.headers) as response:
                    if response.status != 200:
                        raise _Retry(f"HTTP {response.status}")
                    self.read_body(response, 0, None, skipping)
                    if response.length:
                        raise _Retry("short body")
                    return position
            except (*NETWORK_ERRORS, _Retry) as exc:
                self._give_up_or_wait(url, attempt, exc)
        raise DownloadError(f"{url}: failed after {self.options.retries} retries")


def _probe_of(response: http.client.HTTPResponse, url: str) -> Probe:
    if response.status == 206:
        match = _CONTENT_RANGE.match(response.getheader("Content-Range", ""))
        size = int(match[3]) if match and match[3] != "*" else None
        return Probe(size, url, True)
    length = response.getheader("Content-Length")
    return Probe(int(length) if length else None, url, False)
