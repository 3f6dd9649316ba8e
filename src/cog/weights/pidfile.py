"""pget's PID file lock: concurrent pget processes run one after another, as pget does."""

from __future__ import annotations

import fcntl
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger("pget")


def default_pid_file() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "pget.pid"
    if sys.platform == "darwin":
        return Path.home() / ".pget.pid"
    run = Path("/run")
    return run / "pget.pid" if os.access(run, os.W_OK) else Path("/tmp/pget.pid")


@contextmanager
def pid_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the PID file; wait (with a warning) while another pget has it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning(
                "Another pget process may be running, use 'pget multifile' to download many "
                "files at once; waiting for it to finish"
            )
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
