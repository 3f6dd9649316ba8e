"""pget as a library: `download(url, dest)` and `download_many(entries)`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from pathlib import Path

from .download import Consumer, Result, check_destination, fetch_url
from .fetch import Fetcher
from .manifest import Entry
from .options import DEFAULT_MAX_CONCURRENT_FILES, DownloadOptions

ProgressFactory = Callable[[str, Path | None], Callable[[int], None]]


def _no_progress(_url: str, _dest: Path | None) -> Callable[[int], None]:
    return lambda _: None


async def download_async(
    url: str,
    dest: str | Path | None,
    options: DownloadOptions | None = None,
    consumer: Consumer = "file",
    progress: ProgressFactory = _no_progress,
) -> Result:
    """Download one URL (see `download`)."""
    fetcher = Fetcher(options or DownloadOptions())
    try:
        target = Path(dest) if dest is not None else None
        return await fetch_url(fetcher, url, target, consumer, progress(url, target))
    finally:
        await fetcher.close()


def download(
    url: str,
    dest: str | Path | None,
    options: DownloadOptions | None = None,
    consumer: Consumer = "file",
) -> Result:
    """Download `url` to `dest` in parallel chunks (`consumer="tar-extractor"` extracts a tar
    into the directory `dest` while it downloads; `"null"` discards the bytes)."""
    return asyncio.run(download_async(url, dest, options, consumer))


async def download_many_async(
    entries: Iterable[Entry],
    options: DownloadOptions | None = None,
    max_concurrent_files: int = DEFAULT_MAX_CONCURRENT_FILES,
    progress: ProgressFactory = _no_progress,
) -> list[Result]:
    """Download several files sharing one pool of connections; the first failure cancels the
    rest. Destinations are checked before anything starts."""
    options = options or DownloadOptions()
    entries = list(entries)
    for entry in entries:
        check_destination(entry.dest, "file", options.force)
    fetcher = Fetcher(options)
    files = asyncio.Semaphore(max_concurrent_files)

    async def one(entry: Entry) -> Result:
        async with files:
            return await fetch_url(
                fetcher, entry.url, entry.dest, "file", progress(entry.url, entry.dest)
            )

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(entry)) for entry in entries]
        return [task.result() for task in tasks]
    except BaseExceptionGroup as group_error:
        raise group_error.exceptions[0] from None
    finally:
        await fetcher.close()


def download_many(
    entries: Iterable[Entry],
    options: DownloadOptions | None = None,
    max_concurrent_files: int = DEFAULT_MAX_CONCURRENT_FILES,
) -> list[Result]:
    """Synchronous `download_many_async`."""
    return asyncio.run(download_many_async(entries, options, max_concurrent_files))
