"""File outputs: the worker leaves files on disk; here they become data URLs, or are uploaded
to `--upload-url` and replaced by their URL."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from .. import data_url
from ..runtime.outputs import FILE_MARKER
from .errors import UploadError

if TYPE_CHECKING:
    import httpx

    from .tracing import ServerTracing

UPLOAD_TIMEOUT = 25.0
UPLOAD_PIECE = 1 << 20


class FileBody:
    """A file as an upload body, read a piece at a time in a thread, so that an upload never
    holds the whole file in memory nor blocks the event loop on the disk. Not a generator:
    httpx iterates it again, from the start, when a redirect sends the body once more."""

    def __init__(self, path: str) -> None:
        self.path = path

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with open(self.path, "rb") as file:
            while piece := await asyncio.to_thread(file.read, UPLOAD_PIECE):
                yield piece


class FileResolver:
    """Replaces file markers in an output value."""

    def __init__(
        self,
        upload_url: str | None,
        client: Callable[[], httpx.AsyncClient],
        tracing: ServerTracing | None = None,
    ) -> None:
        self.upload_url = upload_url
        self.client = client
        self.tracing = tracing

    async def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if FILE_MARKER in value and len(value) == 1:
                return await self._file(value[FILE_MARKER])
            return {key: await self.resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [await self.resolve(item) for item in value]
        return value

    async def _file(self, path: str) -> str:
        if not os.path.isfile(path):
            raise UploadError(f"the output file {path} does not exist")
        if self.tracing is None:
            return await self._encode_or_upload(path)
        with self.tracing.output_file(
            os.path.basename(path),
            os.path.getsize(path),
            data_url.guess_media_type(path),
            uploaded=self.upload_url is not None,
        ):
            return await self._encode_or_upload(path)

    async def _encode_or_upload(self, path: str) -> str:
        if self.upload_url is None:
            if os.path.getsize(path) > 1 << 20:
                return await asyncio.to_thread(data_url.encode_file, path)
            return data_url.encode_file(path)
        return await self._upload(path)

    async def _upload(self, path: str) -> str:
        import httpx

        assert self.upload_url is not None
        target = self.upload_url.rstrip("/") + "/" + quote(os.path.basename(path))
        try:
            size = os.path.getsize(path)
            response = await self.client().put(
                target,
                content=FileBody(path),
                # A length, not chunks: signed upload URLs (object stores) refuse chunked bodies.
                headers={
                    "Content-Type": data_url.guess_media_type(path),
                    "Content-Length": str(size),
                },
                timeout=UPLOAD_TIMEOUT,
                follow_redirects=True,
            )
        except httpx.HTTPError as exc:
            raise UploadError(
                f"uploading {os.path.basename(path)} to {target} failed: {exc}"
            ) from None
        if response.status_code >= 300:
            raise UploadError(
                f"uploading {os.path.basename(path)} to {target} failed: HTTP {response.status_code}"
            )
        location = response.headers.get("Location") or str(response.url)
        parts = urlsplit(location)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
