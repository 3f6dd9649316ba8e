"""Consistent-hashing cache hosts: each (URL, slice) always goes to the same cache node."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit, urlunsplit

from .options import CACHE_SLICE_SIZE


def jump_hash(key: int, buckets: int) -> int:
    """Lamping & Veach's jump consistent hash: a bucket in [0, buckets) for a 64-bit key."""
    if buckets <= 0:
        raise ValueError("buckets must be positive")
    bucket, candidate = -1, 0
    while candidate < buckets:
        bucket = candidate
        key = (key * 2862933555777941757 + 1) & 0xFFFFFFFFFFFFFFFF
        candidate = int((bucket + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return bucket


def _key(url: str, slice_index: int, attempt: int) -> int:
    digest = hashlib.sha256(f"{url}#{slice_index}#{attempt}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


class CacheRouter:
    """Routes cacheable URLs to cache hosts by (URL, 500 MiB slice)."""

    def __init__(self, hosts: tuple[str, ...], prefixes: tuple[str, ...]) -> None:
        self.hosts = hosts
        self.prefixes = prefixes

    def applies_to(self, url: str) -> bool:
        return bool(self.hosts) and url.startswith(self.prefixes)

    def route(self, url: str, offset: int, attempt: int = 0) -> str | None:
        """The cache URL for the byte at `offset`, or None when that bucket has no host."""
        slice_index = offset // CACHE_SLICE_SIZE
        host = self.hosts[jump_hash(_key(url, slice_index, attempt), len(self.hosts))]
        if not host:
            return None
        parts = urlsplit(url)
        return urlunsplit(("http", host, parts.path, parts.query, ""))
