"""Where a plain download's bytes go: a file (written in place) or nowhere (the tar
extractor is in extract.py)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from .errors import DownloadError, WriteError


def cannot_write(path: str | Path, error: OSError) -> WriteError:
    return WriteError(f"{path}: cannot write it ({error.strerror or error})")


def pwrite_all(fd: int, data: memoryview, offset: int, path: str | Path) -> None:
    """Write all of `data` at `offset` of `path`'s open `fd` (no shared file position, so
    threads need no lock). A failure is the disk's, not the network's: a WriteError."""
    done = 0
    try:
        while done < len(data):
            done += os.pwrite(fd, data[done:], offset + done)
    except OSError as exc:
        raise cannot_write(path, exc) from None


class FileConsumer:
    """Writes each piece at its offset into a temporary file beside the destination; `commit()`
    checks the size and renames it into place, `abort()` removes it. Transfer threads write
    at once: `os.pwrite` needs no shared position."""

    def __init__(self, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.dest = dest
        self.temp = dest.with_name(f".{dest.name}.pget-{os.getpid()}-{id(self):x}")
        try:
            self.fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        except OSError as exc:
            raise cannot_write(dest, exc) from None
        self.written = 0
        self._count = threading.Lock()

    def allocate(self, size: int | None) -> None:
        if size:
            try:
                os.ftruncate(self.fd, size)
            except OSError as exc:
                raise cannot_write(self.dest, exc) from None

    def write(self, offset: int, data: memoryview) -> None:
        pwrite_all(self.fd, data, offset, self.dest)
        with self._count:
            self.written += len(data)

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
        self._count = threading.Lock()

    def allocate(self, size: int | None) -> None:
        pass

    def write(self, offset: int, data: memoryview) -> None:
        with self._count:
            self.written += len(data)
