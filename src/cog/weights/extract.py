"""`pget -x`: extracting a tar while it downloads, with no copy of the archive on disk.

Chunks arrive from the transfer threads in any order; tar needs its bytes in order. The
`ArchiveStream` holds pieces that arrived ahead of the reader (a bounded window of them) and
serves them in order to tarfile. For a plain tar, once tarfile has read a member's header the
member's data needs no order at all: its bytes are *placed*, each transfer thread writing its
pieces straight into the member's file at their offset, like a plain download. So a tar of a
few large weight files extracts as fast as a file downloads, and memory holds only the bytes
of headers not parsed yet. Compressed tars go through tarfile's streaming mode in order.
"""

from __future__ import annotations

import bisect
import copy
import io
import os
import tarfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

if TYPE_CHECKING:
    from _typeshed import StrOrBytesPath

from .consumers import pwrite_all
from .errors import Stopped, UnsafeArchiveEntry

LZ4_MAGIC = b"\x04\x22\x4d\x18"
COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")
READ_SIZE = 1 << 20
"""Reads of compressed archives and writes of their members: large, to keep tarfile cheap."""
PIECE_SIZE = 512 * 1024


@dataclass
class _Placed:
    """Archive bytes [start, end) belong to an open file, at offset (archive offset - start)."""

    start: int
    end: int
    fd: int
    path: str
    mtime: float
    remaining: int


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
            pwrite_all(region.fd, data[:take], offset - region.start)
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

    def close_files(self) -> None:
        """After a failure, once no transfer runs: close the files still being written."""
        with self.condition:
            for region in self.placed:
                if region.remaining:
                    os.close(region.fd)
                    region.remaining = 0

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

    def place(self, size: int, fd: int, path: str, mtime: float) -> None:
        """The next `size` bytes are a member's data for the open file `fd`: write what has
        arrived of them now, let the transfers write the rest, and move the reader past them.
        The file is closed (and its mtime set) when its last byte is written."""
        with self.condition:
            start, end = self.position, self.position + size
            region = _Placed(start, end, fd, path, mtime, size)
            self.placed.append(region)
            for offset in sorted(k for k in self.pieces if start <= k < end):
                view = self.pieces.pop(offset)
                inside = view[: end - offset]
                pwrite_all(fd, inside, offset - start)
                if len(view) > len(inside):
                    self.pieces[end] = view[len(inside) :]
                else:
                    self._recycle(view)
                self._written(region, len(inside))
            if size == 0:
                self._complete(region)
            self.position = end
            self.window_moved.notify_all()

    def _written(self, region: _Placed, count: int) -> None:
        region.remaining -= count
        if region.remaining == 0:
            self._complete(region)

    def _complete(self, region: _Placed) -> None:
        os.close(region.fd)
        os.utime(region.path, (region.mtime, region.mtime))

    def _head(self) -> memoryview | None:
        """The unread bytes at the read position, waiting for them; None at the end."""
        while True:
            if self.failed is not None:
                raise OSError("download failed") from self.failed
            if self.size is not None and self.position >= self.size:
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

    def _recycle(self, view: memoryview) -> None:
        buffer = view.obj
        assert isinstance(buffer, bytearray)
        self.spare.append(buffer)


class _PlacingTar(tarfile.TarFile):
    """A plain tar read forward from an ArchiveStream; each member's data is placed (written
    by the transfers as it arrives) instead of copied through tarfile."""

    def makefile(self, tarinfo: tarfile.TarInfo, targetpath: StrOrBytesPath) -> None:
        if tarinfo.sparse is not None:
            super().makefile(tarinfo, targetpath)
            return
        stream = cast(ArchiveStream, self.fileobj)
        stream.seek(tarinfo.offset_data)
        fd = os.open(targetpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        stream.place(tarinfo.size, fd, os.fsdecode(targetpath), tarinfo.mtime)


def open_archive(stream: ArchiveStream) -> tarfile.TarFile:
    """A tar reader over the stream: a plain tar places its members' data; compressed ones
    (gzip, bzip2, xz sniffed by tarfile, lz4 by its magic) go through tarfile's streaming mode."""
    head = stream.peek(6)
    file = cast(IO[bytes], stream)  # read/seek/tell are all tarfile uses of a reader
    if head.startswith(LZ4_MAGIC):
        import lz4.frame  # type: ignore[import-untyped]

        return tarfile.open(
            fileobj=lz4.frame.LZ4FrameFile(file, "rb"), mode="r|", bufsize=READ_SIZE
        )
    if head.startswith(COMPRESSED_MAGIC):
        return tarfile.open(fileobj=file, mode="r|*", bufsize=READ_SIZE)
    return _PlacingTar.open(fileobj=file, mode="r:")


def extract_stream(stream: ArchiveStream, target: Path, force: bool) -> int:
    """Extract a tar as it streams in, refusing entries that would escape `target`."""
    target.mkdir(parents=True, exist_ok=True)
    count = 0
    with open_archive(stream) as archive:
        archive.copybufsize = READ_SIZE  # type: ignore[attr-defined]
        for member in archive:
            _check_member(member, target)
            destination = target / member.name
            if destination.exists() and not force and not member.isdir():
                raise UnsafeArchiveEntry(
                    f"{member.name}: {destination} already exists (use --force to overwrite)"
                )
            _extract_member(archive, member, target)
            count += 1
    return count


def _extract_member(archive: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    """Extract one checked member as tarfile's "data" filter would: where the filters exist
    (3.11.4+) by them, before that with the attributes the filter would give it."""
    if not hasattr(tarfile, "data_filter"):
        archive.extract(_as_data(member), target, numeric_owner=True)
        return
    try:
        archive.extract(member, target, filter="data")
    except tarfile.FilterError as exc:
        raise UnsafeArchiveEntry(f"{member.name}: refused ({exc})") from None


def _as_data(member: tarfile.TarInfo) -> tarfile.TarInfo:
    """A copy of a member with the "data" filter's attributes, for a Python without filters:
    no setuid/setgid/sticky bits nor group/other write, owner read+write on files, the
    extracting user's ownership (no chown to the archive's ids)."""
    data = copy.copy(member)
    mode = member.mode & 0o755
    if member.isreg() or member.islnk():
        if not mode & 0o100:
            mode &= ~0o111
        mode |= 0o600
    elif member.isdir():
        # The filter keeps the default mode of a new directory; the owner must be able to fill it.
        mode |= 0o700
    data.mode = mode
    data.uid, data.gid, data.uname, data.gname = os.getuid(), os.getgid(), "", ""
    return data


def _check_member(member: tarfile.TarInfo, target: Path) -> None:
    """The "data" filter's refusals, checked on every Python (the filters only exist from
    3.11.4): special files, names and links that land outside `target`, also through a link
    an earlier entry (or the existing target) put on the way."""
    name = member.name
    if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        raise UnsafeArchiveEntry(f"{name}: device and FIFO entries are refused")
    root = target.resolve()
    if name.startswith("/") or ".." in Path(name).parts:
        raise UnsafeArchiveEntry(f"{name}: the entry would be written outside {target}")
    if not (root / name).resolve().is_relative_to(root):
        raise UnsafeArchiveEntry(f"{name}: the entry would be written outside {target}")
    if member.issym() or member.islnk():
        base = (root / name).parent if member.issym() else root
        resolved = (base / member.linkname).resolve()
        if member.linkname.startswith("/") or not resolved.is_relative_to(root):
            raise UnsafeArchiveEntry(f"{name}: link to {member.linkname} points outside {target}")
