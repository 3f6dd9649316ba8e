"""`data:` URLs (RFC 2397): one reading and one writing of the format.

The SDK reads them as URL inputs, the server writes output files as them when it has nowhere
to upload, and the CLI writes `-i name=@file` inputs as them and reads outputs back.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import os
import urllib.parse

PREFIX = "data:"
DEFAULT_MEDIA_TYPE = "text/plain"  # RFC 2397's, for a URL that declares none
# A multiple of 3 bytes: the base64 of the pieces, joined, is that of the whole.
_BASE64_PIECE = 3 << 20


def is_data_url(value: object) -> bool:
    """Whether a value is a `data:` URL (with the comma that ends its header)."""
    return isinstance(value, str) and value.startswith(PREFIX) and "," in value


def media_type(url: str) -> str:
    """The media type a `data:` URL declares (`text/plain` when it declares none)."""
    header = url[len(PREFIX) :].split(",", 1)[0]
    return header.split(";", 1)[0].strip() or DEFAULT_MEDIA_TYPE


def decode(url: str) -> bytes:
    """The bytes a `data:` URL carries, base64 or percent-encoded (ValueError if malformed)."""
    try:
        header, payload = url[len(PREFIX) :].split(",", 1)
    except ValueError:
        raise ValueError(f"malformed data URL (no comma): {url[:40]!r}...") from None
    if header.endswith(";base64"):
        try:
            return base64.b64decode(payload, validate=False)
        except binascii.Error as exc:
            raise ValueError(f"malformed base64 in data URL: {exc}") from None
    return urllib.parse.unquote_to_bytes(payload)


def guess_media_type(path: str | os.PathLike[str]) -> str:
    """A file's media type from its name (`application/octet-stream` when unknown)."""
    return mimetypes.guess_type(os.fspath(path))[0] or "application/octet-stream"


def encode(data: bytes, media: str) -> str:
    """Bytes as a base64 `data:` URL of the given media type."""
    return f"{PREFIX}{media};base64,{base64.b64encode(data).decode('ascii')}"


def encode_file(path: str | os.PathLike[str], media: str | None = None) -> str:
    """A file as a base64 `data:` URL (OSError if it cannot be read).

    Read and encoded piece by piece: one b64encode of a big file holds the GIL (and so, in the
    server, the event loop, though this runs in a thread) for as long as it takes.
    """
    pieces = [f"{PREFIX}{media or guess_media_type(path)};base64,"]
    with open(path, "rb") as file:
        while piece := file.read(_BASE64_PIECE):
            pieces.append(binascii.b2a_base64(piece, newline=False).decode("ascii"))
    return "".join(pieces)
