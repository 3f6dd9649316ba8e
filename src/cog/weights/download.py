"""Downloading one URL: parallel range chunks into a file, a tar extractor, or nowhere.

The first request fetches the first chunk and tells the size; the other chunks then run in
parallel (bounded by the shared request slots) against the final URL of any redirect. Files
are written in place at their offsets, so memory stays at one read buffer per connection;
extraction needs bytes in order, so there chunks are small and only a window of them is held.
"""

from __future__ import annotations

import asyncio
import io
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import aiohttp

from .consumers import FileConsumer, NullConsumer, OrderedStream, extract_stream
from .errors import DestinationExists, DownloadError
from .fetch import Fetcher, Probe, Sink
from .options import MIN_AUTO_CHUNK

Consumer = Literal["file", "tar-extractor", "null"]
Progress = Callable[[int], None]
"""Called with the number of new bytes received."""
EXTRACT_WINDOW_EXTRA = 4


@dataclass(frozen=True)
class Result:
    """One finished download."""

    url: str
    dest: Path | None
    size: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.size / self.seconds if self.seconds > 0 else float("inf")


def check_destination(dest: Path, consumer: Consumer, force: bool) -> None:
    if consumer == "file" and dest.exists() and not force:
        raise DestinationExists(f"destination {dest} already exists (use --force to overwrite)")


async def fetch_url(
    fetcher: Fetcher,
    url: str,
    dest: Path | None,
    consumer: Consumer = "file",
    progress: Progress = lambda _: None,
) -> Result:
    """Download `url` to `dest` with the given consumer."""
    started = time.monotonic()
    if dest is not None:
        check_destination(dest, consumer, fetcher.options.force)
    extracting = consumer == "tar-extractor"
    first = fetcher.options.chunk_size or MIN_AUTO_CHUNK
    first = fetcher.options.chunk_for(first, extracting) if extracting else first
    async with fetcher.slots:
        probe = await fetcher.probe(url, first)
    if consumer == "tar-extractor":
        assert dest is not None
        size = await _extract(fetcher, probe, first, dest, progress)
    else:
        size = await _to_sink(fetcher, probe, first, dest, consumer, progress)
    return Result(url, dest, size, time.monotonic() - started)


def _plan(size: int, first: int, chunk: int) -> list[tuple[int, int]]:
    """Inclusive byte ranges after the first chunk."""
    return [(start, min(start + chunk, size) - 1) for start in range(first, size, chunk)]


def _counting(sink: Sink, progress: Progress) -> Sink:
    def write(offset: int, data: bytes) -> None:
        sink(offset, data)
        progress(len(data))

    return write


async def _to_sink(
    fetcher: Fetcher,
    probe: Probe,
    first: int,
    dest: Path | None,
    consumer: Consumer,
    progress: Progress,
) -> int:
    target: FileConsumer | NullConsumer
    target = (
        NullConsumer() if consumer == "null" or dest is None else FileConsumer(dest, probe.size)
    )
    sink = _counting(target.write, progress)
    try:
        size = await _transfer(
            fetcher, probe, first, sink, fetcher.options.chunk_for(probe.size or 0)
        )
        if isinstance(target, FileConsumer):
            target.commit(size)
        return size
    except BaseException:
        if isinstance(target, FileConsumer):
            target.abort()
        raise


async def _transfer(
    fetcher: Fetcher,
    probe: Probe,
    first: int,
    sink: Sink,
    chunk: int,
    before_chunk: Callable[[int], object] | None = None,
) -> int:
    """Move every byte of the file into the sink; returns its size."""
    if not probe.ranged or probe.size is None:
        delivered = await _first_body(fetcher, probe, sink)
        if probe.size is not None and delivered < probe.size:
            return await fetcher.fetch_stream(probe.url, delivered, sink)
        return delivered
    size = probe.size
    first_end = min(first, size) - 1
    tasks = [
        asyncio.create_task(_chunk(fetcher, probe.url, start, end, sink, index + 1, before_chunk))
        for index, (start, end) in enumerate(_plan(size, first, chunk))
    ]
    try:
        offset = await _first_body(fetcher, probe, sink)
        if offset <= first_end:
            await fetcher.fetch_range(probe.url, offset, first_end, sink)
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return size


async def _first_body(fetcher: Fetcher, probe: Probe, sink: Sink) -> int:
    """The first response's body; a dropped connection returns what arrived."""
    delivered = 0

    def count(offset: int, data: bytes) -> None:
        nonlocal delivered
        sink(offset, data)
        delivered = offset + len(data)

    try:
        await fetcher.read_body(probe.response, 0, count)
    except (aiohttp.ClientError, TimeoutError, OSError):
        pass  # what arrived is kept; the caller resumes from `delivered`
    return delivered


async def _chunk(
    fetcher: Fetcher,
    url: str,
    start: int,
    end: int,
    sink: Sink,
    index: int,
    before_chunk: Callable[[int], object] | None,
) -> None:
    if before_chunk is not None:
        waited = before_chunk(index)
        if asyncio.iscoroutine(waited):
            await waited
    await fetcher.fetch_range(url, start, end, sink)


async def _extract(
    fetcher: Fetcher, probe: Probe, first: int, dest: Path, progress: Progress
) -> int:
    """Download and extract at once: chunks land in an ordered stream read by a thread."""
    loop = asyncio.get_running_loop()
    chunk = fetcher.options.chunk_for(probe.size or 0, extracting=True)
    size = probe.size if probe.ranged and probe.size is not None else None
    starts = [0, *range(first, size, chunk)] if size is not None else [0]
    window = asyncio.Semaphore(fetcher.options.connections() + EXTRACT_WINDOW_EXTRA)
    stream = OrderedStream(
        starts,
        size if size is not None else (probe.size or 0),
        on_consumed=lambda _: loop.call_soon_threadsafe(window.release),
    )
    if size is None:
        return await _extract_unranged(fetcher, probe, dest, progress)
    reader: io.BufferedReader[Any] = io.BufferedReader(stream, buffer_size=1 << 20)
    extraction = loop.run_in_executor(None, extract_stream, reader, dest, fetcher.options.force)
    try:
        await window.acquire()
        total = await _transfer(
            fetcher,
            probe,
            first,
            _counting(stream.write_at, progress),
            chunk,
            before_chunk=lambda _: window.acquire(),
        )
    except BaseException as exc:
        stream.fail(exc)
        await asyncio.gather(extraction, return_exceptions=True)
        raise
    await extraction
    return total


async def _extract_unranged(fetcher: Fetcher, probe: Probe, dest: Path, progress: Progress) -> int:
    """A server without ranges: one stream piped to the extractor."""
    read_fd, write_fd = os.pipe()
    loop = asyncio.get_running_loop()
    reader: io.BufferedReader[Any] = io.BufferedReader(io.FileIO(read_fd, "rb"), 1 << 20)
    extraction = loop.run_in_executor(None, extract_stream, reader, dest, fetcher.options.force)
    writer = io.FileIO(write_fd, "wb")

    def write(_: int, data: bytes) -> None:
        writer.write(data)
        progress(len(data))

    try:
        total = await _transfer(fetcher, probe, 0, write, 1)
    except BaseException:
        writer.close()
        await asyncio.gather(extraction, return_exceptions=True)
        raise
    writer.close()
    try:
        await extraction
    finally:
        reader.close()
    if probe.size is not None and total != probe.size:
        raise DownloadError(f"{probe.url}: received {total} bytes, expected {probe.size}")
    return total
