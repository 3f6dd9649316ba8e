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
import bz2
import copy
import gzip
import io
import itertools
import lzma
import os
import tarfile
import threading
import zlib
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

if TYPE_CHECKING:
    from _typeshed import StrOrBytesPath

from .consumers import pwrite_all
from .errors import ArchiveError, DestinationExists, Stopped, UnsafeArchiveEntry

LZ4_MAGIC = b"\x04\x22\x4d\x18"
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
                    _remove(region.temp)
                    region.fate = _Fate.ABANDONED

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
                _remove(temp)
                self._raise_if_failed()
            start, end = self.position, self.position + size
            region = _Placed(start, end, fd, name, temp, final, mtime, size)
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


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


_temp_names = itertools.count()


def _temp_name(final: str) -> str:
    """A hidden name beside `final`, so that the rename into place is atomic."""
    folder, base = os.path.split(final)
    return os.path.join(folder, f".{base}.pget-{os.getpid()}-{next(_temp_names)}")


class _End(Enum):
    """How the tar's member headers ended."""

    READING = "reading"
    MARKER = "marker"
    """A zero block: tar's end-of-archive marker."""
    NO_MARKER = "no marker"
    """The data ended where a header would be."""
    CUT = "cut"
    """The data ended inside a header."""


class _Member(tarfile.TarInfo):
    """A TarInfo whose reading tells its archive how the headers ended (tarfile stops the
    same way at the end marker as at a plain end of data)."""

    @classmethod
    def fromtarfile(cls, tarfile: tarfile.TarFile) -> _Member:
        archive = cast(_ExtractingTar, tarfile)
        try:
            return super().fromtarfile(tarfile)
        except _EOF_HEADER:
            archive.end = _End.MARKER
            raise
        except _EMPTY_HEADER:
            archive.end = _End.NO_MARKER
            raise
        except _TRUNCATED_HEADER:
            archive.end = _End.CUT
            raise


# tarfile's header errors (not in its stubs).
_EOF_HEADER: type[Exception] = tarfile.EOFHeaderError  # type: ignore[attr-defined]
_EMPTY_HEADER: type[Exception] = tarfile.EmptyHeaderError  # type: ignore[attr-defined]
_TRUNCATED_HEADER: type[Exception] = tarfile.TruncatedHeaderError  # type: ignore[attr-defined]


@dataclass
class _Unreleased:
    temp: str
    placed: bool


class _ExtractingTar(tarfile.TarFile):
    """A tar read forward, whose regular members are written under a temporary name and
    renamed once complete, their size checked against their header.

    From a plain tar (`placing`), a member's data is placed: the transfers write it as it
    arrives. From a decompressed one it is copied here, in blocks of READ_SIZE; runs of
    zeros are left as holes (a gzip bomb of zeros costs no disk). tarfile sets the
    attributes (mode, mtime) on the temporary file; `release()` then renames it."""

    def __init__(self, reader: IO[bytes], stream: ArchiveStream, placing: bool) -> None:
        self.stream, self.placing = stream, placing
        self.end = _End.READING
        self.unreleased: dict[str, _Unreleased] = {}
        super().__init__(fileobj=reader, mode="r", tarinfo=_Member)

    def makefile(self, tarinfo: tarfile.TarInfo, targetpath: StrOrBytesPath) -> None:
        final = os.fsdecode(targetpath)
        if self.placing and self.stream.is_pending(final):
            self.stream.settle()  # an earlier member of the same name must land first
        temp = _temp_name(final)
        if self.placing and tarinfo.sparse is None:
            self.stream.seek(tarinfo.offset_data)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            self.unreleased[final] = _Unreleased(temp, placed=True)
            self.stream.place(tarinfo.size, fd, tarinfo.name, temp, final, tarinfo.mtime)
            return
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            _copy_member(cast(IO[bytes], self.fileobj), fd, tarinfo)
        except BaseException:
            _remove(temp)
            raise
        finally:
            os.close(fd)
        self.unreleased[final] = _Unreleased(temp, placed=False)

    def makelink(self, tarinfo: tarfile.TarInfo, targetpath: StrOrBytesPath) -> None:
        if tarinfo.islnk() and self.placing:
            self.stream.settle()  # the link's target may still be under its temporary name
        super().makelink(tarinfo, targetpath)

    def chown(
        self, tarinfo: tarfile.TarInfo, targetpath: StrOrBytesPath, numeric_owner: bool
    ) -> None:
        super().chown(tarinfo, self._actual(targetpath), numeric_owner)

    def chmod(self, tarinfo: tarfile.TarInfo, targetpath: StrOrBytesPath) -> None:
        super().chmod(tarinfo, self._actual(targetpath))

    def utime(self, tarinfo: tarfile.TarInfo, targetpath: StrOrBytesPath) -> None:
        super().utime(tarinfo, self._actual(targetpath))

    def _actual(self, targetpath: StrOrBytesPath) -> StrOrBytesPath:
        entry = self.unreleased.get(os.fsdecode(targetpath))
        return targetpath if entry is None else entry.temp

    def release(self) -> None:
        """The member just extracted has its attributes: put its file in place (a placed one
        once its last byte is written)."""
        for final, entry in self.unreleased.items():
            if entry.placed:
                self.stream.release(final)
            else:
                os.replace(entry.temp, final)
        self.unreleased.clear()

    def discard(self) -> None:
        """After a failure: remove the copied members not released (placed ones go with
        the stream's `abandon()`)."""
        for entry in self.unreleased.values():
            if not entry.placed:
                _remove(entry.temp)
        self.unreleased.clear()


def _copy_member(source: IO[bytes], fd: int, member: tarfile.TarInfo) -> None:
    """Copy a member's data (its extents, for a sparse one) from the archive into `fd`,
    leaving blocks of zeros as holes; the archive must hold all of it."""
    source.seek(member.offset_data)
    sparse = cast("list[tuple[int, int]] | None", member.sparse)
    extents = sparse if sparse is not None else [(0, member.size)]
    copied = 0
    for offset, length in extents:
        done = 0
        while done < length:
            block = source.read(min(length - done, READ_SIZE))
            if not block:
                raise ArchiveError(
                    f"{member.name}: the archive ends inside this member ({copied} of "
                    f"{member.size} bytes): it is truncated"
                )
            if block != _ZEROS[: len(block)]:
                pwrite_all(fd, memoryview(block), offset + done)
            done += len(block)
            copied += len(block)
    os.ftruncate(fd, member.size)


_ZEROS = bytes(READ_SIZE)


class _Decompressed:
    """A decompressing reader (gzip, bzip2, xz and lz4 all decompress at most what is
    asked, so memory stays bounded whatever the ratio) whose failures are ArchiveErrors."""

    def __init__(self, file: IO[bytes], kind: str) -> None:
        self.file, self.kind = file, kind

    def read(self, size: int = -1) -> bytes:
        try:
            return self.file.read(size)
        except Stopped:
            raise
        except (EOFError, OSError, RuntimeError, ValueError, zlib.error, lzma.LZMAError) as exc:
            raise ArchiveError(f"the {self.kind} stream is corrupt or truncated ({exc})") from None

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Forward only, by reading (tarfile skips the padding after a member's data)."""
        target = offset if whence == io.SEEK_SET else self.tell() + offset
        if whence not in (io.SEEK_SET, io.SEEK_CUR) or target < self.tell():
            raise io.UnsupportedOperation("the archive can only be read forward")
        while self.tell() < target and self.read(min(target - self.tell(), READ_SIZE)):
            pass
        return self.tell()

    def tell(self) -> int:
        return self.file.tell()


def _decompressor(head: bytes, stream: ArchiveStream) -> _Decompressed | None:
    """A decompressing reader over the stream by its first bytes' magic (None: a plain tar)."""
    raw = cast(IO[bytes], stream)  # read/seek/tell are all the decompressors use
    if head.startswith(b"\x1f\x8b"):
        return _Decompressed(cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb")), "gzip")
    if head.startswith(b"BZh"):
        return _Decompressed(cast(IO[bytes], bz2.BZ2File(raw)), "bzip2")
    if head.startswith(b"\xfd7zXZ\x00"):
        return _Decompressed(cast(IO[bytes], lzma.LZMAFile(raw)), "xz")
    if head.startswith(LZ4_MAGIC):
        import lz4.frame  # type: ignore[import-untyped]

        return _Decompressed(cast(IO[bytes], lz4.frame.LZ4FrameFile(raw, "rb")), "lz4")
    return None


def extract_stream(stream: ArchiveStream, target: Path, force: bool) -> int:
    """Extract a tar as it streams in, refusing entries that would escape `target`; a
    member is only ever seen under its name complete."""
    if target.exists() and not target.is_dir():
        raise DestinationExists(f"{target} is a file: -x extracts into a directory, give one")
    target.mkdir(parents=True, exist_ok=True)
    decompressed = _decompressor(stream.peek(6), stream)
    reader = cast(IO[bytes], decompressed or stream)
    try:
        archive = _ExtractingTar(reader, stream, placing=decompressed is None)
    except tarfile.ReadError as exc:
        raise _not_a_tar(exc, decompressed) from None
    count = 0
    try:
        for member in archive:
            _check_member(member, target)
            destination = target / member.name
            if destination.exists() and not force and not member.isdir():
                raise UnsafeArchiveEntry(
                    f"{member.name}: {destination} already exists (use --force to overwrite)"
                )
            _extract_member(archive, member, target)
            archive.release()
            count += 1
        _check_end(archive, stream)
        if decompressed is not None:
            while decompressed.read(READ_SIZE):
                pass  # to the compressed stream's end, which checks its length and checksum
        stream.settle()
    except tarfile.TarError as exc:
        if str(exc) == "unexpected end of data":
            raise ArchiveError("the archive ends inside a member: it is truncated") from None
        raise ArchiveError(f"the archive is corrupt ({exc})") from None
    finally:
        archive.discard()
    return count


def _not_a_tar(error: tarfile.ReadError, decompressed: _Decompressed | None) -> ArchiveError:
    inside = f" inside the {decompressed.kind} stream" if decompressed else ""
    if str(error) == "empty file":
        return ArchiveError(f"the archive is empty (no bytes{inside})")
    return ArchiveError(f"not a tar archive{inside} ({error})")


def _check_end(archive: _ExtractingTar, stream: ArchiveStream) -> None:
    """A plain tar cut at a header boundary looks like a shorter archive to tarfile; without
    a size from the server only the end-of-archive marker tells it is complete."""
    if archive.end is _End.CUT:
        raise ArchiveError("the archive ends inside a member's header: it is truncated")
    if archive.end is _End.NO_MARKER and archive.placing and stream.announced is None:
        raise ArchiveError(
            "the archive ends without tar's end-of-archive marker and the server gave no "
            "size to check it against: it is truncated"
        )


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
