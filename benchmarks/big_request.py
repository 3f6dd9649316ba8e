"""One big request against a real server: how long /health-check waits while it is uploaded and
parsed, and what it costs the server in memory.

    python benchmarks/big_request.py [--mib 150] [--model files]

Serves tests/server/fixtures/<model> (its `source: Path` input gets a data: URI of --mib MiB);
prints the request's status, the slowest health check answered meanwhile, how many answered,
and the peak RSS (VmHWM) of the server and of its worker. Run with PYCOG_MAX_REQUEST_BYTES
raised above the body to measure the same work as a server without a limit.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "server" / "fixtures"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/task/{pid}/children") as found:
            return [int(child) for child in found.read().split()]
    return []


def body_of(mib: int) -> bytes:
    payload = base64.b64encode(b"\0" * (mib * 1024 * 1024 * 3 // 4)).decode()
    return json.dumps(
        {"input": {"source": f"data:application/octet-stream;base64,{payload}"}}
    ).encode()


SENDER = """
import sys, httpx
url, path = sys.argv[1:]
with open(path, "rb") as body:
    content = body.read()
try:
    response = httpx.post(
        url + "/predictions", content=content, headers={"Content-Type": "application/json"},
        timeout=600,
    )
    print(response.status_code)
except httpx.HTTPError as exc:
    print(type(exc).__name__)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=150)
    parser.add_argument("--model", default="files")
    args = parser.parse_args()
    project = Path(tempfile.mkdtemp(prefix="big-request-")) / args.model
    shutil.copytree(FIXTURES / args.model, project)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "cog.server.http", "--host", "127.0.0.1"],
        cwd=project,
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if client.get("/health-check").json()["status"] == "READY":
                        break
                time.sleep(0.1)
            body = body_of(args.mib)
            body_file = project / "body.json"
            body_file.write_bytes(body)
            # The request is sent by another process: this one's GIL is for the health checks.
            sender = subprocess.Popen(
                [sys.executable, "-c", SENDER, url, str(body_file)],
                stdout=subprocess.PIPE,
                text=True,
            )
            started = time.perf_counter()
            latencies = []
            slowest: tuple[float, float, str] = (0.0, 0.0, "")
            while sender.poll() is None:
                before = time.perf_counter()
                status = client.get("/health-check").json()["status"]
                latencies.append(time.perf_counter() - before)
                slowest = max(slowest, (latencies[-1], before - started, status))
                time.sleep(0.01)
            result = {"status": sender.communicate()[0].strip()}
            elapsed = time.perf_counter() - started
            worker = children(server.pid)
            print(f"body                 {len(body) / 2**20:.0f} MiB")
            print(f"status               {result.get('status')}")
            print(f"request seconds      {elapsed:.2f}")
            print(f"health checks        {len(latencies)}")
            print(
                f"slowest health check {slowest[0] * 1000:.0f} ms "
                f"(sent at {slowest[1]:.1f} s, answered {slowest[2]})"
            )
            print(f"server peak RSS      {peak_rss_mib(server.pid):.0f} MiB")
            for pid in worker:
                print(f"worker peak RSS      {peak_rss_mib(pid):.0f} MiB")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
