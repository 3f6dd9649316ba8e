"""Types that predictors use in their signatures: files, secrets and streaming outputs.

- `Path`: a local file; as an input it also accepts `http(s)://` and `data:` URLs, which are
  downloaded before the prediction starts.
- `URLPath`: the not-yet-downloaded form of such a URL input.
- `File` / `URLFile`: the older file-object form of file inputs (prefer `Path`).
- `Secret`: a string that never shows itself in reprs, logs or error messages.
- `ConcatenateIterator` / `AsyncConcatenateIterator`: streamed text whose chunks join into one
  string.
"""

from __future__ import annotations

import io
import mimetypes
import os
import pathlib
import shutil
import sys
import tempfile
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, TypeAlias, TypeVar

from . import envvars
from .data_url import decode as decode_data_url
from .data_url import media_type as data_url_mime_type

FILENAME_MAX_BYTES = 200
_UNSAFE_FILENAME_CHARS = ("\x00", "/")
_URL_SCHEMES = ("http", "https")
DOWNLOAD_TIMEOUT_SECONDS = 10.0


# ---------------------------------------------------------------------------------------------
# Filenames of URL inputs
# ---------------------------------------------------------------------------------------------


def _truncate_filename(filename: str, max_bytes: int = FILENAME_MAX_BYTES) -> str:
    """Shorten a filename to `max_bytes` of UTF-8, keeping its extension: `name~.ext`."""
    if len(filename.encode()) <= max_bytes:
        return filename
    stem, ext = os.path.splitext(filename)
    room = max_bytes - len(ext.encode()) - 1
    stem = stem.encode()[:room].decode(errors="ignore")
    return f"{stem}~{ext}"


def get_filename(url: str) -> str:
    """The filename a URL input is saved under: its path's basename, made safe."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "data":
        ext = mimetypes.guess_extension(data_url_mime_type(url)) or ""
        return "file" + ext
    name = urllib.parse.unquote_plus(os.path.basename(parsed.path))
    name = _truncate_filename(name)
    for char in _UNSAFE_FILENAME_CHARS:
        name = name.replace(char, "_")
    return name


def open_url(url: str, timeout: float = DOWNLOAD_TIMEOUT_SECONDS) -> IO[bytes]:
    """Open an `http(s)://` or `data:` URL for reading, sending `$COG_USER_AGENT` if set."""
    if url.startswith("data:"):
        return io.BytesIO(decode_data_url(url))
    import urllib.request  # on first download: slow to import, and most models never need it

    headers = {}
    if user_agent := envvars.USER_AGENT.get():
        headers["User-Agent"] = user_agent
    from .url_guard import open_checked

    return open_checked(urllib.request.Request(url, headers=headers), timeout)


# ---------------------------------------------------------------------------------------------
# Secret
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Secret:
    """A string that masks itself: `str()` gives `**********`, `repr()` `Secret(**********)`.

    Call `get_secret_value()` to read it.
    """

    secret_value: str | None = None

    def __repr__(self) -> str:
        return f"Secret({self})"

    def __str__(self) -> str:
        return "" if self.secret_value is None else "**********"

    def get_secret_value(self) -> str | None:
        """The real value."""
        return self.secret_value


# ---------------------------------------------------------------------------------------------
# File and URLFile (the older, file-object form of file inputs)
# ---------------------------------------------------------------------------------------------


class URLFile(io.IOBase):
    """A file object that opens its `http(s)://` URL on first use; survives pickling."""

    def __init__(self, url: str, filename: str | None = None) -> None:
        scheme = urllib.parse.urlparse(url).scheme
        if scheme not in _URL_SCHEMES:
            raise ValueError(f"URLFile needs an http:// or https:// URL, got {scheme!r}")
        self.url = url
        self.name = filename or os.path.basename(urllib.parse.urlparse(url).path)
        self._response: IO[bytes] | None = None

    def _target(self) -> IO[bytes]:
        if self._response is None:
            self._response = open_url(self.url)
        return self._response

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        return self._target().read(-1 if size is None else size)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._target())

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
        super().close()

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url, "name": self.name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.url = state["url"]
        self.name = state["name"]
        self._response = None

    def __repr__(self) -> str:
        return f"<URLFile for {self.url!r}>"


class File(io.IOBase):
    """Deprecated form of a file input (use `Path`): the predictor receives a file object."""

    @classmethod
    def validate(cls, value: Any) -> io.IOBase:
        """Turn an input value (file object, `data:` or `http(s)://` URL) into a file object."""
        if isinstance(value, io.IOBase):
            return value
        scheme = urllib.parse.urlparse(str(value)).scheme
        if scheme == "data":
            return io.BytesIO(decode_data_url(str(value)))
        if scheme in _URL_SCHEMES:
            return URLFile(str(value))
        raise ValueError(
            f"{scheme!r} is not a valid URL scheme for a File input: use data:, http:// or https://"
        )


# ---------------------------------------------------------------------------------------------
# Path and URLPath
# ---------------------------------------------------------------------------------------------


class Path(pathlib.PosixPath):
    """A file path. As an input it also takes `http(s)://` and `data:` URLs (downloaded to a
    temporary file before the prediction runs); as an output, the file is sent to the client."""

    @classmethod
    def validate(cls, value: Any) -> pathlib.Path:
        """Turn an input value into a path: URLs become a `URLPath` to download."""
        if isinstance(value, pathlib.Path):
            return value
        text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
        if is_url(text):
            return URLPath(source=text, filename=get_filename(text))
        return Path(text)


def is_url(text: str) -> bool:
    """Whether a file input's value is a URL it can be fetched from (`http(s)://`, `data:`)."""
    scheme = urllib.parse.urlparse(text).scheme
    return scheme == "data" or scheme in _URL_SCHEMES


class URLPath(pathlib.PosixPath):
    """A URL given for a `Path` input, not downloaded yet. `convert()` downloads it once to a
    temporary file and returns that file's `Path`; `str()` is the URL."""

    source: str
    filename: str
    _downloaded: Path | None

    def __new__(cls, *, source: str, filename: str, fileobj: IO[bytes] | None = None) -> URLPath:
        return super().__new__(cls, _truncate_filename(filename) or "file")

    def __init__(self, *, source: str, filename: str, fileobj: IO[bytes] | None = None) -> None:
        if sys.version_info >= (3, 12):  # PurePath takes its segments in __init__ from 3.12 on
            super().__init__(_truncate_filename(filename) or "file")
        self.source = source
        self.filename = _truncate_filename(filename) or "file"
        self.fileobj = fileobj
        self._downloaded = None

    def convert(self, directory: str | None = None) -> Path:
        """Download the URL (once) into `directory` (default: the system temp dir)."""
        if self._downloaded is None:
            source = self.fileobj if self.fileobj is not None else open_url(self.source)
            with (
                source,
                tempfile.NamedTemporaryFile(
                    suffix=self.filename, dir=directory, delete=False
                ) as dest,
            ):
                shutil.copyfileobj(source, dest, 1024 * 1024)
            self._downloaded = Path(dest.name)
        return self._downloaded

    def unlink(self, missing_ok: bool = False) -> None:
        """Remove the downloaded copy, if any."""
        if self._downloaded is not None:
            self._downloaded.unlink(missing_ok=missing_ok)

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return f"URLPath({self.source[:80]!r})"


# ---------------------------------------------------------------------------------------------
# Streaming outputs
# ---------------------------------------------------------------------------------------------

Item = TypeVar("Item")

if TYPE_CHECKING:
    # For type checkers these are the plain iterator types, so that a generator function
    # annotated `-> ConcatenateIterator[str]` type-checks (a generator is not a subclass of
    # the marker classes below).
    ConcatenateIterator: TypeAlias = Iterator
    AsyncConcatenateIterator: TypeAlias = AsyncIterator
else:

    class ConcatenateIterator(Iterator[Item]):
        """Return type of a generator whose string chunks join into one text (LLM tokens)."""

    class AsyncConcatenateIterator(AsyncIterator[Item]):
        """Async form of `ConcatenateIterator`."""
