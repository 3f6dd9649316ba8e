"""Queue benchmark: pycog servers as workers of one Redis stream (not named queue.py: that
would shadow the standard library's `queue` for every script in benchmarks/).

    python benchmarks/queue_workers.py [--repeat 3] [--seconds 3] [--requests 300] [--http-only]

A redis-server of its own (temporary directory, free loopback port), then:

- throughput with 1, 2 and 4 workers (`python -m cog.server.http --redis-url URL --queue
  NAME`), each serving a model that sleeps 100 ms with one slot: ideal 10 predictions/s per
  worker, goal at least 90 % of it. Each run submits `--seconds` worth of predictions at once
  (10/s per worker) through `cog.queue.QueueClient` and times the first submit to the last
  terminal response.
- the queue's added latency on an echo model (one slot): the p50 of back-to-back predictions
  submitted and waited for with `QueueClient` minus that of direct HTTP POSTs to the same
  server (a lean keep-alive client, so the difference is not the HTTP client's); goal under
  2 ms.

Each row is the median of `--repeat` runs. `--http-only` runs only the direct HTTP half (the
servers started without the queue flags): a dry run where the queue worker is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from cog.queue import QueueClient  # noqa: E402

SLEEP_SECONDS = 0.1
SIZES = (1, 2, 4)
GOAL_SHARE = 0.9
GOAL_ADDED_MS = 2.0
READY_TIMEOUT = 60.0

MODELS = {
    "sleep": (
        "from cog import BasePredictor\nimport time\n\n\n"
        "class Predictor(BasePredictor):\n"
        "    def predict(self, seconds: float = 0.1) -> str:\n"
        "        time.sleep(seconds)\n"
        "        return 'done'\n"
    ),
    "echo": (
        "from cog import BasePredictor\n\n\n"
        "class Predictor(BasePredictor):\n"
        "    def predict(self, text: str = '') -> str:\n"
        "        return text\n"
    ),
}
# No `concurrency:`: one slot per worker, so the workers, not the slots, set the rate.
COG_YAML = 'build:\n  python_version: "3.11"\npredict: "predict.py:Predictor"\n'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    """A redis-server in `directory` on a free loopback port; its URL."""
    executable = shutil.which("redis-server")
    if executable is None:
        sys.exit("no redis-server on this machine: sudo apt-get install -y redis-server")
    port = free_port()
    process = subprocess.Popen(
        [
            executable,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(directory),
            "--save",
            "",
            "--appendonly",
            "no",
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not _answers_ping(port):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"redis-server did not start on port {port}")
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def project(directory: Path, model: str) -> Path:
    path = directory / model
    path.mkdir(exist_ok=True)
    (path / "cog.yaml").write_text(COG_YAML)
    (path / "predict.py").write_text(MODELS[model])
    return path


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    port: int

    def ready(self) -> bool:
        with contextlib.suppress(OSError, ValueError, KeyError):
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            connection.request("GET", "/health-check")
            status = json.loads(connection.getresponse().read())["status"]
            connection.close()
            return bool(status == "READY")
        return False


@contextlib.contextmanager
def workers(
    model_dir: Path, count: int, redis_url: str | None, queue: str
) -> Iterator[list[Worker]]:
    """`count` servers of the model, each a worker of `queue` (unless `redis_url` is None),
    READY."""
    started: list[Worker] = []
    try:
        for _ in range(count):
            port = free_port()
            command = [sys.executable, "-m", "cog.server.http", "--host", "127.0.0.1"]
            if redis_url is not None:
                command += ["--redis-url", redis_url, "--queue", queue]
            process = subprocess.Popen(
                command,
                cwd=model_dir,
                env={**os.environ, "PORT": str(port)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            started.append(Worker(process, port))
        deadline = time.monotonic() + READY_TIMEOUT
        for worker in started:
            while not worker.ready():
                if worker.process.poll() is not None:
                    raise RuntimeError(
                        f"a worker exited ({worker.process.returncode}) before READY: run "
                        f"{' '.join(command)} in {model_dir} to see why"
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError(f"a worker was not READY within {READY_TIMEOUT} s")
                time.sleep(0.02)
        yield started
    finally:
        for worker in started:
            worker.process.terminate()
        for worker in started:
            try:
                worker.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run_batch(client: QueueClient, count: int, seconds: float) -> float:
    """Predictions per second of `count` predictions submitted at once."""
    started = time.perf_counter()
    ids = [client.submit({"seconds": seconds}) for _ in range(count)]
    for prediction_id in ids:
        response = client.wait(prediction_id, timeout=60 + count * seconds)
        if response["status"] != "succeeded":
            raise RuntimeError(f"prediction {prediction_id} ended {response['status']}: {response}")
    return count / (time.perf_counter() - started)


def throughput(base: Path, redis_url: str, size: int, repeat: int, seconds: float) -> float:
    queue = f"sleep-{size}-{uuid.uuid4().hex[:6]}"
    with (
        workers(project(base, "sleep"), size, redis_url, queue),
        QueueClient(redis_url, queue) as client,
    ):
        run_batch(client, size, SLEEP_SECONDS)  # warm: each worker has read the group once
        count = max(size, round(seconds * size / SLEEP_SECONDS))
        return statistics.median(run_batch(client, count, SLEEP_SECONDS) for _ in range(repeat))


def http_latencies(port: int, count: int) -> list[float]:
    """Seconds of back-to-back sync POST /predictions on one keep-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    times = []
    try:
        for index in range(count + 1):
            body = json.dumps({"input": {"text": str(index)}})
            started = time.perf_counter()
            connection.request("POST", "/predictions", body, headers)
            response = connection.getresponse()
            payload = response.read()
            elapsed = time.perf_counter() - started
            if response.status != 200:
                raise RuntimeError(f"POST /predictions answered {response.status}: {payload!r}")
            if index:  # the first one opens the connection
                times.append(elapsed)
    finally:
        connection.close()
    return times


def queue_latencies(client: QueueClient, count: int) -> list[float]:
    """Seconds of back-to-back submit + wait through the queue."""
    times = []
    for index in range(count + 1):
        started = time.perf_counter()
        response = client.wait(client.submit({"text": str(index)}), timeout=30)
        elapsed = time.perf_counter() - started
        if response.get("output") != str(index):
            raise RuntimeError(f"the queue answered {response}")
        if index:
            times.append(elapsed)
    return times


def latency(base: Path, redis_url: str | None, repeat: int, count: int) -> dict[str, float]:
    queue = f"echo-{uuid.uuid4().hex[:6]}"
    rows: dict[str, list[float]] = {}
    with workers(project(base, "echo"), 1, redis_url, queue) as (worker,):
        client = None if redis_url is None else QueueClient(redis_url, queue)
        try:
            for _ in range(repeat):
                direct = http_latencies(worker.port, count)
                rows.setdefault("echo p50, direct HTTP (ms)", []).append(percentile(direct, 0.5))
                rows.setdefault("echo p99, direct HTTP (ms)", []).append(percentile(direct, 0.99))
                if client is None:
                    continue
                queued = queue_latencies(client, count)
                rows.setdefault("echo p50, through the queue (ms)", []).append(
                    percentile(queued, 0.5)
                )
                rows.setdefault("echo p99, through the queue (ms)", []).append(
                    percentile(queued, 0.99)
                )
                rows.setdefault("queue's added latency, p50 (ms)", []).append(
                    percentile(queued, 0.5) - percentile(direct, 0.5)
                )
        finally:
            if client is not None:
                client.close()
    return {row: statistics.median(values) * 1000 for row, values in rows.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0, help="of work per throughput run")
    parser.add_argument("--requests", type=int, default=300, help="per latency run and side")
    parser.add_argument("--http-only", action="store_true", help="no queue: the HTTP half only")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-queue-"))
    try:
        (base / "redis").mkdir()
        with redis_server(base / "redis") as redis_url:
            queue_url = None if args.http_only else redis_url
            measured = latency(base, queue_url, args.repeat, args.requests)
            rates = {}
            if queue_url is not None:
                for size in SIZES:
                    rates[size] = throughput(base, queue_url, size, args.repeat, args.seconds)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"\nmedians of {args.repeat} runs; {os.cpu_count()} cores")
    print(f"{'row':<44} {'measured':>10} {'goal':>10} {'ratio':>8}")
    for size, rate in rates.items():
        ideal = size / SLEEP_SECONDS
        row = f"throughput, {size} worker{'s' * (size > 1)}, sleep 100 ms (pred/s)"
        share = rate / ideal
        print(f"{row:<44} {rate:>10.1f} {GOAL_SHARE * ideal:>10.1f} {share:>7.0%}")
    for row, value in measured.items():
        goal = f"< {GOAL_ADDED_MS:.1f}" if row.startswith("queue's added") else ""
        print(f"{row:<44} {value:>10.2f} {goal:>10} {'':>8}")
    if rates:
        print("ratio: of the ideal rate (10/s per worker); the goal is 90 %")


if __name__ == "__main__":
    main()
