"""Keep-alive HTTP/1.1 connections for pget's transfer threads.

Each transfer runs on its own thread with a blocking connection, so a body is read with
`readinto` straight into that thread's reusable buffer and written out with the GIL released:
no bytes object per read and no event loop in the path, which is what lets Python keep up with
a gigabyte a second. The stdlib client (`http.client`) is the one that reads into a caller's
buffer; this module adds what pget needs around it: a pool per host, `--resolve` addresses,
proxies from the environment, separate connect and read timeouts, a cap of connections per
host, and closing every socket at once when a run is aborted.
"""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import SplitResult, unquote, urlsplit

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
    """Reads with the read timeout once connected (the connect timeout is `timeout`)."""

    read_timeout: float = 30.0

    def connect(self) -> None:
        super().connect()
        assert self.sock is not None
        self.sock.settimeout(self.read_timeout)


class _Secure(_Plain, http.client.HTTPSConnection):
    """TLS (HTTPSConnection.connect wraps the socket, then _Plain sets the read timeout)."""


Connection = _Plain
"""Any pooled connection (_Secure is one too)."""


def _dial_to(address: str) -> Callable[..., socket.socket]:
    """`--resolve`: connect to `address` whatever host name the URL has."""

    def dial(
        host_port: tuple[str, int], timeout: float, source: tuple[str, int] | None = None
    ) -> socket.socket:
        return socket.create_connection((address, host_port[1]), timeout, source)

    return dial


def _proxy_for(scheme: str, host: str) -> SplitResult | None:
    """The proxy the environment (`http_proxy`, `https_proxy`, `no_proxy`) names, if any."""
    import urllib.request

    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(scheme)
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    return urlsplit(proxy if "://" in proxy else f"http://{proxy}")


def _proxy_headers(proxy: SplitResult) -> dict[str, str]:
    if proxy.username is None:
        return {}
    credentials = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}"
    return {"Proxy-Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


class ConnectionPool:
    """Idle keep-alive connections per host; `request()` leases one for one response."""

    def __init__(self, options: DownloadOptions) -> None:
        self.options = options
        self._idle: dict[HostKey, list[Connection]] = {}
        self._per_host: dict[HostKey, threading.BoundedSemaphore] = {}
        self._leased: set[Connection] = set()
        self._forwarding: dict[HostKey, dict[str, str]] = {}
        """Hosts reached through a plain HTTP proxy: absolute URLs, and these headers."""
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
    ) -> tuple[Connection, http.client.HTTPResponse]:
        """Send on an idle connection; one the server closed meanwhile is replaced once."""
        while True:
            connection, reused = self._checkout(target.key)
            path = target.path
            if target.key in self._forwarding:
                scheme, host, port = target.key
                path = f"{scheme}://{host}:{port}{target.path}"
                headers = {**headers, **self._forwarding[target.key]}
            try:
                connection.request("GET", path, headers=headers)
                return connection, connection.getresponse()
            except (OSError, http.client.HTTPException):
                self._discard(connection)
                if not reused:
                    raise

    def _checkout(self, key: HostKey) -> tuple[Connection, bool]:
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

    def _new(self, key: HostKey) -> Connection:
        scheme, host, port = key
        proxy = _proxy_for(scheme, host)
        connection: Connection
        if scheme == "https":
            if self._context is None:
                self._context = ssl.create_default_context()
            if proxy is not None:
                connection = _Secure(proxy.hostname or "", proxy.port or 80, context=self._context)
                connection.set_tunnel(host, port, headers=_proxy_headers(proxy))
            else:
                connection = _Secure(host, port, context=self._context)
        elif proxy is not None:
            connection = _Plain(proxy.hostname or "", proxy.port or 80)
            self._forwarding[key] = _proxy_headers(proxy)
        else:
            connection = _Plain(host, port)
        connection.timeout = self.options.connect_timeout
        connection.read_timeout = self.options.read_timeout
        address = self.options.resolve.get(f"{host}:{port}")
        if address is not None and proxy is None:
            connection._create_connection = _dial_to(address)  # type: ignore[attr-defined]
        return connection

    def _give_back(
        self, key: HostKey, connection: Connection, response: http.client.HTTPResponse
    ) -> None:
        if response.isclosed() and not response.will_close:
            with self._lock:
                self._leased.discard(connection)
                if not self._closed:
                    self._idle.setdefault(key, []).append(connection)
                    return
        self._discard(connection)

    def _discard(self, connection: Connection) -> None:
        with self._lock:
            self._leased.discard(connection)
        connection.close()
