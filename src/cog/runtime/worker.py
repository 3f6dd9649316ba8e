"""The worker process: `python -m cog.runtime.worker --fd N --ref predict.py:Predictor`.

It imports the model, runs setup(), reports Ready (with the schema read from the loaded
predictor), then serves Predict / Cancel / Healthcheck messages until Shutdown or until the
server goes away. Synchronous predictors run one at a time on a prediction thread (cancel
raises CancelationException in it); async predictors run as tasks on one event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import inspect
import os
import queue
import signal
import socket
import sys
import threading
import traceback
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout  # not TimeoutError on 3.10
from dataclasses import dataclass
from typing import Any

from ..exceptions import CancelationException
from ..scope import Scope, prediction_scope
from . import lifeline
from .cancel import raise_in_thread
from .errors import SchemaUnreadable
from .events import (
    Cancel,
    Done,
    Healthcheck,
    HealthcheckResult,
    Message,
    Metric,
    Output,
    Predict,
    Ready,
    SetupFailed,
    Shutdown,
    Started,
)
from .logs import LogCapture, current_prediction
from .outputs import encode
from .predictor import LoadedPredictor
from .transport import BlockingChannel

HEALTHCHECK_TIMEOUT = 5.0


class Worker:
    def __init__(self, channel: BlockingChannel, predictor: LoadedPredictor, capture: LogCapture):
        self.channel = channel
        self.predictor = predictor
        self.capture = capture
        self.loop: asyncio.AbstractEventLoop | None = None
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.queue: queue.Queue[Predict | None] = queue.Queue()
        self.running: str | None = None
        self.thread_id: int | None = None
        self.canceled: set[str] = set()
        self.lock = threading.Lock()

    # -- one prediction, sync or async ---------------------------------------------------

    def _scope(self, message: Predict) -> Scope:
        def sink(name: str, value: Any, mode: str) -> None:
            self.channel.send(Metric(message.id, name, value, mode))

        return Scope(sink, message.context)

    def run_sync(self, message: Predict) -> None:
        token = current_prediction.set(message.id)
        self.capture.attribution.start(message.id)
        outcome = _Outcome()
        try:
            with prediction_scope(self._scope(message)):
                self.channel.send(Started(message.id))
                arguments = self.predictor.coercer.prepare(message.input, message.workdir)
                self._take_result(message, self.predictor.function(**arguments), outcome)
        except CancelationException:
            outcome.canceled = True
        except BaseException as exc:  # SystemExit, KeyboardInterrupt too: only this one fails
            outcome.error = _describe(exc)
        finally:
            self._finish(message.id, outcome)
            current_prediction.reset(token)

    async def run_async(self, message: Predict) -> None:
        current_prediction.set(message.id)
        self.capture.attribution.start(message.id)
        outcome = _Outcome()
        try:
            with prediction_scope(self._scope(message)):
                self.channel.send(Started(message.id))
                if self.predictor.coercer.downloads(message.input):
                    arguments = await asyncio.to_thread(
                        self.predictor.coercer.prepare, message.input, message.workdir
                    )
                else:  # nothing to download: no need to leave the event loop
                    arguments = self.predictor.coercer.prepare(message.input, message.workdir)
                call = self.predictor.function(**arguments)
                if inspect.isasyncgen(call):
                    outcome.iterator = True
                    async for item in call:  # streamed as produced, not collected
                        self.channel.send(Output(message.id, encode(item, message.workdir)))
                else:
                    self._take_result(message, await call, outcome)
        except (asyncio.CancelledError, CancelationException):
            outcome.canceled = True
        except BaseException as exc:  # caught here, SystemExit would stop the event loop
            outcome.error = _describe(exc)
        finally:
            self._finish(message.id, outcome)
            self.tasks.pop(message.id, None)

    def _take_result(self, message: Predict, result: Any, outcome: _Outcome) -> None:
        """Send a generator's items as they come; keep a return value for the Done message."""
        if inspect.isgenerator(result):
            for item in result:
                self.channel.send(Output(message.id, encode(item, message.workdir)))
            # Set once exhausted: a generator that raised is reported as not one.
            outcome.iterator = True
            return
        outcome.output = encode(result, message.workdir)
        outcome.final = True

    def _finish(self, prediction_id: str, outcome: _Outcome) -> None:
        self.capture.finish(prediction_id)
        self.capture.attribution.stop(prediction_id)
        self.channel.send(outcome.done(prediction_id))

    # -- dispatch --------------------------------------------------------------------------

    def predict(self, message: Predict) -> None:
        if self.loop is not None:  # called on the loop's thread (see serve_on_loop)
            task = self.loop.create_task(self.run_async(message))
            task.add_done_callback(lambda _: self._canceled_before_start(message.id))
            self.tasks[message.id] = task
        else:
            self.queue.put(message)

    def _canceled_before_start(self, prediction_id: str) -> None:
        """A task canceled before its first step never runs run_async (nor its `finally`): its
        Done is sent here, else the server would wait for it forever."""
        if self.tasks.pop(prediction_id, None) is not None:
            self.channel.send(Done(prediction_id, canceled=True))

    def cancel(self, prediction_id: str) -> None:
        if self.loop is not None:
            task = self.tasks.get(prediction_id)
            if task is not None:
                task.cancel()
            return
        with self.lock:
            if self.running == prediction_id and self.thread_id is not None:
                raise_in_thread(self.thread_id)
            else:
                self.canceled.add(prediction_id)

    def sync_loop(self) -> None:
        """The prediction thread of a synchronous predictor."""
        self.thread_id = threading.get_ident()
        while (message := self.queue.get()) is not None:
            with self.lock:
                if message.id in self.canceled:
                    self.canceled.discard(message.id)
                    self.channel.send(Done(message.id, canceled=True))
                    continue
                self.running = message.id
            try:
                self.run_sync(message)
            except CancelationException:  # arrived after the prediction had ended
                pass
            finally:
                with self.lock:
                    self.running = None

    def healthcheck(self, message: Healthcheck) -> None:
        check = self.predictor.healthcheck()
        if check is None:
            self.channel.send(HealthcheckResult(message.id, True))
            return
        threading.Thread(target=self._run_healthcheck, args=(message, check), daemon=True).start()

    def _run_healthcheck(self, message: Healthcheck, check: Any) -> None:
        result: Future[Any] = Future()
        if inspect.iscoroutinefunction(check) and self.loop is not None:
            # An async predictor's check runs on its loop, beside its predictions.
            asyncio.run_coroutine_threadsafe(_settle_async(result, check), self.loop)
        else:
            # A sync predictor's async check gets an event loop of its own.
            call = (lambda: asyncio.run(check())) if inspect.iscoroutinefunction(check) else check
            threading.Thread(target=_settle, args=(result, call), daemon=True).start()
        try:
            healthy = result.result(timeout=HEALTHCHECK_TIMEOUT)
        except FutureTimeout:
            late = f"user-defined healthcheck timed out after {HEALTHCHECK_TIMEOUT:.1f} seconds"
            self.channel.send(HealthcheckResult(message.id, False, late))
            return
        except BaseException as exc:  # SystemExit in a check must not leave the probe waiting
            self.channel.send(HealthcheckResult(message.id, False, _qualified(exc)))
            return
        error = None if healthy else "user-defined healthcheck returned False"
        self.channel.send(HealthcheckResult(message.id, bool(healthy), error))

    def handle(self, message: Message) -> bool:
        """Act on one message from the server; False once it asks the worker to stop."""
        if isinstance(message, Predict):
            self.predict(message)
        elif isinstance(message, Cancel):
            self.cancel(message.id)
        elif isinstance(message, Healthcheck):
            self.healthcheck(message)
        elif isinstance(message, Shutdown):
            return False
        return True

    def serve(self) -> None:
        if self.loop is not None:
            self.serve_on_loop(self.loop)
            return
        threading.Thread(target=self.sync_loop, daemon=True, name="prediction").start()
        while (message := self.channel.receive()) is not None:
            if not self.handle(message):
                break
        self.queue.put(None)

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


@dataclass
class _Outcome:
    """How one prediction ended, gathered while it runs."""

    error: str | None = None
    canceled: bool = False
    iterator: bool = False
    output: Any = None
    final: bool = False

    def done(self, prediction_id: str) -> Done:
        return Done(prediction_id, **vars(self))  # vars: the output is not copied


def _settle(future: Future[Any], function: Any) -> None:
    try:
        future.set_result(function())
    except BaseException as exc:
        future.set_exception(exc)


async def _settle_async(future: Future[Any], function: Any) -> None:
    try:
        future.set_result(await function())
    except BaseException as exc:  # kept off the loop: SystemExit there would stop it
        future.set_exception(exc)


def _describe(exc: BaseException) -> str:
    """A prediction's error: the message of an ordinary exception; for the others (SystemExit,
    KeyboardInterrupt, custom BaseException) their class too, as Cog says `SystemExit: 3`."""
    if isinstance(exc, Exception):
        return str(exc) or type(exc).__name__
    return _qualified(exc)


def _qualified(exc: BaseException) -> str:
    """`RuntimeError: disk full`: how Cog words a failed health check and a BaseException."""
    text = str(exc)
    return f"{type(exc).__qualname__}: {text}" if text else type(exc).__qualname__


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
    from pathlib import Path

    from ..schema.static import read_reference

    try:
        return read_reference(Path.cwd(), ref, mode)
    except Exception as exc:
        print(f"schema: /openapi.json leaves out {mode} ({ref}): {exc}", file=sys.stderr)
        return None


def run(fd: int, ref: str, mode: str, concurrency: int, other_ref: str | None = None) -> int:
    channel = BlockingChannel(socket.socket(fileno=fd))
    capture = LogCapture(channel.send)
    capture.install()
    try:
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
    worker = Worker(channel, predictor, capture)
    worker.loop = loop
    channel.send(Ready(schema, predictor.is_async, predictor.streams, predictor.concurrency))
    worker.serve()
    return 0


def _left_to_the_server(signum: int, frame: Any) -> None:
    """SIGINT: nothing to do here (see main)."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="cog-worker")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--ref", required=True)
    parser.add_argument("--mode", choices=["predict", "train"], default="predict")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--other-ref", default=None)
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
    code = run(args.fd, args.ref, args.mode, args.concurrency, args.other_ref)
    os._exit(code)  # daemon threads (user code, pumps) must not keep the worker alive


if __name__ == "__main__":
    main()
