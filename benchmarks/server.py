"""Server benchmark: pycog's server and the reference Cog 0.23.1 (Rust coglet), side by side.

Both serve the same models from benchmarks/server_models in one run; each row is the median of
repeated measurements (a shared machine is noisy: read the ratios).

    python benchmarks/server.py [--repeat 3] [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
MODELS = Path(__file__).parent / "server_models"
sys.path.insert(0, str(ROOT / "src"))

from cog.config import load_config  # noqa: E402
from cog.schema import dumps, generate_schema  # noqa: E402


def reference_python() -> Path:
    venv = Path(os.environ.get("PYCOG_REFERENCE_VENV", ROOT / ".cache" / "reference-cog"))
    if not (venv / "bin" / "python").exists():
        subprocess.run([str(ROOT / "script" / "lib" / "reference-cog")], check=True)
    return venv / "bin" / "python"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server(side: str, model: str) -> Iterator[tuple[str, float]]:
    """Start a server; yield its URL and the seconds it took to become READY."""
    project = Path(tempfile.mkdtemp(prefix=f"bench-{side}-")) / model
    shutil.copytree(MODELS / model, project)
    config = load_config(project)
    (project / ".cog").mkdir()
    (project / ".cog" / "openapi_schema.json").write_text(
        dumps(generate_schema(project, config, static=True))
    )
    port = free_port()
    env = {**os.environ, "PORT": str(port)}
    if side == "reference":
        python = reference_python()
        env.pop("PYTHONPATH", None)  # a PYTHONPATH meant for pycog (an older tree) is not Cog's
        env |= {
            "PATH": f"{python.parent}:{env['PATH']}",
            "COG_PREDICT_TYPE_STUB": "predict.py:Predictor",
        }
        if config.concurrency_max:
            env["COG_MAX_CONCURRENCY"] = str(config.concurrency_max)
        command = [str(python), "-m", "cog.server.http", "--host", "127.0.0.1"]
    else:
        command = [sys.executable, "-m", "cog.server.http", "--host", "127.0.0.1"]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=2) as client:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{url}/health-check").json()["status"] == "READY":
                        break
                if time.perf_counter() - started > 60:
                    raise RuntimeError(f"{side} {model} never became READY")
                time.sleep(0.005)
        yield url, time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(project.parent, ignore_errors=True)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def sync_latency(url: str, count: int) -> tuple[float, float, float]:
    """p50 and p99 in ms, and the share of back-to-back requests answered 409 (retried)."""
    busy = 0
    with httpx.Client(base_url=url, timeout=30) as client:
        client.post("/predictions", json={"input": {"text": "warm"}})
        times = []
        for index in range(count):
            started = time.perf_counter()
            while (
                response := client.post("/predictions", json={"input": {"text": str(index)}})
            ).status_code == 409:
                busy += 1
            times.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
    return percentile(times, 0.5) * 1000, percentile(times, 0.99) * 1000, 100 * busy / count


class _Connection:
    """A minimal keep-alive HTTP/1.1 client for the throughput rows. httpx costs ~1.5 ms of
    CPU per request, more than either server does: on a small machine it, not the server, set
    the rate. Both sides are measured with this same client."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def post(self, host: str, path: str, body: bytes) -> int:
        """POST a JSON body; the response status (the body is read and dropped)."""
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
        if "content-length" in headers:
            await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            while size := int((await self.reader.readuntil(b"\r\n")).strip(), 16):
                await self.reader.readexactly(size + 2)
            await self.reader.readuntil(b"\r\n")
        return status


async def _load(url: str, clients: int, seconds: float, body: dict) -> float:
    done = 0
    host = url.removeprefix("http://")
    address, port = host.rsplit(":", 1)
    payload = json.dumps(body).encode()

    async def worker() -> None:
        nonlocal done
        connection = _Connection(*await asyncio.open_connection(address, int(port)))
        try:
            while time.perf_counter() < deadline:
                if await connection.post(host, "/predictions", payload) == 200:
                    done += 1
        finally:
            connection.writer.close()

    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return done / (time.perf_counter() - started)


def throughput(url: str, clients: int, seconds: float, body: dict) -> float:
    try:  # the cheaper loop leaves more of a small machine to the servers measured
        import uvloop

        return uvloop.run(_load(url, clients, seconds, body))
    except ImportError:
        return asyncio.run(_load(url, clients, seconds, body))


def stream(url: str) -> tuple[float, float]:
    with httpx.Client(base_url=url, timeout=30) as client:
        started = time.perf_counter()
        first = None
        with client.stream(
            "POST",
            "/predictions",
            json={"input": {"tokens": 200}},
            headers={"Accept": "text/event-stream"},
        ) as response:
            for line in response.iter_lines():
                if first is None and line.startswith("event: output"):
                    first = time.perf_counter() - started
        total = time.perf_counter() - started
    return (first or total) * 1000, total * 1000


def big_file(url: str) -> float:
    with httpx.Client(base_url=url, timeout=60) as client:
        started = time.perf_counter()
        response = client.post("/predictions", json={"input": {}})
        assert response.json()["output"].startswith("data:")
        return (time.perf_counter() - started) * 1000


def median_of(repeat: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    rows: dict[str, dict[str, float]] = {}
    for side in ("reference", "pycog"):
        results: dict[str, float] = {}

        def cold(side: str = side) -> float:
            with server(side, "echo") as (_, seconds):
                return seconds * 1000

        results["cold start to READY (ms)"] = median_of(args.repeat, cold)
        with server(side, "echo") as (url, _):
            latencies = [sync_latency(url, args.requests) for _ in range(args.repeat)]
            results["sync echo p50 (ms)"] = statistics.median(p50 for p50, _, _ in latencies)
            results["sync echo p99 (ms)"] = statistics.median(p99 for _, p99, _ in latencies)
            results["back-to-back requests answered 409 (%)"] = statistics.median(
                b for _, _, b in latencies
            )
        with server(side, "async_echo") as (url, _):
            results["echo throughput, 16 clients (req/s)"] = median_of(
                args.repeat, lambda: throughput(url, 16, args.seconds, {"input": {"text": "x"}})
            )
        with server(side, "sleep") as (url, _):
            results["async sleep 100 ms, max 32 (req/s)"] = median_of(
                args.repeat, lambda: throughput(url, 32, args.seconds, {"input": {"seconds": 0.1}})
            )
        with server(side, "stream") as (url, _):
            streams = [stream(url) for _ in range(args.repeat)]
            results["200-token stream: first event (ms)"] = statistics.median(
                first for first, _ in streams
            )
            results["200-token stream: completed (ms)"] = statistics.median(
                total for _, total in streams
            )
        with server(side, "bigfile") as (url, _):
            results["20 MB file output as data URI (ms)"] = median_of(
                args.repeat, lambda: big_file(url)
            )
        rows[side] = results
    print(f"\nmedians of {args.repeat} runs; {os.cpu_count()} cores")
    print(f"{'row':<40} {'reference':>12} {'pycog':>12} {'ratio':>8}")
    for row in rows["pycog"]:
        theirs, ours = rows["reference"][row], rows["pycog"][row]
        better_high = "req/s" in row
        if better_high:
            ratio = ours / theirs if theirs else float("inf")
        else:
            ratio = theirs / ours if ours else float("inf")
        print(f"{row:<40} {theirs:>12.1f} {ours:>12.1f} {ratio:>7.2f}x")
    print("ratio > 1: pycog is better (ideal async sleep rate: 320 req/s)")


if __name__ == "__main__":
    main()
