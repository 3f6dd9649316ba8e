"""Download options, their defaults, and size strings like `125M`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MiB = 1024 * 1024
DEFAULT_CHUNK_SIZE = 125 * 1000 * 1000  # pget's `125M`
DEFAULT_CONNECTIONS = 32
"""Connections per file when not set: object stores cap each connection (tens of MB/s), so the
rate follows the connection count, not the core count pget's default (4 per core) uses."""
MIN_AUTO_CHUNK = 4 * MiB
EXTRACT_CHUNK = 8 * MiB
"""Chunks are held in memory until the extractor reaches them: small chunks bound memory."""
DEFAULT_MAX_CONN_PER_HOST = 40
DEFAULT_MAX_CONCURRENT_FILES = 40
CACHE_SLICE_SIZE = 500 * MiB

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*$", re.IGNORECASE)
_UNITS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}


def parse_size(text: str) -> int:
    """`125M` → 125_000_000, `64MiB` → 67_108_864, `4096` → 4096 (humanize-style)."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a size (examples: 125M, 64MiB, 4096)")
    number, unit, binary = match.groups()
    base = 1024 if binary else 1000
    return int(float(number) * base ** _UNITS[unit.lower()])


@dataclass(frozen=True)
class DownloadOptions:
    """How downloads run. `None` for concurrency/chunk size means: chosen per file."""

    concurrency: int | None = None
    chunk_size: int | None = None
    retries: int = 5
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    force: bool = False
    max_conn_per_host: int = DEFAULT_MAX_CONN_PER_HOST
    resolve: dict[str, str] = field(default_factory=dict)
    """`host:port` → IP address to connect to instead of resolving the host."""
    headers: dict[str, str] = field(default_factory=dict)
    cache_hosts: tuple[str, ...] = ()
    """`host[:port]` of cache nodes; an empty entry is a missing node."""
    cache_uri_prefixes: tuple[str, ...] = ("https://weights.replicate.delivery",)
    backoff_base: float = 0.85

    def connections(self) -> int:
        return self.concurrency or DEFAULT_CONNECTIONS

    def chunk_for(self, size: int, extracting: bool = False) -> int:
        """Chunk size for a file of `size` bytes: the user's, else enough chunks to keep every
        connection busy (bounded to [4 MiB, 125M]); small when extracting (memory)."""
        if self.chunk_size:
            return min(self.chunk_size, EXTRACT_CHUNK * 4) if extracting else self.chunk_size
        if extracting:
            return EXTRACT_CHUNK
        per_connection = -(-size // self.connections())
        return max(MIN_AUTO_CHUNK, min(DEFAULT_CHUNK_SIZE, per_connection))
