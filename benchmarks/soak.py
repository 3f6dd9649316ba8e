"""Soak: thousands of mixed predictions against one server, every one with a webhook to a
flaky receiver; then a count of what went wrong and of what the server holds.

    python benchmarks/soak.py [--count 2000] [--seed 1] [--fail-rate 0.2] [--side pycog]

The predictions, mixed at random: sync (the client waits for the answer), async (202, then
webhooks), canceled (async, canceled while it runs) and failing (the model raises; sync or
async). The model (benchmarks/soak_model) is an async generator with 16 slots: each chunk is
a log line and an output. The receiver answers 500 at random (`--fail-rate`) and late at
random (`--slow-rate`, up to `--slow-seconds`); it records a webhook when it answers it 2xx,
so a webhook sent before an earlier one was answered shows up out of order. At the end the
run waits (`--settle`) for the terminal webhooks still being retried, then asks the server to
cancel every prediction that has none: one it still knows is stuck.

Counted: lost (accepted, and no terminal webhook by the end), stuck (still running at the
end, or a sync request that never answered), duplicated terminal webhooks (a prediction with
more than one accepted), out of order (a non-terminal webhook accepted after the terminal
one), and the server's and worker's RSS and open fds when READY, after the first tenth (warm)
and at the end. `--side reference` runs the same against Cog 0.23.1 (PYCOG_REFERENCE_VENV).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
MODEL = Path(__file__).parent / "soak_model"
sys.path.insert(0, str(Path(__file__).parent))

from server import free_port, reference_python  # noqa: E402

TERMINAL = frozenset({"succeeded", "failed", "canceled"})
KINDS = ("sync", "async", "canceled", "failing")
MIX = (0.4, 0.3, 0.2, 0.1)


# -- the flaky webhook receiver ------------------------------------------------------------


@dataclass
class FlakyReceiver:
    """A keep-alive HTTP/1.1 webhook receiver on a free loopback port (asyncio, so that a late
    answer costs no thread)."""

    rng: random.Random
    fail_rate: float
    slow_rate: float
    slow_seconds: float
    accepted: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    """Each prediction's webhook statuses, in the order they were answered 2xx."""
    posts: int = 0
    refused: int = 0
    url: str = ""

    async def start(self) -> asyncio.Server:
        server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
        return server

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                headers = dict(line.lower().split(": ", 1) for line in head[1:] if ": " in line)
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status = await self._answer(json.loads(body))
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        except asyncio.CancelledError:
            pass  # the run is over and its loop closes
        finally:
            writer.close()

    async def _answer(self, webhook: dict) -> int:
        self.posts += 1
        if self.rng.random() < self.slow_rate:
            await asyncio.sleep(self.rng.uniform(0, self.slow_seconds))
        if self.rng.random() < self.fail_rate:
            self.refused += 1
            return 500
        self.accepted[webhook["id"]].append(webhook["status"])
        return 200


# -- the server ----------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


@contextlib.contextmanager
def start_server(side: str, throttle: float) -> Iterator[Server]:
    project = Path(tempfile.mkdtemp(prefix=f"soak-{side}-")) / "model"
    shutil.copytree(MODEL, project)
    port = free_port()
    env = {**os.environ, "PORT": str(port), "COG_THROTTLE_RESPONSE_INTERVAL": str(throttle)}
    python = sys.executable
    if side == "reference":
        python = str(reference_python())
        env |= {
            "PATH": f"{Path(python).parent}:{env['PATH']}",
            "COG_PREDICT_TYPE_STUB": "predict.py:Predictor",
            "COG_MAX_CONCURRENCY": "16",
        }
    log = project.parent / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [python, "-m", "cog.server.http", "--host", "127.0.0.1"],
            cwd=project, env=env, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_ready(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(project.parent, ignore_errors=True)


def wait_ready(server: Server) -> None:
    deadline = time.monotonic() + 120
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                if client.get(f"{server.url}/health-check").json()["status"] == "READY":
                    return
            if server.process.poll() is not None:
                break
            time.sleep(0.05)
    raise RuntimeError(f"the server never became READY; see {server.log}")


# -- what the processes hold ---------------------------------------------------------------


def children(pid: int) -> list[int]:
    """Child processes, whichever thread started them (Cog's server starts its worker from a
    thread of its own)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def usage(pid: int) -> tuple[float, int]:
    """RSS in MiB and open file descriptors of a process (0, 0 once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0.0, 0
    rss_kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    return rss_kib / 1024, fds


def sample(server: Server) -> dict[str, tuple[float, int]]:
    """The server process and its worker (the largest child: uv or a shell may sit between)."""
    pid = server.process.pid
    workers = children(pid) + [
        grandchild for child in children(pid) for grandchild in children(child)
    ]
    worker = max(workers, key=lambda child: usage(child)[0], default=0)
    return {"server": usage(pid), "worker": usage(worker) if worker else (0.0, 0)}


# -- the load ------------------------------------------------------------------------------


@dataclass
class Tally:
    accepted: dict[str, str] = field(default_factory=dict)
    """Prediction id → kind, for every prediction the server took."""
    sync_answers: Counter[str] = field(default_factory=Counter)
    hung: set[str] = field(default_factory=set)
    busy: int = 0
    errors: Counter[str] = field(default_factory=Counter)


def inputs_for(kind: str, rng: random.Random) -> dict:
    if kind == "sync":
        return {"chunks": rng.randint(1, 3), "seconds": rng.uniform(0, 0.02)}
    if kind == "async":
        return {"chunks": rng.randint(1, 5), "seconds": rng.uniform(0, 0.1)}
    if kind == "canceled":
        return {"chunks": 5, "seconds": 2.0}
    return {"chunks": rng.randint(0, 2), "fail": True}


async def one(client: httpx.AsyncClient, receiver: FlakyReceiver, index: int, tally: Tally,
              rng: random.Random) -> None:  # fmt: skip
    kind = rng.choices(KINDS, MIX)[0]
    prediction_id = f"soak-{index:06d}"
    body = {"id": prediction_id, "input": inputs_for(kind, rng), "webhook": receiver.url}
    sync = kind == "sync" or (kind == "failing" and rng.random() < 0.5)
    headers = {} if sync else {"Prefer": "respond-async"}
    while True:
        try:
            response = await client.post("/predictions", json=body, headers=headers)
        except httpx.TimeoutException:
            tally.accepted[prediction_id] = kind
            tally.hung.add(prediction_id)
            return
        except httpx.HTTPError as exc:
            tally.errors[type(exc).__name__] += 1
            return
        if response.status_code != 409:
            break
        tally.busy += 1
        await asyncio.sleep(rng.uniform(0.02, 0.05))
    if response.status_code not in (200, 202):
        tally.errors[f"HTTP {response.status_code}"] += 1
        return
    tally.accepted[prediction_id] = kind
    if sync:
        tally.sync_answers[response.json().get("status", "?")] += 1
    if kind == "canceled":
        await asyncio.sleep(rng.uniform(0, 0.2))
        with contextlib.suppress(httpx.HTTPError):
            await client.post(f"/predictions/{prediction_id}/cancel")


async def load(server: Server, receiver: FlakyReceiver, args: argparse.Namespace,
               samples: dict[str, dict]) -> Tally:  # fmt: skip
    tally = Tally()
    rng = random.Random(args.seed)
    indexes = iter(range(args.count))
    warm_at = max(1, args.count // 10)
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    timeout = httpx.Timeout(args.request_timeout)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=timeout) as client:

        async def sender() -> None:
            for index in indexes:
                await one(client, receiver, index, tally, rng)
                if index == warm_at:
                    samples["warm"] = sample(server)

        await asyncio.gather(*(sender() for _ in range(args.clients)))
    return tally


async def settle(receiver: FlakyReceiver, tally: Tally, seconds: float) -> float:
    """Wait until every accepted prediction has its terminal webhook (or the time is up)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if all(TERMINAL & set(receiver.accepted.get(p, ())) for p in tally.accepted):
            break
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def still_running(server: Server, ids: list[str]) -> set[str]:
    """Those the server still holds: its cancel route finds them (404 for the others)."""
    found = set()
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        for prediction_id in ids:
            with contextlib.suppress(httpx.HTTPError):
                response = await client.post(f"/predictions/{prediction_id}/cancel")
                if response.status_code == 200:
                    found.add(prediction_id)
    return found


# -- the run -------------------------------------------------------------------------------


async def soak(args: argparse.Namespace) -> None:
    receiver = FlakyReceiver(
        random.Random(args.seed + 1), args.fail_rate, args.slow_rate, args.slow_seconds
    )
    listener = await receiver.start()
    with start_server(args.side, args.throttle) as server:
        samples = {"ready": sample(server)}
        started = time.monotonic()
        tally = await load(server, receiver, args, samples)
        sent_in = time.monotonic() - started
        settled_in = await settle(receiver, tally, args.settle)
        lost = [p for p in tally.accepted if not TERMINAL & set(receiver.accepted.get(p, ()))]
        stuck = await still_running(server, lost) | tally.hung
        samples["end"] = sample(server)
    listener.close()
    report(args, tally, receiver, lost, stuck, samples, sent_in, settled_in)


def report(args: argparse.Namespace, tally: Tally, receiver: FlakyReceiver, lost: list[str],
           stuck: set[str], samples: dict[str, dict], sent_in: float,
           settled_in: float) -> None:  # fmt: skip
    duplicated = out_of_order = 0
    for prediction_id in tally.accepted:
        statuses = receiver.accepted.get(prediction_id, [])
        terminal_at = [i for i, status in enumerate(statuses) if status in TERMINAL]
        duplicated += len(terminal_at) > 1
        out_of_order += bool(terminal_at) and any(
            status not in TERMINAL for status in statuses[terminal_at[0] + 1 :]
        )
    kinds = Counter(tally.accepted.values())
    rows = [
        ("side", args.side),
        ("predictions sent (accepted)", f"{len(tally.accepted)} of {args.count}"),
        ("  by kind", ", ".join(f"{kind} {kinds[kind]}" for kind in KINDS)),
        ("  sync answers", ", ".join(f"{s} {n}" for s, n in sorted(tally.sync_answers.items()))),
        ("  409 busy (retried)", str(tally.busy)),
        ("  request errors", ", ".join(f"{e} {n}" for e, n in tally.errors.items()) or "0"),
        ("sent in / throughput", f"{sent_in:.1f} s / {len(tally.accepted) / sent_in:.0f} per s"),
        ("webhooks POSTed / refused (500)", f"{receiver.posts} / {receiver.refused}"),
        ("settled in", f"{settled_in:.1f} s"),
        ("lost (no terminal webhook)", str(len(lost))),
        ("stuck (still running at the end)", str(len(stuck))),
        ("duplicated terminal webhooks", str(duplicated)),
        ("out of order (after the terminal)", str(out_of_order)),
    ]
    for who in ("server", "worker"):
        for column, index, unit in (("RSS", 0, " MiB"), ("fds", 1, "")):
            values = [samples[moment][who][index] for moment in ("ready", "warm", "end")]
            shown = " / ".join(f"{v:.1f}{unit}" if index == 0 else f"{v}" for v in values)
            rows.append((f"{who} {column} ready / warm / end", shown))
    width = max(len(name) for name, _ in rows)
    print(f"soak: {args.count} predictions, seed {args.seed}, receiver failing "
          f"{args.fail_rate:.0%}, slow {args.slow_rate:.0%} (up to {args.slow_seconds} s), "
          f"throttle {args.throttle} s")  # fmt: skip
    print(f"| {'what'.ljust(width)} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")
    if lost[:5]:
        print("lost, first ones:", ", ".join(lost[:5]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="predictions to send")
    parser.add_argument("--clients", type=int, default=16, help="requests in flight at once")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fail-rate", type=float, default=0.2, help="webhooks answered 500")
    parser.add_argument("--slow-rate", type=float, default=0.1, help="webhooks answered late")
    parser.add_argument("--slow-seconds", type=float, default=0.5)
    parser.add_argument("--throttle", type=float, default=0.05,
                        help="COG_THROTTLE_RESPONSE_INTERVAL of the server")  # fmt: skip
    parser.add_argument("--settle", type=float, default=120.0,
                        help="seconds to wait for the last terminal webhooks")  # fmt: skip
    parser.add_argument("--request-timeout", type=float, default=60.0)
    parser.add_argument("--side", choices=("pycog", "reference"), default="pycog")
    asyncio.run(soak(parser.parse_args()))


if __name__ == "__main__":
    main()
