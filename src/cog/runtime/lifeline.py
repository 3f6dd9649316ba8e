"""Ending with the process that started us, even when it dies by SIGKILL. Stdlib only.

The CLI starts the server with PYCOG_PARENT_PID (its own pid) or, in a container, with
PYCOG_EXIT_ON_STDIN_EOF and a pipe it holds as stdin; the server starts its worker with
PYCOG_PARENT_PID too. A parent that dies without a word is noticed twice over:

- on Linux, by the kernel's parent-death signal (prctl PR_SET_PDEATHSIG), set at start;
- anywhere, by a daemon thread that polls the parent pid (or reads stdin to its end).

    expected_parent() -> int | None          # read and removed from os.environ
    die_with_parent(pid, signal, on_gone)    # signal from the kernel + on_gone from a thread
    exit_on_stdin_eof(on_eof)                # when PYCOG_EXIT_ON_STDIN_EOF is set
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

from .. import envvars

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
POLL_SECONDS = 0.5


def expected_parent() -> int | None:
    """The pid this process must not outlive, taken out of the environment so that what the
    model starts does not inherit a parent that is not its own."""
    value = os.environ.pop(envvars.PARENT_PID.name, "")
    return int(value) if value.isdigit() else None


def die_with_parent(pid: int, sig: int, on_gone: Callable[[], None]) -> None:
    """Get `sig` from the kernel when the parent dies (Linux), and call `on_gone` from a daemon
    thread once `pid` is no longer our parent (at once if it already is not)."""
    set_parent_death_signal(sig)
    threading.Thread(target=_poll, args=(pid, on_gone), daemon=True, name="parent").start()


def exit_on_stdin_eof(on_eof: Callable[[], None]) -> None:
    """Call `on_eof` once stdin is closed, if PYCOG_EXIT_ON_STDIN_EOF asks for it: a container
    whose `docker run -i` client ended (its parent, the CLI, killed) gets EOF on stdin."""
    if not envvars.EXIT_ON_STDIN_EOF.get():
        return
    os.environ.pop(envvars.EXIT_ON_STDIN_EOF.name, None)
    threading.Thread(target=_read_to_end, args=(on_eof,), daemon=True, name="stdin").start()


def set_parent_death_signal(sig: int) -> bool:
    """Ask the kernel for `sig` when our parent (the thread that started us) ends; Linux only."""
    return _prctl(PR_SET_PDEATHSIG, sig)


def term_with_parent() -> None:
    """A subprocess `preexec_fn`: the child gets SIGTERM when the process that started it dies
    (even by SIGKILL), so a build or download never outlives the CLI that asked for it."""
    set_parent_death_signal(signal.SIGTERM)


def adopt_orphans() -> bool:
    """Become the parent of every orphaned descendant (a child subreaper, Linux only), so that
    what a command left running in the background can still be found and stopped."""
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


def children() -> list[int]:
    """The pids whose parent is this process (adopted orphans included)."""
    found = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == str(me):
            found.append(int(entry))
    return found


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(option, value, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _poll(pid: int, on_gone: Callable[[], None]) -> None:
    # Re-parented (to init or a subreaper) once the parent is gone; checked after the prctl
    # above, so a parent that died before it was set is noticed too.
    while os.getppid() == pid:
        time.sleep(POLL_SECONDS)
    on_gone()


def _read_to_end(on_eof: Callable[[], None]) -> None:
    with contextlib.suppress(OSError):
        while os.read(0, 65536):
            pass
    on_eof()
