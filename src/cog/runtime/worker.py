"""The worker process: `python -m cog.runtime.worker --fd N --ref predict.py:Predictor`.

It imports the model, runs setup(), reports Ready (with the schema read from the loaded
predictor), then serves Predict / Cancel / Healthcheck messages until Shutdown or until the
server goes away. How predictions run is the runner's business (runners.py), health checks
the health module's.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import socket
import sys
import threading
import traceback
from concurrent.futures import Future
from pathlib import Path
from typing import IO, Any

from . import lifeline
from .attempt import Send
from .batches import AsyncBatchRunner, SyncBatchRunner
from .errors import SchemaUnreadable
from .events import Cancel, Healthcheck, Message, Predict, Ready, SetupFailed, Shutdown
from .health import HealthChecks
from .logs import LogCapture
from .predictor import LoadedPredictor
from .runners import AsyncRunner, SyncRunner
from .tracing import TraceSettings, WorkerTracing
from .transport import BlockingChannel


class Worker:
    """Reads the server's messages and hands them to the runner and the health checks."""

    def __init__(
        self,
        channel: BlockingChannel,
        predictor: LoadedPredictor,
        capture: LogCapture,
        loop: asyncio.AbstractEventLoop | None,
        slots: int = 1,
        tracing: WorkerTracing | None = None,
    ) -> None:
        self.channel = channel
        self.loop = loop
        self.runner = _runner(predictor, channel.send, capture, loop, slots, tracing)
        self.health = HealthChecks(predictor.healthcheck(), channel.send, loop)

    def handle(self, message: Message) -> bool:
        """Act on one message from the server; False once it asks the worker to stop."""
        if isinstance(message, Predict):
            self.runner.submit(message)
        elif isinstance(message, Cancel):
            self.runner.cancel(message.id)
        elif isinstance(message, Healthcheck):
            self.health.request(message)
        elif isinstance(message, Shutdown):
            return False
        return True

    def serve(self) -> None:
        if self.loop is not None:
            self.serve_on_loop(self.loop)
            return
        assert isinstance(self.runner, SyncRunner | SyncBatchRunner)
        self.runner.start()
        while (message := self.channel.receive()) is not None:
            if not self.handle(message):
                break
        self.runner.stop()

    def serve_on_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Async predictors: read the server's messages on the event loop itself, so a
        prediction starts without a hop from a reader thread; block until the server is gone
        or asks the worker to stop."""
        stopped: Future[None] = Future()

        def readable() -> None:
            try:
                messages = self.channel.receive_ready()
                if messages is None or not all(self.handle(m) for m in messages):
                    loop.remove_reader(self.channel.sock.fileno())
                    stopped.set_result(None)
            except BaseException as exc:
                loop.remove_reader(self.channel.sock.fileno())
                stopped.set_exception(exc)

        def start() -> None:
            self.channel.batch_on(loop, threading.get_ident())
            loop.add_reader(self.channel.sock.fileno(), readable)

        loop.call_soon_threadsafe(start)
        try:
            stopped.result()
        finally:
            self.channel.flush()  # what the loop sent in its last turn


Runner = SyncRunner | AsyncRunner | SyncBatchRunner | AsyncBatchRunner


def _runner(
    predictor: LoadedPredictor,
    send: Send,
    capture: LogCapture,
    loop: asyncio.AbstractEventLoop | None,
    slots: int,
    tracing: WorkerTracing | None = None,
) -> Runner:
    """Where and how predictions run: by kind (def or async def) and batching."""
    if predictor.batch is not None:
        if loop is None:
            return SyncBatchRunner(predictor, predictor.batch, send, capture, tracing)
        return AsyncBatchRunner(predictor, predictor.batch, slots, send, capture, loop, tracing)
    if loop is None:
        return SyncRunner(predictor, send, capture, tracing)
    return AsyncRunner(predictor, send, capture, loop, tracing)


def _start_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True, name="event-loop").start()
    return loop


def _schema(
    predictor: LoadedPredictor, mode: str, ref: str, other_ref: str | None
) -> dict[str, Any]:
    """The served document, read from the loaded predictor (raises SchemaUnreadable: the server
    never serves a model whose inputs it cannot validate). The other mode's predictor, when
    cog.yaml sets both, is read from its source: /openapi.json describes both, as Cog's does."""
    from ..schema import document_for, read_predictor

    try:
        own = read_predictor(predictor.instance, mode)
    except Exception as exc:
        raise SchemaUnreadable(
            f"cannot serve {ref}: its schema cannot be read ({exc}), and without it inputs "
            "could not be validated; `cog schema` reports the same problem: fix it there"
        ) from exc
    other = _read_other(other_ref, "predict" if mode == "train" else "train")
    predict, train = (other, own) if mode == "train" else (own, other)
    return document_for(predict, train)


def _read_other(ref: str | None, mode: str) -> Any:
    """The other mode's reading from source, or None (it is not served here: a problem with it
    is a warning, not a reason to refuse what is)."""
    if ref is None:
        return None
    from ..schema.static import read_reference

    try:
        return read_reference(Path.cwd(), ref, mode)
    except Exception as exc:
        print(f"schema: /openapi.json leaves out {mode} ({ref}): {exc}", file=sys.stderr)
        return None


def run(
    fd: int,
    ref: str,
    mode: str,
    concurrency: int,
    other_ref: str | None = None,
    trace_settings: TraceSettings | None = None,
) -> int:
    channel = BlockingChannel(socket.socket(fileno=fd))
    # Console spans go where the server's own output goes, not into the model's logs.
    console = _console() if trace_settings and trace_settings.exporter == "console" else None
    capture = LogCapture(channel.send)
    capture.install()
    tracing: WorkerTracing | None = None
    try:
        if trace_settings is not None:  # before the model is imported: its spans join ours
            tracing = WorkerTracing.start(trace_settings, Path.cwd(), console)
        predictor = LoadedPredictor(ref, os.getcwd(), mode)
        # Modules, classes and functions imported so far live as long as the worker: kept out of
        # the collector's sight, full collections during predictions stay short.
        gc.freeze()
        if concurrency > 1 and not predictor.is_async:
            raise ValueError("COG_MAX_CONCURRENCY > 1 requires an async run() or predict() method")
        schema = _schema(predictor, mode, ref, other_ref)  # before setup: no wait to hear of it
        loop = _start_loop() if predictor.is_async else None
        predictor.setup(loop)
    except SchemaUnreadable as exc:  # no traceback: the reason is the whole story
        channel.send(SetupFailed(str(exc)))
        return 1
    except BaseException:
        error = traceback.format_exc(limit=-8)
        print(error, file=sys.stderr, end="")
        sys.stderr.flush()
        channel.send(SetupFailed(error))
        return 1
    # The server's slot count (COG_MAX_CONCURRENCY) when it chose one, else the model's.
    slots = concurrency if concurrency > 1 else predictor.concurrency or 1
    worker = Worker(channel, predictor, capture, loop, slots, tracing)
    batch_size = predictor.batch.max_size if predictor.batch is not None else None
    channel.send(Ready(schema, predictor.streams, predictor.concurrency, batch_size))
    worker.serve()
    if tracing is not None:
        tracing.shutdown()
    return 0


def _console() -> IO[str]:
    """The worker's stdout as it was before the capture (the server's stdout)."""
    return os.fdopen(os.dup(1), "w", buffering=1)


def _left_to_the_server(signum: int, frame: Any) -> None:
    """SIGINT: nothing to do here (see main)."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="cog-worker")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--ref", required=True)
    parser.add_argument("--mode", choices=["predict", "train"], default="predict")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--other-ref", default=None)
    parser.add_argument("--tracing", type=TraceSettings.from_json, default=None)
    args = parser.parse_args(argv)
    # Ctrl-C in the terminal of `python -m cog.server.http` reaches its whole process group: the
    # server shuts down gracefully (cancels, then stops this worker); a KeyboardInterrupt here
    # would kill the worker first and fail what it runs. A Python handler, not SIG_IGN: the
    # model's own subprocesses still get the default action.
    signal.signal(signal.SIGINT, _left_to_the_server)
    parent = lifeline.expected_parent()
    if parent is not None:
        # setup() and a running prediction do not read the server's socket: its end of stream
        # alone would not stop a worker whose server was killed.
        lifeline.die_with_parent(parent, signal.SIGKILL, lambda: os._exit(1))
    code = run(args.fd, args.ref, args.mode, args.concurrency, args.other_ref, args.tracing)
    os._exit(code)  # daemon threads (user code, pumps) must not keep the worker alive


if __name__ == "__main__":
    main()
