"""Which URLs a file input may be downloaded from.

A client names the URL, the server fetches it: without a guard a request can make the server
read its own network (cloud metadata at 169.254.169.254, an admin port on loopback). Refusing
addresses inside the network is opt-in (`PYCOG_REFUSE_PRIVATE_URLS=1`) because a model served
on a laptop or beside its file store legitimately reads from them. Every hop of a redirect is
checked, not only the first URL.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse
import urllib.request
from http.client import HTTPMessage
from typing import IO

from . import envvars


class RefusedURL(ValueError):
    """A URL input that points where the server may not download from."""


def refuses_private_addresses() -> bool:
    return (envvars.REFUSE_PRIVATE_URLS.get() or "").lower() in ("1", "true", "yes")


def check_url(url: str) -> None:
    """Refuse a URL whose host resolves to a loopback, private, link-local or reserved address
    (when the guard is on)."""
    if not refuses_private_addresses():
        return
    host = urllib.parse.urlparse(url).hostname
    if not host:
        raise RefusedURL(f"{url[:80]!r} has no host")
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except socket.gaierror as exc:
        raise RefusedURL(f"cannot resolve {host!r}: {exc.strerror}") from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if _inside(ip):
            raise RefusedURL(
                f"{host!r} resolves to {ip}, an address inside the server's network; URL inputs "
                "must be public (PYCOG_REFUSE_PRIVATE_URLS is set)"
            )


def _inside(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return _inside(ip.ipv4_mapped)
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        scheme = urllib.parse.urlparse(newurl).scheme
        if scheme not in ("http", "https"):
            raise RefusedURL(f"redirected to a {scheme!r} URL; only http(s) is followed")
        check_url(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def open_checked(request: urllib.request.Request, timeout: float) -> IO[bytes]:
    """`urlopen` with the guard applied to the URL and to every redirect."""
    check_url(request.full_url)
    opener = urllib.request.build_opener(_CheckedRedirects())
    response: IO[bytes] = opener.open(request, timeout=timeout)
    return response
