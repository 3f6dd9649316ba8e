"""One prediction attempt, from Predict to Done, whichever runner runs it.

An attempt owns what every prediction needs around the user's call: the context variable and
the log attribution that route its output, its metrics scope, `Started`, the mapping of how
the call ended (a value, an error, any BaseException, a cancel) to `Done`, and `Done` itself,
sent exactly once. Its state moves WAITING → RUNNING → FINISHED under one lock, which is also
what a cancel takes: a cancel before the call starts skips it, during the call interrupts it,
after the call is a no-op (the result stands and Done is sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from ..exceptions import CancelationException
from ..scope import Scope, prediction_scope
from .events import Done, Message, Metric, Output, Predict, Started
from .logs import LogCapture, current_prediction
from .outputs import encode
from .tracing import NO_SPANS, AttemptSpans, NoSpans

Send = Callable[[Message], None]


class AttemptState(str, Enum):  # str-valued: the runtime also runs on 3.10 (no StrEnum)
    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"


class Interrupt(Protocol):
    """How a runner stops its running call (see cancel.py)."""

    def interrupt(self) -> None: ...

    def withdraw(self) -> None:
        """Take back an interrupt not yet delivered: the call has finished."""


@dataclass
class Outcome:
    """How one prediction ended, gathered while it runs."""

    error: str | None = None
    canceled: bool = False
    iterator: bool = False
    output: Any = None
    final: bool = False

    def done(self, prediction_id: str) -> Done:
        return Done(prediction_id, **vars(self))  # vars: the output is not copied


class Attempt:
    """One prediction's run; `begin`, `start`, then `take_result`/`record`, then `end`."""

    def __init__(
        self,
        message: Predict,
        send: Send,
        capture: LogCapture,
        spans: AttemptSpans | NoSpans = NO_SPANS,
    ) -> None:
        self.message = message
        self.spans = spans
        """Its tracing spans (none when tracing is off): the attempt's, the input's, the call's."""
        self.id = message.id
        self.send = send
        self.capture = capture
        self.state = AttemptState.WAITING
        self.outcome = Outcome()
        self.lock = threading.Lock()
        self._cancel_requested = False
        self._interrupt: Interrupt | None = None
        self._undo = contextlib.ExitStack()
        self._settled = False
        """Whether the outcome is known: a result taken, an exception recorded."""
        self._done_sent = False

    # -- the context around the call -----------------------------------------------------------

    def begin(self) -> None:
        """Route logs and metrics to this prediction (in the thread or task that runs it)."""
        token = current_prediction.set(self.id)
        self._undo.callback(current_prediction.reset, token)
        self.capture.attribution.start(self.id)
        self._undo.callback(self.capture.attribution.stop, self.id)
        self._undo.callback(self.capture.finish, self.id)  # runs first: flush, then stop
        self._undo.enter_context(prediction_scope(Scope(self._metric, self.message.context)))
        self._undo.enter_context(self.spans.execute())  # ends before Done is sent

    def begin_batched(self) -> None:
        """A request in a batch: the batch owns the context (`Batch.begin`); the request keeps
        its own execute span, ended before its Done is sent."""
        self._undo.enter_context(self.spans.execute_batched())

    def _metric(self, name: str, value: Any, mode: str) -> None:
        self.send(Metric(self.id, name, value, mode))

    def start(self, interrupt: Interrupt) -> bool:
        """WAITING → RUNNING and send Started; False (canceled) when a cancel came first."""
        with self.lock:
            self.state = AttemptState.RUNNING
            if self._cancel_requested:
                self.outcome.canceled = self._settled = True
                return False
            self._interrupt = interrupt
        self.send(Started(self.id))
        return True

    def finish(self) -> None:
        """RUNNING → FINISHED: from here on a cancel is a no-op. A thread interrupt may land in
        this very code (it is raised at any bytecode): it is absorbed and the finish retried."""
        while True:
            try:
                with self.lock:
                    self.state = AttemptState.FINISHED
                    if self._interrupt is not None:
                        self._interrupt.withdraw()
                return
            except CancelationException:
                continue

    def end(self) -> None:
        """Finish, undo the context, send Done; idempotent (a runner may call it twice)."""
        self.finish()
        if self._done_sent:
            return
        self._done_sent = True
        if not self._settled:  # only an interrupt landing in the runner's own code gets here
            self.outcome.canceled = True
        self._undo.close()
        self.send(self.outcome.done(self.id))

    # -- cancel ----------------------------------------------------------------------------------

    def cancel(self) -> None:
        with self.lock:
            if self.state is AttemptState.WAITING:
                self._cancel_requested = True
            elif self.state is AttemptState.RUNNING and not self._settled and self._interrupt:
                self._interrupt.interrupt()
            # Settled or FINISHED: the call is over and its result stands.

    # -- results ---------------------------------------------------------------------------------

    def emit(self, item: Any) -> None:
        """Send one yielded item as it comes."""
        self.send(Output(self.id, encode(item, self.message.workdir)))

    def take_result(self, result: Any) -> None:
        """Stream a generator's items; keep a return value for the Done message."""
        if inspect.isgenerator(result):
            for item in result:
                self.emit(item)
            # Set once exhausted: a generator that raised is reported as not one.
            self.outcome.iterator = self._settled = True
            return
        self.outcome.output = encode(result, self.message.workdir)
        self.outcome.final = self._settled = True

    async def take_stream(self, stream: AsyncIterator[Any]) -> None:
        """Send an async generator's items as they are produced, not collected."""
        self.outcome.iterator = True
        async for item in stream:
            self.emit(item)
        self._settled = True

    def record(self, exc: BaseException) -> None:
        """How the call raised: a cancel, else a failure (SystemExit, KeyboardInterrupt and
        custom BaseExceptions too: only this prediction fails, never the worker). An interrupt
        that lands once the result is taken changes nothing: it came after the call."""
        if self._settled:
            return
        self._settled = True
        if isinstance(exc, CancelationException | asyncio.CancelledError):
            self.outcome.canceled = True
        else:
            self.outcome.error = describe(exc)


def describe(exc: BaseException) -> str:
    """A prediction's error: the message of an ordinary exception; for the others (SystemExit,
    KeyboardInterrupt, custom BaseException) their class too, as Cog says `SystemExit: 3`."""
    if isinstance(exc, Exception):
        return str(exc) or type(exc).__name__
    return qualified(exc)


def qualified(exc: BaseException) -> str:
    """`RuntimeError: disk full`: how Cog words a failed health check and a BaseException."""
    text = str(exc)
    return f"{type(exc).__qualname__}: {text}" if text else type(exc).__qualname__
