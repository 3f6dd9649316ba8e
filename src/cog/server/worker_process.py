"""Starting the worker process. Stdlib only: `python -m cog.server.http` starts the worker
before it imports the HTTP stack, so that both boot at the same time."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass

from .. import envvars
from .settings import ServerSettings


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    sock: socket.socket
    """The server's end of the socketpair."""


def spawn_worker(settings: ServerSettings) -> WorkerProcess:
    parent, child = socket.socketpair()
    command = [
        sys.executable, "-m", "cog.runtime.worker", "--fd", str(child.fileno()),
        "--ref", str(settings.ref), "--mode", settings.mode,
        "--concurrency", str(settings.concurrency),
    ]  # fmt: skip
    if settings.other_ref:
        command += ["--other-ref", settings.other_ref]
    if settings.tracing is not None:
        command += ["--tracing", settings.tracing.to_json()]
    # The worker ends with this server, however the server ends (see cog.runtime.lifeline).
    env = {**os.environ, envvars.PARENT_PID.name: str(os.getpid())}
    process = subprocess.Popen(
        command, cwd=settings.project_dir, env=env, pass_fds=(child.fileno(),)
    )
    child.close()
    return WorkerProcess(process, parent)
