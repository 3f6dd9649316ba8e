"""Keep-alive HTTP/1.1 connections for pget's transfer threads.

Each transfer runs on its own thread with a blocking connection, so a body is read with
`readinto` straight into that thread's reusable buffer and written out with the GIL released:
no bytes object per read and no event loop in the path, which is what lets Python keep up with
a gigabyte a second. The stdlib client (`http.client`) is the one that reads into a caller's
buffer; this module adds what pget needs around it: a pool per host, `--resolve` addresses,
separate connect and read timeouts, a cap of connections per host, and closing every socket
at once when a run is aborted.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import DownloadError
from .options import DownloadOptions

HostKey = tuple[str, str, int]
"""(scheme, host, port)."""
REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class Target:
    """Where a URL's request goes."""

    key: HostKey
    path: str

    @classmethod
    def of(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DownloadError(f"{url}: only http:// and https:// URLs can be downloaded")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls((parts.scheme, parts.hostname, port), path)


class _Plain(http.client.HTTPConnection):
    """Connects to an overridden address when given (`--resolve`); sets both timeouts."""

    def __init__(self, host: str, port: int, address: str, connect: float, read: float) -> None:
        super().__init__(host, port, timeout=connect)
        self.address, self.read_timeout = address, read

    def _open_socket(self) -> socket.socket:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.read_timeout)
        return sock

    def connect(self) -> None:
        self.sock = self._open_socket()


class _Secure(_Plain):
    def __init__(self, *args: object, context: ssl.SSLContext) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.context = context

    def connect(self) -> None:
        self.sock = self.context.wrap_socket(self._open_socket(), server_hostname=self.host)


class ConnectionPool:
    """Idle keep-alive connections per host; `request()` leases one for one response."""

    def __init__(self, options: DownloadOptions) -> None:
        self.options = options
        self._idle: dict[HostKey, list[_Plain]] = {}
        self._per_host: dict[HostKey, threading.BoundedSemaphore] = {}
        self._leased: set[_Plain] = set()
        self._lock = threading.Lock()
        self._context: ssl.SSLContext | None = None
        self._closed = False

    @contextmanager
    def request(self, url: str, headers: dict[str, str]) -> Iterator[http.client.HTTPResponse]:
        """GET `url`; the response is valid inside the block. A connection whose response was
        read to the end goes back to the pool, any other is closed."""
        target = Target.of(url)
        with self._host_slot(target.key):
            connection, response = self._send(target, headers)
            try:
                yield response
            finally:
                self._give_back(target.key, connection, response)

    @property
    def stopped(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close every connection, idle or in use: blocked reads fail at once."""
        with self._lock:
            self._closed = True
            connections = [c for idle in self._idle.values() for c in idle] + list(self._leased)
            self._idle.clear()
        for connection in connections:
            if connection.sock is not None:
                try:
                    connection.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            connection.close()

    def _host_slot(self, key: HostKey) -> threading.BoundedSemaphore:
        with self._lock:
            if key not in self._per_host:
                self._per_host[key] = threading.BoundedSemaphore(self.options.max_conn_per_host)
            return self._per_host[key]

    def _send(
        self, target: Target, headers: dict[str, str]
    ) -> tuple[_Plain, http.client.HTTPResponse]:
        """Send on an idle connection; one the server closed meanwhile is replaced once."""
        while True:
            connection, reused = self._checkout(target.key)
            try:
                connection.request("GET", target.path, headers=headers)
                return connection, connection.getresponse()
            except (OSError, http.client.HTTPException):
                self._discard(connection)
                if not reused:
                    raise

    def _checkout(self, key: HostKey) -> tuple[_Plain, bool]:
        with self._lock:
            if self._closed:
                raise DownloadError("the download was stopped")
            idle = self._idle.get(key)
            connection = idle.pop() if idle else None
            reused = connection is not None
            if connection is None:
                connection = self._new(key)
            self._leased.add(connection)
        return connection, reused

    def _new(self, key: HostKey) -> _Plain:
        scheme, host, port = key
        address = self.options.resolve.get(f"{host}:{port}", host)
        timeouts = (self.options.connect_timeout, self.options.read_timeout)
        if scheme == "https":
            if self._context is None:
                self._context = ssl.create_default_context()
            return _Secure(host, port, address, *timeouts, context=self._context)
        return _Plain(host, port, address, *timeouts)

    def _give_back(
        self, key: HostKey, connection: _Plain, response: http.client.HTTPResponse
    ) -> None:
        if response.isclosed() and not response.will_close:
            with self._lock:
                self._leased.discard(connection)
                if not self._closed:
                    self._idle.setdefault(key, []).append(connection)
                    return
        self._discard(connection)

    def _discard(self, connection: _Plain) -> None:
        with self._lock:
            self._leased.discard(connection)
        connection.close()
