"""Progress of downloads: a bar per file with rate and ETA on a terminal, plain lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger("pget")
PLAIN_INTERVAL_SECONDS = 5.0

Factory = Callable[[str, Path | None], Callable[[int], None]]


@contextmanager
def progress_display(enabled: bool = True) -> Iterator[Factory]:
    """A factory of per-file progress callbacks, shown as bars on a TTY, else as log lines."""
    if not enabled:
        yield lambda _url, _dest: lambda _n: None
    elif sys.stderr.isatty():
        # Imported here: rich costs a noticeable part of a short download's start-up.
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            transient=False,
        ) as bars:

            def bar(url: str, dest: Path | None) -> Callable[[int], None]:
                task = bars.add_task(str(dest.name if dest else url.rsplit("/", 1)[-1]), total=None)
                return lambda count: bars.advance(task, count)

            yield bar
    else:
        yield _plain


def _plain(url: str, dest: Path | None) -> Callable[[int], None]:
    state = {"bytes": 0, "last": time.monotonic(), "start": time.monotonic()}
    name = str(dest) if dest else url

    def advance(count: int) -> None:
        state["bytes"] += count
        now = time.monotonic()
        if now - state["last"] >= PLAIN_INTERVAL_SECONDS:
            rate = state["bytes"] / max(now - state["start"], 1e-9)
            log.info("%s: %.1f MB at %.1f MB/s", name, state["bytes"] / 1e6, rate / 1e6)
            state["last"] = now

    return advance
