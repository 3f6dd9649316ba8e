"""Real queue workers for the tests: `python -m cog.server.http --redis-url ... --queue ...`
processes serving the fixture model in tests/queue/fixtures/worker, and a producer on redis-py
that reads the responses back."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis

FIXTURE = Path(__file__).parent / "fixtures" / "worker"
QUEUE = "jobs"
TERMINAL = ("succeeded", "failed", "canceled")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Worker:
    """One server process in queue mode."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def health(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.url}/health-check", timeout=5).json())

    def wait_for(self, *statuses: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        health: dict[str, Any] = {}
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the worker exited ({self.process.returncode}):\n{self.output()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                health = self.health()
                if health["status"] in statuses:
                    return health
            time.sleep(0.05)
        raise AssertionError(f"the worker never reached {statuses}: {health}\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def terminate(self) -> int:
        """SIGTERM; the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@dataclass
class Project:
    directory: Path
    runs: Path
    """Where the model appends the `tag` of each run."""

    def run_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        if self.runs.exists():
            for tag in self.runs.read_text().split():
                counts[tag] = counts.get(tag, 0) + 1
        return counts


def make_project(tmp_path: Path) -> Project:
    directory = tmp_path / "worker"
    shutil.copytree(FIXTURE, directory)
    return Project(directory, tmp_path / "runs.txt")


@contextlib.contextmanager
def running_workers(
    project: Project, redis_url: str, count: int = 1, *args: str, env: dict[str, str] | None = None
) -> Iterator[list[Worker]]:
    """`count` workers, READY; each stopped (SIGTERM, then SIGKILL) at the end if still alive."""
    workers = [start_worker(project, redis_url, *args, env=env) for _ in range(count)]
    try:
        for worker in workers:
            worker.wait_for("READY")
        yield workers
    finally:
        for worker in workers:
            stop(worker)


def start_worker(
    project: Project, redis_url: str, *args: str, env: dict[str, str] | None = None
) -> Worker:
    port = free_port()
    log = project.directory.parent / f"worker-{port}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cog.server.http", "--host", "127.0.0.1"]
            + ["--redis-url", redis_url, "--queue", QUEUE, *args],
            cwd=project.directory,
            env={
                **os.environ,
                "PORT": str(port),
                "QUEUE_RUNS_FILE": str(project.runs),
                "PYCOG_SHUTDOWN_GRACE": "10",
                **(env or {}),
            },
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return Worker(process, port, log)


def stop(worker: Worker) -> None:
    if worker.process.poll() is None:
        worker.process.terminate()
        try:
            worker.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()


class Producer:
    """Adds requests to the stream and reads their responses, with redis-py."""

    def __init__(self, url: str) -> None:
        self.redis = redis.Redis.from_url(url)

    def submit(self, request: dict[str, Any]) -> str:
        """XADD; the entry id."""
        entry_id = self.redis.xadd(QUEUE, {"value": json.dumps(request)})
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    def response(self, prediction_id: str) -> dict[str, Any] | None:
        raw = self.redis.get(f"{QUEUE}:response:{prediction_id}")
        return None if raw is None else dict(json.loads(raw))

    def wait(
        self, prediction_id: str, statuses: tuple[str, ...] = TERMINAL, timeout: float = 30
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        response = None
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.ConnectionError):
                response = self.response(prediction_id)
                if response is not None and response["status"] in statuses:
                    return response
            time.sleep(0.02)
        raise AssertionError(f"{prediction_id} never reached {statuses}: {response}")

    def pending(self) -> int:
        return int(self.redis.xpending(QUEUE, QUEUE)["pending"])

    def wait_all_acked(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pending() == 0:
                return
            time.sleep(0.05)
        raise AssertionError(f"{self.pending()} entries still pending")
