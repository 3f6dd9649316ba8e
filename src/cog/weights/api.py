"""pget as a library: `download(url, dest)` and `download_many(entries)`, blocking or async."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path

from .download import Consumer, Result, check_destination, fetch_url
from .fetch import Fetcher
from .manifest import Entry
from .options import DEFAULT_MAX_CONCURRENT_FILES, DownloadOptions

ProgressFactory = Callable[[str, Path | None], Callable[[int], None]]


def _no_progress(_url: str, _dest: Path | None) -> Callable[[int], None]:
    return lambda _: None


def download(
    url: str,
    dest: str | Path | None,
    options: DownloadOptions | None = None,
    consumer: Consumer = "file",
    progress: ProgressFactory = _no_progress,
) -> Result:
    """Download `url` to `dest` in parallel chunks (`consumer="tar-extractor"` extracts a tar
    into the directory `dest` while it downloads; `"null"` discards the bytes)."""
    fetcher = Fetcher(options or DownloadOptions())
    try:
        target = Path(dest) if dest is not None else None
        return fetch_url(fetcher, url, target, consumer, progress(url, target))
    finally:
        fetcher.close()


def download_many(
    entries: Iterable[Entry],
    options: DownloadOptions | None = None,
    max_concurrent_files: int = DEFAULT_MAX_CONCURRENT_FILES,
    progress: ProgressFactory = _no_progress,
) -> list[Result]:
    """Download several files sharing one pool of connections; the first failure stops the
    rest. Destinations are checked before anything starts."""
    options = options or DownloadOptions()
    entries = list(entries)
    for entry in entries:
        check_destination(entry.dest, "file", options.force)
    fetcher = Fetcher(options)
    files = ThreadPoolExecutor(max(1, max_concurrent_files), thread_name_prefix="pget-file")
    try:
        futures = [
            files.submit(
                fetch_url, fetcher, entry.url, entry.dest, "file", progress(entry.url, entry.dest)
            )
            for entry in entries
        ]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for future in done:
            future.result()  # the first failure, if any
        return [future.result() for future in futures]
    finally:
        files.shutdown(wait=False, cancel_futures=True)
        fetcher.close()


async def download_async(
    url: str,
    dest: str | Path | None,
    options: DownloadOptions | None = None,
    consumer: Consumer = "file",
    progress: ProgressFactory = _no_progress,
) -> Result:
    """`download` without blocking the event loop."""
    return await asyncio.to_thread(download, url, dest, options, consumer, progress)


async def download_many_async(
    entries: Iterable[Entry],
    options: DownloadOptions | None = None,
    max_concurrent_files: int = DEFAULT_MAX_CONCURRENT_FILES,
    progress: ProgressFactory = _no_progress,
) -> list[Result]:
    """`download_many` without blocking the event loop."""
    return await asyncio.to_thread(
        download_many, list(entries), options, max_concurrent_files, progress
    )
