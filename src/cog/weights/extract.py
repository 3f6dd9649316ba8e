"""`pget -x`: extracting a tar while it downloads, with no copy of the archive on disk.

The tar is read forward from an `ArchiveStream` (archive_stream.py): a plain tar's members
are placed (the transfers write their data), a compressed one's are copied out of a
decompressor that never inflates more than one read asks (bounded memory whatever the ratio).
No member is ever seen under its name before it is complete: each is written under a
temporary name beside it and renamed once its size matches its header; a failure removes it.
The end is checked too: the compressed stream's end and checksum, and for a plain tar the
end-of-archive marker or the size the server announced. Entries that would escape the
target are refused, on every Python (the extraction filters exist from 3.11.4).
"""

from __future__ import annotations

import bz2
import copy
import gzip
import io
import itertools
import lzma
import os
import tarfile
import zlib
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

if TYPE_CHECKING:
    from _typeshed import StrOrBytesPath

from .archive_stream import READ_SIZE, ArchiveStream, remove_file
from .consumers import cannot_write, pwrite_all
from .errors import ArchiveError, DestinationExists, Stopped, UnsafeArchiveEntry

LZ4_MAGIC = b"\x04\x22\x4d\x18"


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
            archive.headers_end = _End.MARKER
            raise
        except _EMPTY_HEADER:
            archive.headers_end = _End.NO_MARKER
            raise
        except _TRUNCATED_HEADER:
            archive.headers_end = _End.CUT
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

    From a plain tar (`places_data`), a member's data is placed: the transfers write it as
    it arrives. From a decompressed one it is copied here, in blocks of READ_SIZE; runs of
    zeros are left as holes (a gzip bomb of zeros costs no disk). tarfile sets the
    attributes (mode, mtime) on the temporary file; `release()` then renames it."""

    def __init__(self, reader: IO[bytes], stream: ArchiveStream, placing: bool) -> None:
        self.downloaded, self.places_data = stream, placing
        self.headers_end = _End.READING
        self.unreleased: dict[str, _Unreleased] = {}
        super().__init__(fileobj=reader, mode="r", tarinfo=_Member)

    def makefile(self, tarinfo: tarfile.TarInfo, targetpath: StrOrBytesPath) -> None:
        final = os.fsdecode(targetpath)
        if self.places_data and self.downloaded.is_pending(final):
            self.downloaded.settle()  # an earlier member of the same name must land first
        temp = _temp_name(final)
        if self.places_data and tarinfo.sparse is None:
            self.downloaded.seek(tarinfo.offset_data)
            fd = _create(temp, final)
            self.unreleased[final] = _Unreleased(temp, placed=True)
            self.downloaded.place(tarinfo.size, fd, tarinfo.name, temp, final, tarinfo.mtime)
            return
        fd = _create(temp, final)
        try:
            _copy_member(cast(IO[bytes], self.fileobj), fd, tarinfo, final)
        except BaseException:
            remove_file(temp)
            raise
        finally:
            os.close(fd)
        self.unreleased[final] = _Unreleased(temp, placed=False)

    def makelink(self, tarinfo: tarfile.TarInfo, targetpath: StrOrBytesPath) -> None:
        if tarinfo.islnk() and self.places_data:
            self.downloaded.settle()  # the link's target may still be under its temporary name
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
                self.downloaded.release(final)
            else:
                os.replace(entry.temp, final)
        self.unreleased.clear()

    def discard(self) -> None:
        """After a failure: remove the copied members not released (placed ones go with
        the stream's `abandon()`)."""
        for entry in self.unreleased.values():
            if not entry.placed:
                remove_file(entry.temp)
        self.unreleased.clear()


def _create(temp: str, final: str) -> int:
    try:
        return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise cannot_write(final, exc) from None


def _copy_member(source: IO[bytes], fd: int, member: tarfile.TarInfo, final: str) -> None:
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
                pwrite_all(fd, memoryview(block), offset + done, final)
            done += len(block)
            copied += len(block)
    try:
        os.ftruncate(fd, member.size)
    except OSError as exc:
        raise cannot_write(final, exc) from None


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
    try:
        return _extract_members(archive, decompressed, target, force)
    except BaseException as exc:
        archive.discard()
        stream.abandon_if_ended()
        if isinstance(exc, tarfile.TarError):
            raise _corrupt(exc) from None
        raise


def _extract_members(
    archive: _ExtractingTar, decompressed: _Decompressed | None, target: Path, force: bool
) -> int:
    count = 0
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
    _check_end(archive)
    if decompressed is not None:
        while decompressed.read(READ_SIZE):
            pass  # to the compressed stream's end, which checks its length and checksum
    archive.downloaded.settle()
    return count


def _corrupt(error: tarfile.TarError) -> ArchiveError:
    if str(error) == "unexpected end of data":
        return ArchiveError("the archive ends inside a member: it is truncated")
    return ArchiveError(f"the archive is corrupt ({error})")


def _not_a_tar(error: tarfile.ReadError, decompressed: _Decompressed | None) -> ArchiveError:
    inside = f" inside the {decompressed.kind} stream" if decompressed else ""
    if str(error) == "empty file":
        return ArchiveError(f"the archive is empty (no bytes{inside})")
    return ArchiveError(f"not a tar archive{inside} ({error})")


def _check_end(archive: _ExtractingTar) -> None:
    """A plain tar cut at a header boundary looks like a shorter archive to tarfile; without
    a size from the server only the end-of-archive marker tells it is complete."""
    if archive.headers_end is _End.CUT:
        raise ArchiveError("the archive ends inside a member's header: it is truncated")
    if (
        archive.headers_end is _End.NO_MARKER
        and archive.places_data
        and archive.downloaded.announced is None
    ):
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
