"""Batching benchmark: pycog without batching, pycog with `@cog.batch`, and LitServe, side by side.

Two models, each served three ways from projects this script writes into a temp dir; all three
call the same model code (`bench_model.py`), one call at a time (a lock: one accelerator):
  sleep   a call costs 20 ms + 1 ms per item (time.sleep)
  matrix  one float32 product of the batch (n x 512) with a 512 x 512 weight; a request is one
          512-vector (JSON), the answer the norm of its row
Both batchers take at most 16 items and wait at most 10 ms. 32 closed-loop clients (keep-alive
connections on one event loop) run a warmup, then a measured window, on a fresh server; the
columns take turns, --repeat rounds, and each cell is the median of its rounds. A client answered
409 waits --backoff-ms and retries: its latency counts from the first attempt. CPU per request is
read from /proc for the server's whole process tree (server, worker; LitServe's processes).

    python benchmarks/batching.py [--repeat 3] [--seconds 5] [--models sleep,matrix]
        [--columns unbatched,batched:async,litserve] [--batched-style queue]

How a pycog predictor is written and admits 32 clients is a column's style (STYLES, printed
under the table): by default unbatched `async`, batched `queue`, each one's best number.

LitServe and NumPy come from a virtualenv this script makes (.cache/bench-litserve); the pycog
servers run on this interpreter with the same NumPy (installed into .cache/bench-numpy).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from server import _Connection, free_port, percentile

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache"
LITSERVE_VENV = CACHE / "bench-litserve"
NUMPY_TARGET = CACHE / "bench-numpy"
MAX_SIZE = 16
MAX_WAIT_MS = 10
VECTOR = 512
# One numerical library thread per process on both sides: a small shared machine, and equal terms.
THREADS_ENV = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


@dataclass(frozen=True)
class Model:
    """What a column needs to know about a model: its one input, output type and a request."""

    name: str
    title: str
    param: str
    item_type: str
    result_type: str

    def payload(self) -> object:
        if self.name == "sleep":
            return "hello"
        return [((index * 7919) % 1000) / 1000 for index in range(VECTOR)]


MODELS = {
    "sleep": Model("sleep", "model (a): sleep 20 ms + 1 ms per item", "text", "str", "str"),
    "matrix": Model(
        "matrix",
        f"model (b): NumPy, 1 product per call, {VECTOR}x{VECTOR} weight",
        "vector",
        "list[float]",
        "float",
    ),
}

BENCH_MODEL = f'''\
"""The model all three columns call: one call at a time, batch sizes logged (one line a call)."""
import os
import threading
import time


class Sleep:
    def __call__(self, items):
        time.sleep(0.020 + 0.001 * len(items))
        return [f"done {{item}}" for item in items]


class Matrix:
    def __init__(self):
        import numpy

        self.numpy = numpy
        self.weight = numpy.random.default_rng(0).standard_normal(({VECTOR}, {VECTOR}), dtype=numpy.float32)

    def __call__(self, items):
        product = self.numpy.asarray(items, dtype=self.numpy.float32) @ self.weight
        return [float(value) for value in self.numpy.linalg.norm(product, axis=1)]


class Logged:
    def __init__(self, model):
        self.model = model
        self.lock = threading.Lock()
        self.log = open(os.environ["BENCH_BATCH_LOG"], "a", buffering=1)

    def __call__(self, items):
        with self.lock:
            self.log.write(f"{{len(items)}}\\n")
            return self.model(items)


def load(name):
    return Logged(Sleep() if name == "sleep" else Matrix())
'''

PREDICT_HEADER = """\
import asyncio

import cog
from cog import BasePredictor, Input
from bench_model import load


class Predictor(BasePredictor):
    def setup(self) -> None:
        self.model = load("{name}")

"""

SYNC_UNBATCHED = (
    "    def predict(self, {param}: {item} = Input()) -> {result}:\n"
    "        return self.model([{param}])[0]\n"
)
SYNC_BATCHED = (
    f"    @cog.batch(max_size={MAX_SIZE}, max_wait_ms={{wait}})\n"
    "    def predict(self, {param}: list[{item}] = Input()) -> list[{result}]:\n"
    "        return self.model({param})\n"
)
# (predict.py body, concurrency.max) by (column, style). `sync` and `queue` are the plain way
# to write a model; sync predictors take concurrency 1 (Cog's rule), so beyond one request
# (unbatched) or one batch (batched) `sync` gets 409s, `queue` a wait in the server
# (COG_MAX_QUEUE). `async` runs the same serialized model in a thread and takes every client
# in its slots (unbatched: 32; batched: 2 of 16).
PREDICT_BODIES = {
    ("unbatched", "sync"): (SYNC_UNBATCHED, 1),
    ("unbatched", "queue"): (SYNC_UNBATCHED, 1),
    ("unbatched", "async"): (
        "    async def predict(self, {param}: {item} = Input()) -> {result}:\n"
        "        return (await asyncio.to_thread(self.model, [{param}]))[0]\n",
        32,
    ),
    ("batched", "sync"): (SYNC_BATCHED, 1),
    ("batched", "queue"): (SYNC_BATCHED, 1),
    ("batched", "async"): (
        f"    @cog.batch(max_size={MAX_SIZE}, max_wait_ms={{wait}})\n"
        "    async def predict(self, {param}: list[{item}] = Input()) -> list[{result}]:\n"
        "        return await asyncio.to_thread(self.model, {param})\n",
        2,
    ),
}
QUEUE = 1024
"""COG_MAX_QUEUE of the `queue` style: room for every client."""

LITSERVE_APP = f"""\
import os

import litserve
from bench_model import load


class API(litserve.LitAPI):
    def setup(self, device):
        self.model = load("{{name}}")

    def decode_request(self, request):
        return request["input"]["{{param}}"]

    def predict(self, items):
        return self.model(items)

    def encode_response(self, output):
        return {{{{"output": output}}}}


if __name__ == "__main__":
    api = API(max_batch_size={MAX_SIZE}, batch_timeout={MAX_WAIT_MS / 1000})
    server = litserve.LitServer(
        api, accelerator="cpu", workers_per_device=1, fast_queue={{fast_queue}}
    )
    server.run(host="127.0.0.1", port=int(os.environ["PORT"]), generate_client_file=False,
               log_level="warning")
"""


# --- environments -------------------------------------------------------------------------------


@functools.cache
def litserve_python() -> Path:
    python = LITSERVE_VENV / "bin" / "python"
    if (
        not python.exists()
        or subprocess.run(
            [str(python), "-c", "import litserve, numpy"], capture_output=True
        ).returncode
    ):
        subprocess.run([sys.executable, "-m", "venv", str(LITSERVE_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "litserve", "numpy"], check=True)
    return python


@functools.cache
def numpy_path(reference: Path) -> Path:
    """NumPy for the pycog servers, the version LitServe's venv has, outside this interpreter's
    environment (the benchmark does not add packages to the venv it runs in)."""
    version = subprocess.run(
        [str(reference), "-c", "import numpy; print(numpy.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    marker = NUMPY_TARGET / f".numpy-{version}"
    if not marker.exists():
        shutil.rmtree(NUMPY_TARGET, ignore_errors=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--target",
                str(NUMPY_TARGET),
                f"numpy=={version}",
            ],
            check=True,
        )
        marker.touch()
    return NUMPY_TARGET


# --- servers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One way of serving a model: `unbatched`/`batched` (pycog, in one of STYLES) or
    `litserve`."""

    kind: str
    style: str = "-"
    wait: str = str(MAX_WAIT_MS)
    """@cog.batch's max_wait_ms, as written in predict.py."""

    @classmethod
    def parse(cls, spec: str, defaults: dict[str, str]) -> Column:
        """`kind` or `kind:style` (without one, the kind's default style)."""
        kind, _, named = spec.partition(":")
        styles = LITSERVE_STYLES if kind == "litserve" else STYLES
        if kind not in ("unbatched", "batched", "litserve") or (named and named not in styles):
            raise SystemExit(f"unknown column {spec!r}: unbatched, batched or litserve[:style]")
        wait = defaults["wait"] if kind == "batched" else str(MAX_WAIT_MS)
        return cls(kind, named or defaults[kind], wait)

    @property
    def label(self) -> str:
        if self.kind == "litserve":
            return f"LitServe {self.style}"
        if self.kind == "unbatched":
            return f"pycog {self.style}"
        return f"@cog.batch {self.style}" + (" auto" if self.wait != str(MAX_WAIT_MS) else "")


@dataclass
class Running:
    url: str
    path: str
    pid: int
    batch_log: Path


def write_project(
    directory: Path, model: Model, column: Column
) -> tuple[list[str], dict[str, str]]:
    """Write the model's project for a column; the command that serves it and its environment."""
    (directory / "bench_model.py").write_text(BENCH_MODEL)
    fields = {"name": model.name, "param": model.param}
    if column.kind == "litserve":
        fast_queue = column.style == "zmq"
        (directory / "app.py").write_text(LITSERVE_APP.format(**fields, fast_queue=fast_queue))
        return [str(litserve_python()), "app.py"], {}
    body, concurrency = PREDICT_BODIES[(column.kind, column.style)]
    (directory / "predict.py").write_text(
        PREDICT_HEADER.format(**fields)
        + body.format(
            param=model.param, item=model.item_type, result=model.result_type, wait=column.wait
        )
    )
    (directory / "cog.yaml").write_text(
        'build:\n  python_version: "3.11"\npredict: "predict.py:Predictor"\n'
        f"concurrency:\n  max: {concurrency}\n"
    )
    paths = [os.environ.get("PYTHONPATH", ""), str(numpy_path(litserve_python()))]
    command = [sys.executable, "-m", "cog.server.http", "--host", "127.0.0.1"]
    env = {"PYTHONPATH": os.pathsep.join(path for path in paths if path)}
    if column.style == "queue":
        env["COG_MAX_QUEUE"] = str(QUEUE)
    return command, env


@contextlib.contextmanager
def serve(model: Model, column: Column) -> Iterator[Running]:
    directory = Path(tempfile.mkdtemp(prefix=f"bench-batching-{column.kind}-"))
    command, extra = write_project(directory, model, column)
    port = free_port()
    batch_log = directory / "batches.log"
    env = {
        **os.environ,
        **THREADS_ENV,
        **extra,
        "PORT": str(port),
        "BENCH_BATCH_LOG": str(batch_log),
    }
    log = (directory / "server.log").open("wb")
    # A session of its own: the whole tree (LitServe forks several processes) ends with it.
    process = subprocess.Popen(
        command, cwd=directory, env=env, stdout=log, stderr=log, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    litserve = column.kind == "litserve"
    try:
        wait_ready(url, litserve, process, directory / "server.log")
        yield Running(url, "/predict" if litserve else "/predictions", process.pid, batch_log)
    except BaseException:
        log.flush()
        tail = (directory / "server.log").read_text(errors="replace")[-4000:]
        print(f"{column.label} failed; its server's log ends:\n{tail}", file=sys.stderr)
        raise
    finally:
        stop(process)
        log.close()
        shutil.rmtree(directory, ignore_errors=True)


def stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    with contextlib.suppress(ProcessLookupError):  # what the leader left behind
        os.killpg(process.pid, signal.SIGKILL)


def wait_ready(url: str, litserve: bool, process: subprocess.Popen[bytes], log: Path) -> None:
    started = time.perf_counter()
    with httpx.Client(timeout=2) as client:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if litserve and client.get(f"{url}/health").status_code == 200:
                    return
                if not litserve and client.get(f"{url}/health-check").json()["status"] == "READY":
                    return
            if process.poll() is not None or time.perf_counter() - started > 120:
                raise RuntimeError(f"server at {url} never became ready:\n{log.read_text()}")
            time.sleep(0.05)


# --- load ---------------------------------------------------------------------------------------


def _stat(path: Path) -> list[str] | None:
    try:  # the name (2nd field) may hold spaces: the fields after it
        return path.read_text().rsplit(")", 1)[1].split()
    except OSError:  # gone meanwhile
        return None


def tree_thread_cpu(root: int) -> dict[tuple[int, int], float]:
    """User + system CPU seconds of each thread of a process and all its descendants."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(entry / "stat")) is not None:
            parents[int(entry.name)] = int(fields[1])
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    tick = os.sysconf("SC_CLK_TCK")
    times = {}
    for pid in tree:
        for task in Path(f"/proc/{pid}/task").glob("*"):
            if (fields := _stat(task / "stat")) is not None:
                times[pid, int(task.name)] = (int(fields[11]) + int(fields[12])) / tick
    return times


@dataclass
class Window:
    """One measured window of closed-loop load."""

    seconds: float
    latencies: list[float]
    busy: int
    server_cpu: float
    busiest_thread_cpu: float
    client_cpu: float
    batches: list[int]

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds


async def closed_loop(
    running: Running, body: bytes, clients: int, warmup: float, seconds: float, backoff: float
) -> Window:
    host = running.url.removeprefix("http://")
    address, port = host.rsplit(":", 1)
    latencies: list[float] = []
    busy = 0
    begin = time.perf_counter() + warmup
    end = begin + seconds

    async def client() -> None:
        nonlocal busy
        connection = _Connection(*await asyncio.open_connection(address, int(port)))
        try:
            while (started := time.perf_counter()) < end:
                while (status := await connection.post(host, running.path, body)) == 409:
                    busy += started >= begin
                    await asyncio.sleep(backoff)
                if status != 200:
                    raise RuntimeError(f"{running.url}{running.path} answered {status}")
                if (finished := time.perf_counter()) >= begin and finished < end:
                    latencies.append(finished - started)
        finally:
            connection.writer.close()

    async def meter() -> tuple[float, float, float, list[int]]:
        await asyncio.sleep(warmup)
        threads, own = tree_thread_cpu(running.pid), time.process_time()
        calls = len(batch_sizes(running.batch_log))
        await asyncio.sleep(seconds)
        own = time.process_time() - own
        spent = [
            cpu - threads.get(thread, 0.0) for thread, cpu in tree_thread_cpu(running.pid).items()
        ]
        return sum(spent), max(spent, default=0.0), own, batch_sizes(running.batch_log)[calls:]

    tasks = [asyncio.ensure_future(client()) for _ in range(clients)]
    server_cpu, busiest, client_cpu, batches = await meter()
    await asyncio.gather(*tasks)
    return Window(seconds, latencies, busy, server_cpu, busiest, client_cpu, batches)


def measure(
    running: Running, model: Model, clients: int, warmup: float, seconds: float, backoff: float
) -> Window:
    body = json.dumps({"input": {model.param: model.payload()}}).encode()
    load = closed_loop(running, body, clients, warmup, seconds, backoff)
    try:  # the cheaper loop leaves more of a small machine to the servers measured
        import uvloop

        return uvloop.run(load)
    except ImportError:
        return asyncio.run(load)


def answer(running: Running, model: Model) -> object:
    """One request's output: the columns must agree on it."""
    with httpx.Client(timeout=30) as client:
        response = client.post(
            running.url + running.path, json={"input": {model.param: model.payload()}}
        )
        response.raise_for_status()
        return response.json()["output"]


def batch_sizes(log: Path) -> list[int]:
    return [int(line) for line in log.read_text().split()] if log.exists() else []


# --- report -------------------------------------------------------------------------------------

ROWS = (
    "throughput (req/s)",
    "latency p50 (ms)",
    "latency p99 (ms)",
    "items per model call",
    "409 answers per request",
    "server CPU per request (ms)",
    "its busiest thread's (ms)",
    "client CPU (% of a core)",
)


def summarize(window: Window) -> dict[str, float]:
    done = max(1, len(window.latencies))
    latencies = window.latencies or [float("nan")]
    return {
        "throughput (req/s)": window.throughput,
        "latency p50 (ms)": percentile(latencies, 0.5) * 1000,
        "latency p99 (ms)": percentile(latencies, 0.99) * 1000,
        "items per model call": statistics.fmean(window.batches) if window.batches else 0.0,
        "409 answers per request": window.busy / done,
        "server CPU per request (ms)": window.server_cpu / done * 1000,
        "its busiest thread's (ms)": window.busiest_thread_cpu / done * 1000,
        "client CPU (% of a core)": 100 * window.client_cpu / window.seconds,
    }


def ratio(row: str, ours: float, theirs: float) -> str:
    """How much better `ours` is (> 1: better), for the rows where better has a direction."""
    if row == "throughput (req/s)":
        value = ours / theirs if theirs else float("inf")
    elif row.startswith("latency"):
        value = theirs / ours if ours else float("inf")
    else:
        return ""
    return f"{value:.2f}x"


def print_table(title: str, columns: dict[Column, dict[str, float]]) -> None:
    """The columns side by side, then each batched column against the (first) unbatched one
    and against LitServe."""
    first = {column.kind: column for column in reversed(columns)}
    pairs = [
        (column, first[other])
        for column in columns
        if column.kind == "batched"
        for other in ("unbatched", "litserve")
        if other in first
    ]
    names = [f"{a.label} / {b.label}" for a, b in pairs]
    widths = [len(name) + 3 for name in names]
    print(f"\n{title}")
    head = "".join(f"{column.label:>24}" for column in columns)
    tail = "".join(f"{name:>{width}}" for name, width in zip(names, widths, strict=True))
    print(f"{'':<30}{head}{tail}")
    for row in ROWS:
        digits = 1 if row.startswith(("throughput", "latency", "client")) else 2
        cells = "".join(f"{rows[row]:>24.{digits}f}" for rows in columns.values())
        cells += "".join(
            f"{ratio(row, columns[a][row], columns[b][row]):>{width}}"
            for (a, b), width in zip(pairs, widths, strict=True)
        )
        print(f"{row:<30}{cells.rstrip()}")


def one_window(model: Model, column: Column, args: argparse.Namespace) -> tuple[Window, object]:
    """A fresh server, one request's output, then a warmup and one measured window."""
    with serve(model, column) as running:
        output = answer(running, model)
        backoff = args.backoff_ms / 1000
        return measure(running, model, args.clients, args.warmup, args.seconds, backoff), output


def run_model(model: Model, columns: list[Column], args: argparse.Namespace) -> None:
    """Round-robin over the columns, a server at a time (LitServe's idle loop polls, ~13 % of a
    core, which would tax the others), so a drift in the shared machine's load hits all alike."""
    windows: dict[Column, list[dict[str, float]]] = {column: [] for column in columns}
    outputs: dict[str, object] = {}
    for _ in range(args.repeat):
        for column in columns:
            window, outputs[column.label] = one_window(model, column, args)
            windows[column].append(summarize(window))
    if len({json.dumps(output) for output in outputs.values()}) > 1:
        print(f"the columns disagree on one request's output: {outputs}")
    medians = {
        column: {row: statistics.median(window[row] for window in rows) for row in ROWS}
        for column, rows in windows.items()
    }
    print_table(model.title, medians)


def batch_available() -> bool:
    probe = "import cog, sys; sys.exit(0 if hasattr(cog, 'batch') else 1)"
    return subprocess.run([sys.executable, "-c", probe]).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds (a cell is their median)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of a measured window")
    parser.add_argument("--warmup", type=float, default=1.0, help="load before each window")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--backoff-ms", type=float, default=2.0, help="wait after a 409")
    parser.add_argument("--models", default="sleep,matrix")
    parser.add_argument(
        "--columns",
        default="unbatched,batched,litserve",
        help="comma-separated: unbatched, batched, litserve; a pycog one may name its style "
        "(batched:sync)",
    )
    # The defaults give each pycog column its best measured number: unbatched `queue` runs its
    # calls and round trips to the worker one after another (half the `async` rate on the NumPy
    # model); batched `async` seals its second slot's batch after 10 ms even while the model is
    # busy with the first (smaller batches than `queue`, which takes all that waits at once).
    parser.add_argument("--unbatched-style", choices=tuple(STYLES), default="async")
    parser.add_argument("--batched-style", choices=tuple(STYLES), default="queue")
    parser.add_argument("--litserve-style", choices=tuple(LITSERVE_STYLES), default="mp")
    parser.add_argument(
        "--batch-wait",
        choices=(str(MAX_WAIT_MS), "auto"),
        default=str(MAX_WAIT_MS),
        help="@cog.batch's max_wait_ms (LitServe's batch_timeout stays 10 ms)",
    )
    args = parser.parse_args()
    defaults = {
        "unbatched": args.unbatched_style,
        "batched": args.batched_style,
        "litserve": args.litserve_style,
        "wait": '"auto"' if args.batch_wait == "auto" else str(MAX_WAIT_MS),
    }
    columns = [Column.parse(spec, defaults) for spec in args.columns.split(",")]
    if any(column.kind == "batched" for column in columns) and not batch_available():
        print("cog.batch is not in this tree: the @cog.batch columns are left out")
        columns = [column for column in columns if column.kind != "batched"]
    for name in args.models.split(","):
        run_model(MODELS[name], columns, args)
    print(
        f"\nmedians of {args.repeat} rounds (a fresh server each), windows of {args.seconds:g} s"
        f" after {args.warmup:g} s of warmup;"
        f" {args.clients} clients; {os.cpu_count()} cores; batches of at most {MAX_SIZE},"
        f" waiting at most {MAX_WAIT_MS} ms"
    )
    notes = {
        f"{column.label.split()[0] if column.kind == 'litserve' else 'pycog'} {column.style}": (
            LITSERVE_STYLES if column.kind == "litserve" else STYLES
        )[column.style]
        for column in columns
    }
    for name, note in notes.items():
        print(f"{name}: {note}")
    print("ratios > 1: the first named is better")


STYLES = {
    "sync": "def predict, concurrency.max 1: clients beyond a call (or a batch) are answered 409 "
    "and retry",
    "queue": f"def predict, concurrency.max 1, COG_MAX_QUEUE={QUEUE}: clients beyond a call (or "
    "a batch) wait in the server's queue",
    "async": "async def predict running the model in a thread (asyncio.to_thread), concurrency.max "
    "32 unbatched / 2 batched: every client is admitted, calls stay one at a time",
}


LITSERVE_STYLES = {
    "mp": "LitServer's defaults (multiprocessing queues between its processes)",
    "zmq": "LitServer(fast_queue=True): ZeroMQ between its processes",
}


if __name__ == "__main__":
    main()
