"""Weights: `pget`, a parallel chunked downloader, and the weights cache.

options    DownloadOptions and their defaults, size strings
routing    consistent-hashing cache hosts
connections keep-alive HTTP connections for the transfer threads (http.client)
fetch      range requests with retries and resumption
consumers  file (in place), null
archive_stream -x: the archive's bytes in order, members' data placed by the transfers
extract    -x: a tar extracted while it downloads, complete members only, safely
download   one URL: chunk planning and transfer
manifest   multifile manifests
api        download(), download_many()
sources    Hugging Face / CivitAI / Replicate URL resolution
cache      WeightsCache
progress   bars or plain lines
pidfile    pget's PID lock
cli        the `pget` command
"""

from .api import download, download_async, download_many, download_many_async
from .cache import WeightsCache
from .download import Result
from .errors import (
    ArchiveError,
    DestinationExists,
    DownloadError,
    ManifestError,
    UnsafeArchiveEntry,
    WeightsError,
    WriteError,
)
from .manifest import Entry, parse_manifest
from .options import DownloadOptions, parse_size
from .sources import Endpoints, resolve_source

__all__ = [
    "DestinationExists",
    "DownloadError",
    "DownloadOptions",
    "Endpoints",
    "Entry",
    "ManifestError",
    "Result",
    "UnsafeArchiveEntry",
    "ArchiveError",
    "WriteError",
    "WeightsCache",
    "WeightsError",
    "download",
    "download_async",
    "download_many",
    "download_many_async",
    "parse_manifest",
    "parse_size",
    "resolve_source",
]
