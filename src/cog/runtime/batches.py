"""Batched predictors (`@cog.batch`): requests gathered into batches, one call per batch.

Each request stays an `Attempt` of its own (id, Started, outcome, Done); a `Batch` owns what
the requests of one call share: the context its output and metrics are attributed to (fanned
out to every request still in it), the call's arguments (one list per parameter), and the
mapping of the call's result to each request. When a batch goes is the dispatch policy's
business: `FixedWait` (full, or the oldest request has waited max_wait_ms) or `AdaptiveWait`
(max_wait_ms="auto", docs/batching.md). The runners at the end of this module decide where
calls run: the prediction thread (def), or tasks on the event loop (async def), one batch per
slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..batching import BatchingError, BatchSpec
from ..exceptions import CancelationException
from ..scope import Scope, prediction_scope
from .attempt import Attempt, Interrupt, Send
from .cancel import TaskInterrupt, ThreadInterrupt
from .events import Metric, Predict
from .logs import LogCapture, current_prediction
from .runners import Entry, spans_of
from .tracing import NO_SPANS, WorkerTracing

BATCH_SIZE_METRIC = "batch_size"


class _NoInterrupt:
    """A request's cancel while its batch runs drops it from the batch (`Batch.drop`); the
    call goes on for the others."""

    def interrupt(self) -> None:
        pass

    def withdraw(self) -> None:
        pass


# -- when a batch goes -------------------------------------------------------------------------


class FixedWait:
    """A batch goes once its oldest request has waited `seconds` (or it is full)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def arrived(self, at: float) -> None:
        pass

    def observed(self, size: int, seconds: float, ended: float) -> None:
        pass

    def deadline(self, oldest: float, waiting: int) -> float:
        return oldest + self.seconds


class LatencyFit:
    """The call's latency as `fixed + per_item × size`, fitted by least squares over recent
    calls (older ones weigh less: the model may warm up, inputs may change)."""

    DECAY = 0.95

    def __init__(self) -> None:
        self.weight = self.sx = self.sy = self.sxx = self.sxy = 0.0

    def add(self, size: int, seconds: float) -> None:
        d = self.DECAY
        self.weight = self.weight * d + 1
        self.sx = self.sx * d + size
        self.sy = self.sy * d + seconds
        self.sxx = self.sxx * d + size * size
        self.sxy = self.sxy * d + size * seconds

    def fixed(self) -> float | None:
        """The part of a call's latency that does not grow with its size; None before any call."""
        if self.weight == 0:
            return None
        mean_y = self.sy / self.weight
        spread = self.weight * self.sxx - self.sx * self.sx
        if spread <= 1e-9 * max(1.0, self.weight * self.sxx):  # one size only seen so far
            return mean_y  # all of it, for now: the fit improves once sizes vary
        per_item = max(0.0, (self.weight * self.sxy - self.sx * self.sy) / spread)
        return min(mean_y, max(0.0, (self.sy - per_item * self.sx) / self.weight))


class AdaptiveWait:
    """max_wait_ms="auto": wait for one more request only while it is expected to pay for it.

    The next request is expected one recent gap from now (the median of the last 8 gaps
    between arrivals: short during a burst, and one hiccup does not end it). Waiting for it
    costs each of the `waiting` requests that gap; it saves the newcomer the fixed cost of a
    call of its own. So a batch waits while `waiting × recent gap < fixed`, never longer than
    `fixed` in all (a wait longer than a whole extra call cannot pay off), and goes as soon as
    arrivals stop: nothing for three recent gaps, or a tenth of `fixed` if that is longer.
    Time spent waiting for a busy slot does not count: both clocks start again when a call
    ends (its clients, just answered, may send again). Before the first call there is nothing
    to go by: the batch goes at once.
    """

    RECENT = 8
    """The recent gap is the median of this many latest gaps: a hiccup does not end a burst."""
    STOPPED = 3.0
    """Recent gaps without an arrival after which arrivals have stopped..."""
    STRAGGLERS = 0.1
    """... but never less than this share of a call's fixed cost (what waiting for a late
    request of the same burst may cost)."""

    def __init__(self) -> None:
        self.gaps: deque[float] = deque(maxlen=self.RECENT)
        self.last: float | None = None
        self.freed = 0.0
        self.fit = LatencyFit()

    @property
    def recent(self) -> float | None:
        return statistics.median(self.gaps) if self.gaps else None

    def arrived(self, at: float) -> None:
        if self.last is not None:
            self.gaps.append(max(0.0, at - self.last))
        self.last = at

    def observed(self, size: int, seconds: float, ended: float) -> None:
        """A call of `size` requests took `seconds` and ended at `ended` (monotonic)."""
        self.fit.add(size, seconds)
        self.freed = ended

    def deadline(self, oldest: float, waiting: int) -> float:
        fixed, recent = self.fit.fixed(), self.recent
        if fixed is None or recent is None or self.last is None:
            return oldest
        if waiting * recent >= fixed:
            return oldest
        start = max(oldest, self.freed)
        quiet = max(self.STOPPED * recent, fixed * self.STRAGGLERS)
        return min(start + fixed, max(self.last, self.freed) + quiet)


Policy = FixedWait | AdaptiveWait


def policy_for(spec: BatchSpec) -> Policy:
    if spec.max_wait_ms is None:
        return AdaptiveWait()
    return FixedWait(spec.max_wait_ms / 1000)


@dataclass
class Waiting:
    attempt: Attempt
    arrived: float


class Gathering:
    """The requests waiting for a batch, in arrival order; not thread-safe (the runner's lock
    or loop guards it)."""

    def __init__(self, spec: BatchSpec) -> None:
        self.max_size = spec.max_size
        self.policy = policy_for(spec)
        self.waiting: deque[Waiting] = deque()

    def add(self, attempt: Attempt, now: float) -> None:
        self.waiting.append(Waiting(attempt, now))
        self.policy.arrived(now)

    def remove(self, attempt: Attempt) -> bool:
        for entry in self.waiting:
            if entry.attempt is attempt:
                self.waiting.remove(entry)
                return True
        return False

    def due_in(self, now: float) -> float | None:
        """Seconds until the next batch should go (0: now); None when nothing waits."""
        if not self.waiting:
            return None
        if len(self.waiting) >= self.max_size:
            return 0.0
        deadline = self.policy.deadline(self.waiting[0].arrived, len(self.waiting))
        return max(0.0, deadline - now)

    def take(self) -> list[Attempt]:
        taken: list[Attempt] = []
        while self.waiting and len(taken) < self.max_size:
            taken.append(self.waiting.popleft().attempt)
        return taken


# -- one batch -------------------------------------------------------------------------------


class Batch:
    """One call for several requests. `begin` (context), `start` (each request's Started, or
    its cancel), `prepare` (each request's inputs), `arguments`, then `take_result`/`fail`,
    then `end`. A request canceled meanwhile is dropped (`drop`) and ends canceled at once."""

    _numbers = itertools.count(1)

    def __init__(self, attempts: list[Attempt], send: Send, capture: LogCapture) -> None:
        self.id = f"batch-{next(self._numbers)}"
        self.live = list(attempts)
        self.send = send
        self.capture = capture
        self.lock = threading.Lock()
        self.closed = False
        self._interrupt: Interrupt | None = None
        """How to stop the call while it runs: once every request has left, no one needs it."""
        self.arguments_of: dict[str, dict[str, Any]] = {}
        self.called: list[Attempt] = []
        self._undo = contextlib.ExitStack()

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(attempt.id for attempt in self.live)

    # -- context ---------------------------------------------------------------------------

    def begin(self) -> None:
        """Attribute output and metrics to the batch: each line and metric goes to every
        request still in it."""
        token = current_prediction.set(self.id)
        self._undo.callback(current_prediction.reset, token)
        attribution = self.capture.attribution
        attribution.group(self.id, self.ids)
        self._undo.callback(attribution.ungroup, self.id)
        attribution.start(self.id)
        self._undo.callback(attribution.stop, self.id)
        self._undo.callback(self.capture.finish, self.id)  # runs first: flush, then stop
        self._undo.enter_context(prediction_scope(Scope(self._metric, self._shared_context())))

    def _shared_context(self) -> dict[str, str]:
        """What every request's context agrees on (a call serves them all)."""
        contexts = [attempt.message.context for attempt in self.live]
        first = contexts[0] if contexts else {}
        return {k: v for k, v in first.items() if all(c.get(k) == v for c in contexts[1:])}

    def _metric(self, name: str, value: Any, mode: str) -> None:
        for prediction_id in self.ids:
            self.send(Metric(prediction_id, name, value, mode))

    # -- requests in and out -----------------------------------------------------------------

    def start(self) -> None:
        """Started for each request; those canceled before the call leave the batch here."""
        canceled = []
        with self.lock:
            for attempt in list(self.live):
                attempt.begin_batched()
                if not attempt.start(_NoInterrupt()):
                    self.live.remove(attempt)
                    canceled.append(attempt)
            self._regroup()
        for attempt in canceled:
            attempt.end()

    def drop(self, attempt: Attempt) -> None:
        """A cancel: the request leaves the batch and ends canceled now (the call, if it
        runs, goes on for the others); once the result is taken, a cancel is a no-op."""
        if not self._remove(attempt):
            return
        attempt.cancel()  # before the call started: it is skipped
        attempt.record(CancelationException())
        attempt.end()

    def _remove(self, attempt: Attempt) -> bool:
        with self.lock:
            if self.closed or attempt not in self.live:
                return False
            self.live.remove(attempt)
            self._regroup()
            if not self.live and self._interrupt is not None:
                self._interrupt.interrupt()  # the last one gone: stop the call
                self._interrupt = None
            return True

    def calling(self, interrupt: Interrupt) -> None:
        """The call starts: from now until `returned`, a batch left empty stops it."""
        with self.lock:
            self._interrupt = interrupt

    def returned(self) -> None:
        """The call is over: no interrupt from here on, and one not yet delivered is taken back.
        A thread interrupt may land in this very code: it is absorbed and the step retried."""
        while True:
            try:
                with self.lock:
                    if self._interrupt is not None:
                        self._interrupt.withdraw()
                        self._interrupt = None
                return
            except CancelationException:
                continue

    def _regroup(self) -> None:
        if self.id in self.capture.attribution.groups:  # begun, not ended
            self.capture.attribution.group(self.id, self.ids)

    def prepare(self, attempt: Attempt, coerce: Callable[[Predict], dict[str, Any]]) -> None:
        """One request's inputs, coerced; a bad input fails that request only."""
        try:
            self.arguments_of[attempt.id] = coerce(attempt.message)
        except BaseException as exc:
            self.fail_one(attempt, exc)

    def fail_one(self, attempt: Attempt, exc: BaseException) -> None:
        if self._remove(attempt):
            attempt.record(exc)
            attempt.end()

    def arguments(self, parameters: list[str]) -> dict[str, list[Any]]:
        """The call's arguments: for each parameter, the values of the requests in the batch
        (in arrival order); the requests the call serves are fixed from here on."""
        with self.lock:
            self.called = [a for a in self.live if a.id in self.arguments_of]
        values = [self.arguments_of[a.id] for a in self.called]
        return {
            name: [v[name] for v in values] for name in parameters if values and name in values[0]
        }

    def call_span(self, tracing: WorkerTracing | None) -> contextlib.AbstractContextManager[Any]:
        """`cog.batch.invoke` around the call, linked to each traced request (tracing.py)."""
        if tracing is None:
            return NO_SPANS.invoke()
        return tracing.batch_invoke([attempt.spans for attempt in self.called])

    def record_size(self) -> None:
        for attempt in self.called:
            self.send(Metric(attempt.id, BATCH_SIZE_METRIC, len(self.called), "replace"))

    def _close(self) -> list[Attempt]:
        """The requests still in the batch; cancels from here on change nothing."""
        with self.lock:
            self.closed = True
            return list(self.live)

    def take_result(self, result: Any) -> None:
        """One result per request, in order: an exception instance fails its request only."""
        served = self.called
        if not isinstance(result, list | tuple) or len(result) != len(served):
            got = (
                f"a list of {len(result)}"
                if isinstance(result, list | tuple)
                else f"a {type(result).__name__}"
            )
            self.fail(
                BatchingError(
                    f"a batched predictor (@cog.batch) must return a list with one result per "
                    f"request: the batch had {len(served)} requests and it returned {got}"
                )
            )
            return
        live = set(map(id, self._close()))
        for attempt, item in zip(served, result, strict=True):
            if id(attempt) not in live:
                continue
            try:
                if isinstance(item, BaseException):
                    attempt.record(item)
                else:
                    attempt.take_result(item)
            except BaseException as exc:  # an item that cannot be encoded fails its request
                attempt.record(exc)

    def fail(self, exc: BaseException) -> None:
        """The call raised: every request still in the batch fails with it."""
        for attempt in self._close():
            attempt.record(exc)

    def end(self) -> None:
        """Undo the context (what was written without a final newline reaches each request
        first), then each request's Done."""
        self._undo.close()
        for attempt in self._close():
            attempt.end()


# -- the runners -------------------------------------------------------------------------------


def _parameters(predictor: Entry) -> list[str]:
    signature = predictor.coercer.signature
    return [
        name
        for name, p in signature.parameters.items()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


class SyncBatchRunner:
    """A batched synchronous predictor: the prediction thread gathers requests and calls the
    predictor once per batch, one batch at a time."""

    def __init__(
        self,
        predictor: Entry,
        spec: BatchSpec,
        send: Send,
        capture: LogCapture,
        tracing: WorkerTracing | None = None,
    ) -> None:
        self.predictor = predictor
        self.send = send
        self.capture = capture
        self.tracing = tracing
        self.gathering = Gathering(spec)
        self.changed = threading.Condition()
        self.attempts: dict[str, Attempt] = {}
        self.batches: dict[str, Batch] = {}
        self.stopping = False
        self.parameters = _parameters(predictor)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._work, daemon=True, name="prediction")
        thread.start()
        return thread

    def submit(self, message: Predict) -> None:
        attempt = Attempt(message, self.send, self.capture, spans_of(self.tracing, message))
        with self.changed:
            self.attempts[message.id] = attempt
            self.gathering.add(attempt, time.monotonic())
            self.changed.notify()

    def cancel(self, prediction_id: str) -> None:
        with self.changed:
            attempt = self.attempts.get(prediction_id)
            if attempt is None:
                return
            batch = self.batches.get(prediction_id)
            waiting = batch is None and self.gathering.remove(attempt)
            if waiting:
                self.attempts.pop(prediction_id, None)
        if batch is not None:
            batch.drop(attempt)
        elif waiting:  # it leaves before any batch takes it
            attempt.cancel()
            attempt.start(_NoInterrupt())
            attempt.end()

    def stop(self) -> None:
        """The prediction thread ends after what is waiting."""
        with self.changed:
            self.stopping = True
            self.changed.notify()

    def _next(self) -> list[Attempt] | None:
        with self.changed:
            while True:
                wait = self.gathering.due_in(time.monotonic())
                if wait == 0 or (wait is not None and self.stopping):
                    return self.gathering.take()
                if wait is None and self.stopping:
                    return None
                self.changed.wait(wait)

    def _work(self) -> None:
        while (attempts := self._next()) is not None:
            batch = Batch(attempts, self.send, self.capture)
            with self.changed:
                self.batches.update((a.id, batch) for a in attempts)
            try:
                self._run(batch)
            except CancelationException:
                pass  # a stop for a call no request waits for any more, landed after it
            finally:
                with self.changed:
                    for attempt in attempts:
                        self.batches.pop(attempt.id, None)
                        self.attempts.pop(attempt.id, None)

    def _run(self, batch: Batch) -> None:
        coercer = self.predictor.coercer
        try:
            batch.begin()
            batch.start()
            for attempt in list(batch.live):
                with attempt.spans.prepare_input():
                    batch.prepare(attempt, lambda m: coercer.prepare(m.input, m.workdir))
            arguments = batch.arguments(self.parameters)
            if batch.called:
                batch.record_size()
                began = time.monotonic()
                batch.calling(ThreadInterrupt(threading.get_ident()))
                try:
                    with batch.call_span(self.tracing):
                        result = self.predictor.function(**arguments)
                finally:
                    batch.returned()
                    ended = time.monotonic()
                    self.gathering.policy.observed(len(batch.called), ended - began, ended)
                batch.take_result(result)
        except BaseException as exc:  # SystemExit, KeyboardInterrupt too: only this batch fails
            batch.fail(exc)
        finally:
            batch.end()


class AsyncBatchRunner:
    """A batched async predictor: requests gathered on the event loop, each batch a task, up
    to `slots` batches at once. Its methods are called on the loop's thread."""

    def __init__(
        self,
        predictor: Entry,
        spec: BatchSpec,
        slots: int,
        send: Send,
        capture: LogCapture,
        loop: asyncio.AbstractEventLoop,
        tracing: WorkerTracing | None = None,
    ) -> None:
        self.predictor = predictor
        self.send = send
        self.capture = capture
        self.tracing = tracing
        self.loop = loop
        self.slots = slots
        self.running = 0
        self.gathering = Gathering(spec)
        self.attempts: dict[str, Attempt] = {}
        self.batches: dict[str, Batch] = {}
        self.timer: asyncio.TimerHandle | None = None
        self.parameters = _parameters(predictor)

    def submit(self, message: Predict) -> None:
        attempt = Attempt(message, self.send, self.capture, spans_of(self.tracing, message))
        self.attempts[message.id] = attempt
        self.gathering.add(attempt, time.monotonic())
        self._dispatch()

    def cancel(self, prediction_id: str) -> None:
        attempt = self.attempts.get(prediction_id)
        if attempt is None:
            return
        batch = self.batches.get(prediction_id)
        if batch is not None:
            batch.drop(attempt)
        elif self.gathering.remove(attempt):
            self.attempts.pop(prediction_id, None)
            attempt.cancel()
            attempt.start(_NoInterrupt())
            attempt.end()

    def _dispatch(self) -> None:
        """Start the batches that are due while slots are free; else look again when the
        next one will be."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        while self.running < self.slots:
            wait = self.gathering.due_in(time.monotonic())
            if wait is None:
                return
            if wait > 0:
                self.timer = self.loop.call_later(wait, self._dispatch)
                return
            attempts = self.gathering.take()
            batch = Batch(attempts, self.send, self.capture)
            self.batches.update((a.id, batch) for a in attempts)
            self.running += 1
            self.loop.create_task(self._run(batch))

    async def _run(self, batch: Batch) -> None:
        attempts = list(batch.live)
        try:
            batch.begin()
            batch.start()
            await asyncio.gather(*(self._prepare(batch, a) for a in list(batch.live)))
            arguments = batch.arguments(self.parameters)
            if batch.called:
                batch.record_size()
                began = time.monotonic()
                task = asyncio.current_task()
                assert task is not None  # run as a task by _dispatch
                batch.calling(TaskInterrupt(task))
                try:
                    with batch.call_span(self.tracing):
                        call = self.predictor.function(**arguments)
                        result = await call if inspect.isawaitable(call) else call
                finally:
                    batch.returned()
                    ended = time.monotonic()
                    self.gathering.policy.observed(len(batch.called), ended - began, ended)
                batch.take_result(result)
        except BaseException as exc:  # caught here, SystemExit would stop the event loop
            batch.fail(exc)
        finally:
            batch.end()
            for attempt in attempts:
                self.batches.pop(attempt.id, None)
                self.attempts.pop(attempt.id, None)
            self.running -= 1
            self._dispatch()

    async def _prepare(self, batch: Batch, attempt: Attempt) -> None:
        coercer = self.predictor.coercer
        message = attempt.message
        with attempt.spans.prepare_input():  # each _prepare is a task: its own current span
            if coercer.downloads(message.input):
                prepared = await asyncio.to_thread(_prepared, coercer, message)
            else:
                prepared = _prepared(coercer, message)
        if isinstance(prepared, BaseException):
            batch.fail_one(attempt, prepared)
        else:
            batch.arguments_of[attempt.id] = prepared


def _prepared(coercer: Any, message: Predict) -> dict[str, Any] | BaseException:
    try:
        arguments: dict[str, Any] = coercer.prepare(message.input, message.workdir)
        return arguments
    except Exception as exc:
        return exc
