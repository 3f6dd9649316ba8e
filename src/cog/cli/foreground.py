"""Running a command in the foreground (`cog exec`), so that it does not outlive the CLI."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from ..runtime.lifeline import adopt_orphans, children, term_with_parent
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
    sends the command SIGTERM (Linux). What the command left running (`sh -c "server &"`, a
    grandchild of a shell that was stopped) is adopted by the CLI and stopped when it ends."""
    adopt_orphans()
    process = subprocess.Popen(argv, cwd=cwd, env=env, preexec_fn=term_with_parent)
    try:
        return process.wait()
    except KeyboardInterrupt as interrupt:
        _stop(process, signal_of(interrupt))
        if after_stop is not None:
            after_stop()
        raise
    finally:
        _stop_orphans()


def _stop_orphans() -> None:
    """SIGTERM what is left of the command's tree, SIGKILL what outlives the grace; reap all."""
    left = children()
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while left and time.monotonic() < deadline:
        left = [pid for pid in left if not _reaped(pid)]
        time.sleep(0.05)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    if children():  # adopted while we were stopping the others
        _stop_orphans()


def _reaped(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == pid


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
