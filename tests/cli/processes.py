"""Real processes for the CLI's tests: start `cog` in its own process group, see its tree in
/proc, wait (bounded) for that tree to be gone, and always clean up what was started."""

from __future__ import annotations

import codecs
import contextlib
import os
import selectors
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .conftest import CACHE, cog_executable

GONE_TIMEOUT = 20.0
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Proc:
    """One process, told apart from a later one with the same pid by its start time."""

    pid: int
    started: str

    def alive(self) -> bool:
        stat = _stat(self.pid)
        # A zombie has ended; only its parent's wait is missing.
        return stat is not None and stat[19] == self.started and stat[0] != "Z"

    def kill(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid, signal.SIGKILL)


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(") ", 1)[1].split()


def descendants(pid: int) -> list[Proc]:
    """Every process below `pid` now (children, theirs, ...), from the ppid of /proc/*/stat."""
    children: dict[int, list[int]] = {}
    started: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is None:
            continue
        children.setdefault(int(stat[1]), []).append(int(entry.name))
        started[int(entry.name)] = stat[19]
    found: list[Proc] = []
    pending = list(children.get(pid, []))
    while pending:
        child = pending.pop()
        found.append(Proc(child, started[child]))
        pending += children.get(child, [])
    return found


def listening_ports(processes: list[Proc]) -> set[int]:
    """The TCP ports these processes listen on (their sockets found in /proc/net/tcp*)."""
    inodes: set[str] = set()
    for process in processes:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{process.pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def port_is_free(port: int) -> bool:
    """Whether a new server could listen on the port (as uvicorn binds it: SO_REUSEADDR)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            return False
        return True


def wait_gone(processes: list[Proc], ports: set[int], timeout: float = GONE_TIMEOUT) -> list[str]:
    """Poll until the processes have ended and the ports are free; what is left otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        left = [f"pid {p.pid}" for p in processes if p.alive()]
        left += [f"port {port}" for port in sorted(ports) if not port_is_free(port)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(POLL_SECONDS)


def _default_sigint() -> None:
    # Whatever runs the tests (a background job, nohup) may ignore SIGINT; Python then never
    # installs its KeyboardInterrupt handler, and the CLI would not see the Ctrl-C we send.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextlib.contextmanager
def cog_process(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Iterator[Cli]:
    """`cog ARGS` in its own process group with SIGINT at its default disposition; on exit the
    group and every process seen in its tree are killed and the CLI is reaped."""
    process = subprocess.Popen(
        [cog_executable(), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "COG_CACHE_DIR": str(CACHE), "NO_COLOR": "1", **(env or {})},
        process_group=0,
        preexec_fn=_default_sigint,
    )
    cli = Cli(process)
    try:
        yield cli
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        for seen in [*cli.tree, *descendants(process.pid)]:
            seen.kill()
        process.kill()
        process.communicate(timeout=30)


@dataclass
class Cli:
    process: subprocess.Popen[str]
    stderr: str = ""
    tree: tuple[Proc, ...] = ()

    def read_until(self, marker: str, timeout: float = 120.0) -> bool:
        """Read stderr until it holds `marker` (bounded); whether it came.

        Raw reads of the pipe, not `readline()`: a buffered reader may pull several lines
        at once and hand back only the first, and select() then waits for bytes that were
        already read (the marker line, sitting in the buffer)."""
        assert self.process.stderr is not None
        fd = self.process.stderr.fileno()
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while marker not in self.stderr and time.monotonic() < deadline:
                if selector.select(timeout=0.5):
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        break
                    self.stderr += decoder.decode(chunk)
        return marker in self.stderr

    def remember_tree(self) -> list[Proc]:
        self.tree = tuple(descendants(self.process.pid))
        return list(self.tree)

    def finish(self, timeout: float = 60.0) -> tuple[int, str, str]:
        """Wait for the CLI to end: its status, stdout, and all of its stderr."""
        out, err = self.process.communicate(timeout=timeout)
        self.stderr += err
        return self.process.returncode, out, self.stderr
