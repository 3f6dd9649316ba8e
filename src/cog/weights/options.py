"""Download options, their defaults, and size strings like `125M`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MiB = 1024 * 1024
DEFAULT_CHUNK_SIZE = 125 * 1000 * 1000  # pget's `125M`
MAX_AUTO_CONNECTIONS = 64
BYTES_PER_CONNECTION = 16 * MiB
"""Connections per file when not set: one per 16 MiB, up to 64. Object stores cap each
connection (tens of MB/s), so a large file's rate follows its connection count, not the core
count pget's default (4 per core) uses; small files don't pay for connections they can't use."""
MIN_AUTO_CHUNK = 4 * MiB
EXTRACT_CHUNK = 8 * MiB
EXTRACT_WINDOW = 256 * MiB
"""With -x, chunks wait in memory until the extractor reaches them: at most this much is
downloaded ahead of it, in small chunks so that many connections still run."""
DEFAULT_MAX_CONN_PER_HOST = 64
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

    def max_connections(self) -> int:
        """Requests in flight at once across every file of a run."""
        return self.concurrency or MAX_AUTO_CONNECTIONS

    def connections_for(self, size: int) -> int:
        """Connections for one file of `size` bytes."""
        if self.concurrency:
            return self.concurrency
        return max(1, min(MAX_AUTO_CONNECTIONS, -(-size // BYTES_PER_CONNECTION)))

    def first_chunk(self, extracting: bool = False) -> int:
        """The range asked for by the first request, before the size is known."""
        if extracting:
            return self.extract_chunk()
        return self.chunk_size or MIN_AUTO_CHUNK

    def chunk_for(self, size: int, first: int) -> int:
        """Chunk size for the rest of a file of `size` bytes after its first `first` bytes:
        the user's, else the rest spread over the other connections (4 MiB to 125M)."""
        if self.chunk_size:
            return self.chunk_size
        others = max(1, self.connections_for(size) - 1)
        per_connection = -(-max(0, size - first) // others)
        return max(MIN_AUTO_CHUNK, min(DEFAULT_CHUNK_SIZE, per_connection))

    def extract_chunk(self) -> int:
        """Chunk size with -x: small, since chunks wait in memory for the extractor."""
        if self.chunk_size:
            return min(self.chunk_size, EXTRACT_WINDOW // 16)
        return EXTRACT_CHUNK

    def extract_window(self) -> int:
        """Chunks downloaded ahead of the extractor at most."""
        return max(2, EXTRACT_WINDOW // self.extract_chunk())
