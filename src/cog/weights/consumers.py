"""Where downloaded bytes go: a file (written in place), a tar extractor (in order), nowhere."""

from __future__ import annotations

import io
import os
import tarfile
import threading
from pathlib import Path
from typing import Any

from .errors import DownloadError, UnsafeArchiveEntry

LZ4_MAGIC = b"\x04\x22\x4d\x18"


class FileConsumer:
    """Writes each piece at its offset into a temporary file beside the destination; `commit()`
    checks the size and renames it into place, `abort()` removes it."""

    def __init__(self, dest: Path, size: int | None) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.dest = dest
        self.temp = dest.with_name(f".{dest.name}.pget-{os.getpid()}-{id(self):x}")
        self.fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        if size:
            os.ftruncate(self.fd, size)
        self.written = 0

    def write(self, offset: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            done = os.pwrite(self.fd, view, offset)
            view, offset = view[done:], offset + done
            self.written += done

    def commit(self, size: int) -> None:
        os.close(self.fd)
        if self.written != size:
            os.unlink(self.temp)
            raise DownloadError(f"{self.dest}: wrote {self.written} bytes, expected {size}")
        os.replace(self.temp, self.dest)

    def abort(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass
        self.temp.unlink(missing_ok=True)


class NullConsumer:
    """Discards the bytes (benchmarks), counting them."""

    def __init__(self) -> None:
        self.written = 0

    def write(self, offset: int, data: bytes) -> None:
        self.written += len(data)


class OrderedStream(io.RawIOBase):
    """Chunks arrive out of order from the event loop; a reader thread reads them in order.

    A chunk's memory is freed as soon as the reader has passed it; `on_consumed(index)` lets the
    downloader start the next chunk, which bounds memory to the chunks in flight.
    """

    def __init__(self, chunk_starts: list[int], size: int, on_consumed: object = None) -> None:
        self.starts = chunk_starts
        self.size = size
        self.buffers: dict[int, bytearray] = {}
        self.filled: dict[int, int] = {}
        self.current = 0
        self.position = 0
        self.failed: BaseException | None = None
        self.condition = threading.Condition()
        self.on_consumed = on_consumed

    def _chunk_size(self, index: int) -> int:
        end = self.starts[index + 1] if index + 1 < len(self.starts) else self.size
        return end - self.starts[index]

    def write_at(self, offset: int, data: bytes) -> None:
        """Called on the event loop with a piece of the body at an absolute offset."""
        index = self._index_of(offset)
        with self.condition:
            buffer = self.buffers.setdefault(index, bytearray(self._chunk_size(index)))
            local = offset - self.starts[index]
            buffer[local : local + len(data)] = data
            self.filled[index] = self.filled.get(index, 0) + len(data)
            self.condition.notify_all()

    def _index_of(self, offset: int) -> int:
        low, high = 0, len(self.starts) - 1
        while low < high:
            middle = (low + high + 1) // 2
            if self.starts[middle] <= offset:
                low = middle
            else:
                high = middle - 1
        return low

    def fail(self, error: BaseException) -> None:
        with self.condition:
            self.failed = error
            self.condition.notify_all()

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        with self.condition:
            if self.current >= len(self.starts):
                return 0
            local = self.position - self.starts[self.current]
            # A chunk arrives in order over one connection, so the bytes filled so far are a
            # prefix of it: hand them on at once instead of waiting for the whole chunk.
            while self.filled.get(self.current, 0) <= local:
                if self.failed is not None:
                    raise OSError("download failed") from self.failed
                self.condition.wait(timeout=1)
            buffer = self.buffers[self.current]
            count = min(len(target), self.filled[self.current] - local)
            target[:count] = buffer[local : local + count]
            self.position += count
            if local + count == len(buffer):
                del self.buffers[self.current]
                consumed = self.current
                self.current += 1
                if callable(self.on_consumed):
                    self.on_consumed(consumed)
            return count


def open_archive(stream: io.BufferedReader[Any]) -> tarfile.TarFile:
    """A streaming tar reader; gzip/bzip2/xz are sniffed by tarfile, lz4 by its magic."""
    head = stream.peek(4)[:4]
    if head == LZ4_MAGIC:
        import lz4.frame  # type: ignore[import-untyped]

        return tarfile.open(fileobj=lz4.frame.LZ4FrameFile(stream, "rb"), mode="r|")
    return tarfile.open(fileobj=stream, mode="r|*")


def extract_stream(stream: io.BufferedReader[Any], target: Path, force: bool) -> int:
    """Extract a tar as it streams in, refusing entries that would escape `target`."""
    target.mkdir(parents=True, exist_ok=True)
    count = 0
    with open_archive(stream) as archive:
        for member in archive:
            _check_member(member, target)
            destination = target / member.name
            if destination.exists() and not force and not member.isdir():
                raise UnsafeArchiveEntry(
                    f"{member.name}: {destination} already exists (use --force to overwrite)"
                )
            try:
                archive.extract(member, target, filter="data")
            except tarfile.FilterError as exc:
                raise UnsafeArchiveEntry(f"{member.name}: refused ({exc})") from None
            count += 1
    return count


def _check_member(member: tarfile.TarInfo, target: Path) -> None:
    name = member.name
    if member.isdev() or member.isfifo():
        raise UnsafeArchiveEntry(f"{name}: device and FIFO entries are refused")
    if name.startswith("/") or ".." in Path(name).parts:
        raise UnsafeArchiveEntry(f"{name}: the entry would be written outside {target}")
    if member.issym() or member.islnk():
        base = (target / name).parent if member.issym() else target
        resolved = (base / member.linkname).resolve()
        if member.linkname.startswith("/") or not resolved.is_relative_to(target.resolve()):
            raise UnsafeArchiveEntry(f"{name}: link to {member.linkname} points outside {target}")
