"""Downloading one URL: parallel range chunks into a file, a tar extractor, or nowhere.

The first request asks for the first chunk; as soon as its headers tell the size, the other
chunks start on the fetcher's transfer threads (bounded by the shared request slots) against
the final URL of any redirect, while the first body is read on the calling thread. Files are
written in place at their offsets, so memory stays at one read buffer per connection;
extraction needs bytes in order, so there chunks are small and only a window of them is held.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .archive_stream import ArchiveStream
from .consumers import FileConsumer, NullConsumer
from .errors import ArchiveError, DestinationExists, Stopped
from .extract import extract_stream
from .fetch import Fetcher, Probe, Sink

Consumer = Literal["file", "tar-extractor", "null"]
Progress = Callable[[int], None]
"""Called with the number of new bytes received (from any transfer thread)."""


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


def fetch_url(
    fetcher: Fetcher,
    url: str,
    dest: Path | None,
    consumer: Consumer = "file",
    progress: Progress = lambda _: None,
) -> Result:
    """Download `url` to `dest` with the given consumer; blocks until done."""
    started = time.monotonic()
    if dest is not None:
        check_destination(dest, consumer, fetcher.options.force)
    if consumer == "tar-extractor":
        assert dest is not None
        size = _extract(fetcher, url, dest, progress)
    else:
        size = _to_file(fetcher, url, None if consumer == "null" else dest, progress)
    return Result(url, dest, size, time.monotonic() - started)


def _to_file(fetcher: Fetcher, url: str, dest: Path | None, progress: Progress) -> int:
    target = FileConsumer(dest) if dest is not None else NullConsumer()
    transfer = Transfer(fetcher, url, _counting(target.write, progress))
    try:
        size = transfer.run(fetcher.options.first_chunk(), on_size=target.allocate)
        if isinstance(target, FileConsumer):
            target.commit(size)
        return size
    except BaseException:
        if isinstance(target, FileConsumer):
            target.abort()
        raise


def _counting(sink: Sink, progress: Progress) -> Sink:
    def write(offset: int, data: memoryview) -> None:
        sink(offset, data)
        progress(len(data))

    return write


class Transfer:
    """Every byte of one URL into a sink: the first chunk on this thread, the rest on the
    fetcher's pool. The first failure stops the others."""

    def __init__(
        self,
        fetcher: Fetcher,
        url: str,
        sink: Sink,
        chunk_for: Callable[[int, int], int] | None = None,
        before_chunk: Callable[[int], None] = lambda _: None,
        on_stop: Callable[[BaseException], None] = lambda _: None,
    ) -> None:
        self.fetcher = fetcher
        self.url = url
        self.sink = sink
        self.chunk_for = chunk_for or fetcher.options.chunk_for
        self.before_chunk = before_chunk
        self.on_stop = on_stop
        self.chunks: list[Future[None]] = []
        self.stopped = threading.Event()

    def run(self, first: int, on_size: Callable[[int | None], None] = lambda _: None) -> int:
        """Transfer the whole file; returns its size."""

        def start(probe: Probe) -> None:
            on_size(probe.size)
            if probe.ranged and probe.size is not None:
                self._start_chunks(probe, first)

        try:
            probe, delivered = self.fetcher.probe_and_read(self.url, first, self._guarded, start)
            size = self._finish_first(probe, delivered, first)
            self._wait_for_chunks()
            return size
        except BaseException as exc:
            self._stop(exc)
            raise

    def _guarded(self, offset: int, data: memoryview) -> None:
        if self.stopped.is_set():
            raise Stopped("the download stopped")
        self.sink(offset, data)

    def _start_chunks(self, probe: Probe, first: int) -> None:
        assert probe.size is not None
        chunk = self.chunk_for(probe.size, first)
        for index, start in enumerate(range(first, probe.size, chunk), start=1):
            end = min(start + chunk, probe.size) - 1
            self.chunks.append(self.fetcher.pool.submit(self._chunk, probe.url, start, end, index))

    def _chunk(self, url: str, start: int, end: int, index: int) -> None:
        self.before_chunk(index)
        if not self.stopped.is_set():
            self.fetcher.fetch_range(url, start, end, self._guarded)

    def _finish_first(self, probe: Probe, delivered: int, first: int) -> int:
        """Resume the first chunk's missing bytes, if any; returns the file's size."""
        if not probe.ranged or probe.size is None:
            if probe.size is not None and delivered < probe.size:
                return self.fetcher.fetch_stream(probe.url, delivered, self._guarded)
            return delivered
        first_end = min(first, probe.size) - 1
        if delivered <= first_end:
            self.fetcher.fetch_range(probe.url, delivered, first_end, self._guarded)
        return probe.size

    def _wait_for_chunks(self) -> None:
        done, _ = wait(self.chunks, return_when=FIRST_EXCEPTION)
        for future in done:
            future.result()  # the first failure, if any

    def _stop(self, error: BaseException) -> None:
        """Stop the other chunks and wait for them: none may write after this returns."""
        self.stopped.set()
        self.on_stop(error)
        for future in self.chunks:
            future.cancel()
        wait(self.chunks)


def _extract(fetcher: Fetcher, url: str, dest: Path, progress: Progress) -> int:
    """Download and extract at once: chunks land in an ordered stream read by a thread."""
    options = fetcher.options
    stream = ArchiveStream(options.extract_chunk(), options.extract_window())
    extraction = _in_thread(lambda: _extract_all(stream, dest, options.force), stream.fail)
    transfer = Transfer(
        fetcher,
        url,
        _counting(stream.write_at, progress),
        chunk_for=lambda _size, _first: options.extract_chunk(),
        before_chunk=stream.wait_turn,
        on_stop=stream.fail,
    )
    try:
        size = transfer.run(options.first_chunk(extracting=True), on_size=stream.announce)
        stream.finish(size)
        extraction.result()
    except BaseException as exc:
        failure = extraction.exception()  # waits: after it, nothing writes nor places
        stream.abandon()
        error = failure if failure is not None and not isinstance(failure, Stopped) else exc
        if isinstance(error, ArchiveError):
            raise ArchiveError(f"{url}: {error}") from None
        if error is not exc:
            raise error from None  # the archive's fault, not the download's
        raise
    return size


def _extract_all(stream: ArchiveStream, dest: Path, force: bool) -> int:
    count = extract_stream(stream, dest, force)
    while stream.read(1 << 20):
        pass  # the padding after the archive's end, so the download can finish
    return count


def _in_thread(work: Callable[[], int], on_error: Callable[[BaseException], None]) -> Future[int]:
    future: Future[int] = Future()

    def run() -> None:
        try:
            future.set_result(work())
        except BaseException as exc:
            on_error(exc)
            future.set_exception(exc)

    threading.Thread(target=run, name="pget-extract", daemon=True).start()
    return future
