"""Running a command in the foreground (`cog exec`), so that it does not outlive the CLI."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

from ..runtime.lifeline import set_parent_death_signal
from .signals import signal_of

# Ctrl-C in a terminal reaches the command too: it gets a moment to end by itself first.
SIGINT_GRACE_SECONDS = 1.0
STOP_GRACE_SECONDS = 5.0


def run_foreground(
    argv: list[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    after_stop: Callable[[], None] | None = None,
) -> int:
    """Run `argv` attached to the terminal and return its exit status.

    When the CLI is stopped by a signal, the command gets that signal, then SIGKILL if it has
    not ended within a few seconds, and `after_stop` runs; when the CLI is killed, the kernel
    sends the command SIGTERM (Linux)."""
    process = subprocess.Popen(argv, cwd=cwd, env=env, preexec_fn=_term_with_parent)
    try:
        return process.wait()
    except KeyboardInterrupt as interrupt:
        _stop(process, signal_of(interrupt))
        if after_stop is not None:
            after_stop()
        raise


def _term_with_parent() -> None:
    set_parent_death_signal(signal.SIGTERM)


def _stop(process: subprocess.Popen[bytes], signum: int) -> None:
    if signum == signal.SIGINT:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=SIGINT_GRACE_SECONDS)
    if process.poll() is None:
        process.send_signal(signum)
    try:
        process.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
