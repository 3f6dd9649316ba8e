"""The two ways the worker runs predictions: a thread and a queue, or one event loop and tasks.

Both take Predict and Cancel messages and run each prediction as an `Attempt`, which does
everything around the user's call; a runner only decides where the call runs and how it is
interrupted.
"""

from __future__ import annotations

import asyncio
import inspect
import queue
import threading
from collections.abc import Callable
from typing import Any, Protocol

from ..exceptions import CancelationException
from .attempt import Attempt, Send
from .cancel import TaskInterrupt, ThreadInterrupt
from .events import Predict
from .inputs import InputCoercer
from .logs import LogCapture
from .tracing import NO_SPANS, AttemptSpans, NoSpans, WorkerTracing


class Entry(Protocol):
    """What a runner calls: the predictor's entry function and its inputs' coercion (a
    `LoadedPredictor`, or in tests any function with an `InputCoercer`)."""

    @property
    def function(self) -> Callable[..., Any]: ...

    @property
    def coercer(self) -> InputCoercer: ...


def spans_of(tracing: WorkerTracing | None, message: Predict) -> AttemptSpans | NoSpans:
    return NO_SPANS if tracing is None else tracing.spans(message)


class SyncRunner:
    """A synchronous predictor: one prediction at a time on the prediction thread, in order;
    a cancel raises CancelationException in that thread."""

    def __init__(
        self,
        predictor: Entry,
        send: Send,
        capture: LogCapture,
        tracing: WorkerTracing | None = None,
    ) -> None:
        self.predictor = predictor
        self.send = send
        self.capture = capture
        self.tracing = tracing
        self.attempts: dict[str, Attempt] = {}
        self.queue: queue.Queue[Attempt | None] = queue.Queue()
        self.current: Attempt | None = None

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._work, daemon=True, name="prediction")
        thread.start()
        return thread

    def submit(self, message: Predict) -> None:
        attempt = Attempt(message, self.send, self.capture, spans_of(self.tracing, message))
        self.attempts[message.id] = attempt
        self.queue.put(attempt)

    def cancel(self, prediction_id: str) -> None:
        attempt = self.attempts.get(prediction_id)
        if attempt is not None:
            attempt.cancel()

    def stop(self) -> None:
        """The prediction thread ends after what is queued."""
        self.queue.put(None)

    def _work(self) -> None:
        while True:
            try:
                self._serve()
                return
            except CancelationException:
                # A late interrupt landed in this runner's own code, between the call and
                # its Done (it is raised at any bytecode): that prediction ends here.
                if self.current is not None:
                    self.current.end()
                    self.attempts.pop(self.current.id, None)
                    self.current = None

    def _serve(self) -> None:
        while (attempt := self.queue.get()) is not None:
            self.current = attempt
            try:
                self._call(attempt)
            finally:
                attempt.end()
            self.attempts.pop(attempt.id, None)
            self.current = None

    def _call(self, attempt: Attempt) -> None:
        attempt.begin()
        try:
            if attempt.start(ThreadInterrupt(threading.get_ident())):
                message, spans = attempt.message, attempt.spans
                with spans.prepare_input():
                    arguments = self.predictor.coercer.prepare(message.input, message.workdir)
                with spans.invoke():  # a generator's items are made while it is consumed
                    attempt.take_result(self.predictor.function(**arguments))
        except BaseException as exc:  # SystemExit, KeyboardInterrupt too: only this one fails
            attempt.record(exc)


class AsyncRunner:
    """An async predictor: each prediction a task on the predictor's event loop (up to its
    concurrency, which the server enforces); a cancel cancels the task. Its methods are
    called on the loop's thread."""

    def __init__(
        self,
        predictor: Entry,
        send: Send,
        capture: LogCapture,
        loop: asyncio.AbstractEventLoop,
        tracing: WorkerTracing | None = None,
    ) -> None:
        self.predictor = predictor
        self.send = send
        self.capture = capture
        self.loop = loop
        self.tracing = tracing
        self.attempts: dict[str, Attempt] = {}

    def submit(self, message: Predict) -> None:
        attempt = Attempt(message, self.send, self.capture, spans_of(self.tracing, message))
        self.attempts[message.id] = attempt  # holds the task too, once it runs
        self.loop.create_task(self._run(attempt))

    def cancel(self, prediction_id: str) -> None:
        attempt = self.attempts.get(prediction_id)
        if attempt is not None:
            attempt.cancel()

    async def _run(self, attempt: Attempt) -> None:
        attempt.begin()
        try:
            task = asyncio.current_task()
            assert task is not None  # run as a task by submit
            if attempt.start(TaskInterrupt(task)):
                spans = attempt.spans
                with spans.prepare_input():
                    arguments = await self._arguments(attempt.message)
                with spans.invoke():
                    call = self.predictor.function(**arguments)
                    if inspect.isasyncgen(call):
                        await attempt.take_stream(call)
                    else:
                        attempt.take_result(await call)
        except BaseException as exc:  # caught here, SystemExit would stop the event loop
            attempt.record(exc)
        finally:
            attempt.end()
            self.attempts.pop(attempt.id, None)

    async def _arguments(self, message: Predict) -> dict[str, Any]:
        coercer = self.predictor.coercer
        if coercer.downloads(message.input):
            return await asyncio.to_thread(coercer.prepare, message.input, message.workdir)
        # Nothing to download: no need to leave the event loop.
        return coercer.prepare(message.input, message.workdir)
