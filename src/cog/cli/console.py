"""The CLI's one console: status and warnings on stderr, results on stdout."""

from __future__ import annotations

import sys
from collections.abc import Callable

from rich.console import Console

from .. import envvars

stderr = Console(
    stderr=True, highlight=False, soft_wrap=True, no_color=envvars.NO_COLOR.get() is not None
)


def say(message: str) -> None:
    """A status line for the user (stderr, so stdout stays the prediction's output)."""
    stderr.print(message, markup=False)


def warn(message: str) -> None:
    stderr.print(f"[yellow]{message}[/yellow]" if stderr.is_terminal else message, markup=True)


def quiet_reporter(_: str) -> None:
    """A reporter that shows nothing (`--progress quiet`)."""


def reporter(progress: str) -> Callable[[str], None]:
    """The callable that shows progress lines for `--progress auto|plain|quiet`."""
    return quiet_reporter if progress == "quiet" else say


def write_stdout(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
