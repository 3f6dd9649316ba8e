"""`WeightsCache`: user-supplied weights URLs downloaded once, kept by last use.

Entries live in `<root>/<sha256(url)>` (a file, or a directory for tar archives). Several
processes may ask for one URL at once: a lock file per entry lets one download (to a temporary
name, renamed into place) while the others wait and then reuse it. Before a download, entries
are evicted least recently used first until the configured free space (and size cap) holds;
an entry being downloaded (its lock held) is never evicted.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..types import Secret
from .api import download
from .download import Consumer
from .errors import WeightsError
from .options import DownloadOptions
from .sources import Endpoints, resolve_source

LOCKS = ".locks"


class WeightsCache:
    """Download-once storage for weights URLs (LoRAs, adapters...).

    Example::

        cache = WeightsCache("/src/weights-cache", min_free_bytes=10 * 2**30)
        path = cache.ensure("hf://owner/repo/lora.safetensors", hf_token=token)
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        min_free_bytes: int = 0,
        max_bytes: int | None = None,
        options: DownloadOptions | None = None,
        endpoints: Endpoints | None = None,
    ) -> None:
        self.root = Path(root)
        self.min_free_bytes = min_free_bytes
        self.max_bytes = max_bytes
        self.options = options or DownloadOptions()
        self.endpoints = endpoints or Endpoints()
        (self.root / LOCKS).mkdir(parents=True, exist_ok=True)

    @staticmethod
    def key(url: str) -> str:
        return hashlib.sha256(url.encode()).hexdigest()

    def path_for(self, url: str) -> Path:
        return self.root / self.key(url)

    def ensure(
        self,
        url: str,
        *,
        hf_token: Secret | str | None = None,
        civitai_token: Secret | str | None = None,
    ) -> Path:
        """The local path of `url`'s content, downloading it first if it is not cached."""
        entry = self.path_for(url)
        with self._lock(entry.name):
            if entry.exists():
                self._touch(entry)
                return entry
            source = resolve_source(url, self.endpoints, hf_token, civitai_token)
            self.evict(keep=entry.name)
            options = DownloadOptions(
                **{**self.options.__dict__, "headers": {**self.options.headers, **source.headers}}
            )
            temp = entry.with_name(f".{entry.name}.partial-{os.getpid()}")
            shutil.rmtree(temp, ignore_errors=True)
            consumer: Consumer = "tar-extractor" if source.archive else "file"
            try:
                download(source.url, temp, options, consumer)
                os.replace(temp, entry)
            except BaseException:
                _remove(temp)
                raise
            self._touch(entry)
        # Again once the new entry's size is known, keeping it.
        self.evict(keep=entry.name)
        return entry

    def entries(self) -> list[Path]:
        """Cached entries, least recently used first."""
        found = [p for p in self.root.iterdir() if not p.name.startswith(".")]
        return sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name))

    def evict(self, keep: str | None = None) -> list[Path]:
        """Remove least recently used entries until the free space and size cap hold."""
        removed = []
        for entry in self.entries():
            if self._satisfied():
                break
            if entry.name == keep:
                continue
            with self._try_lock(entry.name) as locked:
                if not locked:
                    continue  # in use by another process right now
                _remove(entry)
                removed.append(entry)
        return removed

    def _satisfied(self) -> bool:
        free_ok = shutil.disk_usage(self.root).free >= self.min_free_bytes
        size_ok = self.max_bytes is None or self.size() <= self.max_bytes
        return free_ok and size_ok

    def size(self) -> int:
        return sum(_size(entry) for entry in self.entries())

    def _touch(self, entry: Path) -> None:
        now = time.time_ns()
        os.utime(entry, ns=(now, now))

    @contextmanager
    def _lock(self, name: str) -> Iterator[None]:
        with open(self.root / LOCKS / name, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def _try_lock(self, name: str) -> Iterator[bool]:
        with open(self.root / LOCKS / name, "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


__all__ = ["WeightsCache", "WeightsError"]
