"""The bytes of an archive being downloaded, served in order to the extractor (`pget -x`).

Chunks arrive from the transfer threads in any order; tar needs its bytes in order. The
`ArchiveStream` holds pieces that arrived ahead of the reader (a bounded window of them) and
serves them in order to tarfile. For a plain tar, once tarfile has read a member's header the
member's data needs no order at all: its bytes are *placed*, each transfer thread writing its
pieces straight into the member's file (under a temporary name) at their offset, like a plain
download; the file is renamed to the member's name once its last byte is written. So a tar of
a few large weight files extracts as fast as a file downloads, and memory holds only the
bytes of headers not parsed yet.
"""

from __future__ import annotations

import bisect
import io
import os
import threading
from dataclasses import dataclass
from enum import Enum

from .consumers import pwrite_all
from .errors import ArchiveError, Stopped

READ_SIZE = 1 << 20
"""Reads of compressed archives and writes of their members: large, to keep tarfile cheap."""
PIECE_SIZE = 512 * 1024


class _Fate(Enum):
    """What became of a placed member's temporary file."""

    PENDING = "pending"
    """Bytes still arriving, or attributes not set yet: under its temporary name."""
    COMMITTED = "committed"
    """Every byte written and its attributes set: renamed to its name."""
    ABANDONED = "abandoned"
    """The extraction failed first: the temporary file is removed."""


@dataclass
class _Placed:
    """Archive bytes [start, end) belong to the member `name`, written into the open file
    `fd` at offset (archive offset - start) under the name `temp`; renamed to `final` once
    its last byte is written and the extractor has released it (set its attributes)."""

    start: int
    end: int
    fd: int
    name: str
    temp: str
    final: str
    mtime: float
    remaining: int
    released: bool = False
    fate: _Fate = _Fate.PENDING


def _start(region: _Placed) -> int:
    return region.start


class ArchiveStream:
    """Chunks of `chunk` bytes arrive from transfer threads in any order (each chunk's own
    bytes in order); the extractor reads them in order, as a forward-only file.

    Pieces are kept by their offset in buffers reused once the reader has passed them (fresh
    memory for every piece would cost a page fault per 4 KiB). `wait_turn(i)` holds chunk i
    back until it is within `window` chunks of the reader, and a single stream (a server
    without ranges) waits when it gets that far ahead: memory stays at `window` chunks.
    """

    def __init__(self, chunk: int, window: int) -> None:
        self.chunk, self.window = chunk, window
        self.pieces: dict[int, memoryview] = {}
        self.placed: list[_Placed] = []
        self.spare: list[bytearray] = []
        self.size: int | None = None
        self.announced: int | None = None
        """The size the server announced (None without Content-Length)."""
        self.position = 0
        self.failed: BaseException | None = None
        lock = threading.Lock()
        self.condition = threading.Condition(lock)
        # Transfer threads waiting for the window wait apart from the reader, so that each
        # piece written wakes the reader alone.
        self.window_moved = threading.Condition(lock)

    # The writing side (transfer threads).

    def wait_turn(self, index: int) -> None:
        with self.condition:
            while index >= self.position // self.chunk + self.window:
                self._raise_if_failed()
                self.window_moved.wait(timeout=1)

    def write_at(self, offset: int, data: memoryview) -> None:
        while data:
            with self.condition:
                self._raise_if_failed()
                region = self._region_at(offset)
                if region is None:
                    taken = self._keep(offset, data)
                    data, offset = data[taken:], offset + taken
                    continue
            take = min(len(data), region.end - offset)
            pwrite_all(region.fd, data[:take], offset - region.start, region.final)
            with self.condition:
                self._written(region, take)
            data, offset = data[take:], offset + take

    def _keep(self, offset: int, data: memoryview) -> int:
        """Hold bytes that arrived ahead of the reader (waiting while a single stream is too
        far ahead); returns how many were kept, or 0 when a region was placed meanwhile."""
        while offset >= self.position + self.window * self.chunk:
            self._raise_if_failed()
            self.window_moved.wait(timeout=1)
            if self._region_at(offset) is not None:
                return 0
        if offset < self.position:
            raise AssertionError(f"bytes at {offset} arrived after the reader passed them")
        take = min(len(data), PIECE_SIZE)
        buffer = self.spare.pop() if self.spare else bytearray(PIECE_SIZE)
        buffer[:take] = data[:take]
        self.pieces[offset] = memoryview(buffer)[:take]
        self.condition.notify_all()
        return take

    def _region_at(self, offset: int) -> _Placed | None:
        index = bisect.bisect_right(self.placed, offset, key=_start) - 1
        if index >= 0 and offset < self.placed[index].end:
            return self.placed[index]
        return None

    def finish(self, size: int) -> None:
        """Every byte has been written: the reader sees the end after `size` bytes."""
        with self.condition:
            self.size = size
            self.condition.notify_all()

    def fail(self, error: BaseException) -> None:
        with self.condition:
            self.failed = error
            self.condition.notify_all()
            self.window_moved.notify_all()

    def announce(self, size: int | None) -> None:
        """The size the server gave, before any byte: a plain tar without its end-of-archive
        blocks is only complete when this many bytes arrived."""
        self.announced = size

    def abandon(self) -> None:
        """After a failure, once no transfer nor the extractor runs: remove the files of
        members not complete, so that none is left looking complete."""
        with self.condition:
            for region in self.placed:
                if region.fate is _Fate.PENDING:
                    if region.remaining:
                        os.close(region.fd)
                    remove_file(region.temp)
                    region.fate = _Fate.ABANDONED

    def abandon_if_ended(self) -> None:
        """`abandon()` if the download has ended (no transfer writes any more); else the
        downloader does it once it has stopped the transfers."""
        if self.size is not None:
            self.abandon()

    def _raise_if_failed(self) -> None:
        if self.failed is not None:
            raise Stopped("the download stopped") from self.failed

    # The reading side (the extractor): what tarfile and the decompressors call.

    def read(self, size: int = -1) -> bytes:
        """Exactly `size` bytes (all the rest for -1), fewer only at the end."""
        parts: list[bytes] = []
        with self.condition:
            while size != 0 and (view := self._head()) is not None:
                part = bytes(view if size < 0 else view[:size])
                parts.append(part)
                self._consume(len(part))
                size -= len(part) if size > 0 else 0
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def peek(self, size: int = 1) -> bytes:
        """Up to `size` bytes at the read position, without consuming them."""
        with self.condition:
            view = self._head()
            return b"" if view is None else bytes(view[:size])

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Forward only: skipping ahead reads and drops the bytes in between."""
        target = offset if whence == io.SEEK_SET else self.position + offset
        if whence not in (io.SEEK_SET, io.SEEK_CUR) or target < self.position:
            raise io.UnsupportedOperation("the download can only be read forward")
        while self.position < target and self.read(min(target - self.position, READ_SIZE)):
            pass
        return self.position

    def place(self, size: int, fd: int, name: str, temp: str, final: str, mtime: float) -> None:
        """The next `size` bytes are the data of member `name`, for the open file `fd` (named
        `temp`): write what has arrived of them now, let the transfers write the rest, and
        move the reader past them. The file is closed when its last byte is written and
        renamed to `final` once `release(final)` was called too. The file is the stream's
        from here: `abandon()` removes it if the extraction fails."""
        with self.condition:
            if self.failed is not None:
                os.close(fd)
                remove_file(temp)
                self._raise_if_failed()
            start, end = self.position, self.position + size
            region = _Placed(start, end, fd, name, temp, final, mtime, size)
            self.placed.append(region)
            for offset in sorted(k for k in self.pieces if start <= k < end):
                view = self.pieces.pop(offset)
                inside = view[: end - offset]
                pwrite_all(fd, inside, offset - start, final)
                if len(view) > len(inside):
                    self.pieces[end] = view[len(inside) :]
                else:
                    self._recycle(view)
                self._written(region, len(inside))
            if size == 0:
                os.close(fd)
            self.position = end
            self.window_moved.notify_all()

    def release(self, final: str) -> None:
        """The extractor set the attributes of the member placed for `final`: rename it
        now if its bytes are all written, else when they are."""
        with self.condition:
            for region in self.placed:
                if region.final == final and region.fate is _Fate.PENDING:
                    region.released = True
                    if region.remaining == 0:
                        self._commit(region)

    def is_pending(self, final: str) -> bool:
        with self.condition:
            return any(r.final == final and r.fate is _Fate.PENDING for r in self.placed)

    def settle(self) -> None:
        """Wait until every placed member's bytes are written; a member still short once the
        download has ended is a truncated archive."""
        with self.condition:
            while short := [r for r in self.placed if r.fate is _Fate.PENDING and r.remaining]:
                self._raise_if_failed()
                if self.size is not None:
                    raise _truncated_inside(short[0], short[0].end - short[0].remaining)
                self.condition.wait(timeout=1)

    def _written(self, region: _Placed, count: int) -> None:
        region.remaining -= count
        if region.remaining == 0:
            os.close(region.fd)
            if region.released:
                self._commit(region)
            self.condition.notify_all()

    def _commit(self, region: _Placed) -> None:
        # The transfers' writes came after tarfile set the mtime: set it again.
        os.utime(region.temp, (region.mtime, region.mtime))
        os.replace(region.temp, region.final)
        region.fate = _Fate.COMMITTED

    def _head(self) -> memoryview | None:
        """The unread bytes at the read position, waiting for them; None at the end."""
        while True:
            self._raise_if_failed()
            if self.size is not None and self.position >= self.size:
                if self.position > self.size:
                    raise self._truncated()
                return None
            view = self.pieces.get(self.position)
            if view is not None:
                return view
            self.condition.wait(timeout=1)

    def _consume(self, count: int) -> None:
        view = self.pieces.pop(self.position)
        chunk_before = self.position // self.chunk
        self.position += count
        if count < len(view):
            self.pieces[self.position] = view[count:]
        else:
            self._recycle(view)
        if self.position // self.chunk != chunk_before:
            self.window_moved.notify_all()

    def _truncated(self) -> ArchiveError:
        """The download ended inside the data of the member placed last."""
        assert self.size is not None
        region = next(r for r in reversed(self.placed) if r.start <= self.size < r.end)
        return _truncated_inside(region, self.size)

    def _recycle(self, view: memoryview) -> None:
        buffer = view.obj
        assert isinstance(buffer, bytearray)
        self.spare.append(buffer)


def _truncated_inside(region: _Placed, reached: int) -> ArchiveError:
    return ArchiveError(
        f"{region.name}: the archive ends inside this member ({reached - region.start} of "
        f"{region.end - region.start} bytes): it is truncated"
    )


def remove_file(path: str) -> None:
    """Remove `path` if it is there."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
