"""Real servers on free loopback ports, serving fixture predictors picked by name."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen[str]
    project: Path

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=kwargs.pop("timeout", 30), **kwargs)

    def health(self) -> dict:
        with self.client() as client:
            return client.get("/health-check").json()

    def wait_for(self, *statuses: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        health: dict = {}
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                health = self.health()
                if health["status"] in statuses:
                    return health
            time.sleep(0.05)
        raise AssertionError(f"server never reached {statuses}: {health}")


@contextlib.contextmanager
def run_server(
    name: str,
    tmp_path: Path,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    wait: bool = True,
) -> Iterator[RunningServer]:
    project = tmp_path / name
    shutil.copytree(FIXTURES / name, project, dirs_exist_ok=True)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cog.server.http", "--host", "127.0.0.1", *args],
        cwd=project,
        env={**os.environ, "PORT": str(port), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = RunningServer(f"http://127.0.0.1:{port}", process, project)
    try:
        if wait:
            server.wait_for("READY", "SETUP_FAILED", "BUSY", "UNHEALTHY")
        else:
            server.wait_for("STARTING")
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@pytest.fixture
def serve(tmp_path):
    """`with serve("echo") as server:` starts the named fixture's server."""

    def start(name: str, **kwargs):
        return run_server(name, tmp_path, **kwargs)

    return start
