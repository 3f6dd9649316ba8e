"""The prediction core: create, attach to, wait on, stream and cancel predictions.

Plain data in (an `Order`), plain data out (an `Answer`: a verdict and Cog's JSON body); no
transport here. The HTTP adapters (`fast_path` for creating, `routes` for the rest) turn
requests into orders and verdicts into statuses; a queue consumer would do the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import platform
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

from .._version import COG_API_VERSION, __version__
from .admission import Admission
from .echo import echoed
from .errors import QueueFull
from .followers import Follower
from .prediction import Kind as Kind  # re-exported: the adapters name it from here
from .prediction import Prediction, Status, StreamEvent
from .readiness import ReadyFile
from .results import ResultStore
from .settings import ServerSettings
from .supervisor import Busy, Component, Health, NotReady, Supervisor, WorkerCrashed
from .tracing import PredictionSpan
from .validation import not_an_object
from .webhooks import WebhookSender

Mode = Literal["sync", "async", "sse"]
"""How the client wants the answer: when it ends, at once (and by webhook), or as a stream."""

HEARTBEAT = StreamEvent("heartbeat", {})
"""Yielded by `stream` when nothing happened for its heartbeat interval."""
NOT_READY = {
    "error": "Setup has not finished yet. Wait until it has finished, or GET /health-check for status.",
    "status": Status.FAILED.value,
}
AT_CAPACITY = {"error": "At capacity - all prediction slots busy", "status": Status.FAILED.value}
TOO_MANY_STREAMS = {"error": "Too many stream subscribers"}
NO_STREAMING = {
    "error": "This model does not support streaming responses. Add @cog.streaming to "
    "predict() to enable SSE."
}
NO_TRAINING_STREAMS = {"error": "Training endpoints do not support streaming responses."}


@dataclass
class Envelope:
    """What a client sends to create a prediction."""

    id: str | None = None
    input: Any = field(default_factory=dict)
    """An object when valid; anything else is refused by input validation, as Cog does."""
    context: dict[str, str] = field(default_factory=dict)
    webhook: str | None = None
    webhook_events_filter: list[str] | None = None

    @classmethod
    def of_request(cls, data: dict[str, Any], prediction_id: str | None) -> Envelope:
        """The envelope of a PredictionRequest object whose fields fit (checked by the caller
        with `envelope_errors.envelope_misfit`): over HTTP and from a queue alike."""
        return cls(
            id=prediction_id,
            input={} if data.get("input") is None else data["input"],
            context=data.get("context") or {},
            webhook=data.get("webhook"),
            webhook_events_filter=data.get("webhook_events_filter"),
        )


@dataclass
class Order:
    """A request to create (or join) a prediction."""

    kind: Kind
    mode: Mode
    envelope: Envelope
    trace: dict[str, str] = field(default_factory=dict)
    """The W3C trace headers: passed on to webhooks (when tracing is on, its span's instead)."""
    idempotent: bool = False
    """Made with its id (HTTP PUT): joining one in flight answers its state at once."""
    follow: Callable[[Prediction], Follower] | None = None
    """Makes one more follower of the prediction's state (a queue's response writer); given
    the prediction this order made or joined."""


class Verdict(str, Enum):
    COMPLETED = "completed"
    """It ended: the body is its terminal state."""
    ACCEPTED = "accepted"
    """It runs; the body is its state now (answer by webhook)."""
    STREAM = "stream"
    """Follow `Answer.prediction` with `stream`."""
    ABANDONED = "abandoned"
    """The client went away while waiting: the prediction was canceled."""
    INVALID = "invalid"
    BUSY = "busy"
    QUEUE_FULL = "queue_full"
    """Every slot is busy and the wait queue is full: `Answer.retry_after` says when to retry."""
    NOT_READY = "not_ready"
    CANNOT_STREAM = "cannot_stream"
    TOO_MANY_STREAMS = "too_many_streams"


@dataclass
class Answer:
    verdict: Verdict
    body: dict[str, Any] | None = None
    prediction: Prediction | None = None
    """The prediction to follow (STREAM) or that runs (ACCEPTED)."""
    retry_after: int | None = None
    """Seconds after which a refused request (QUEUE_FULL) may be worth sending again."""


Disconnected = Callable[[], Awaitable[Any]]
"""Returns when the client has gone away (a waiting client that leaves cancels its prediction)."""


class Predictions:
    """Every entry point's way to the model."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        self.settings: ServerSettings = supervisor.settings
        self.ready_file = ReadyFile(self.settings.ready_file)
        self.results = ResultStore(self.settings.result_ttl, self.settings.result_count)
        self.admission = Admission(supervisor, self.settings.max_queue)
        # Each only where it has work: every prediction's end tells every observer.
        if self.results.keeps:
            supervisor.observers.append(self.results)
        if self.admission.capacity > 0:
            supervisor.observers.append(self.admission)
        self.tracing = supervisor.tracing
        self.health_sections: dict[str, Callable[[], dict[str, Any]]] = {}
        """More of the health report, by key (the queue worker's `queue`)."""

    @property
    def waiting(self) -> int:
        """Predictions waiting for a slot (the wait queue's depth; 0 without a queue)."""
        return self.admission.waiting

    def begin_shutdown(self) -> None:
        """The server is shutting down: waiting predictions end canceled, running ones are
        canceled (see `Supervisor.begin_shutdown`)."""
        self.admission.close()
        self.supervisor.begin_shutdown()

    async def stop(self) -> None:
        self.admission.close()
        await self.supervisor.stop()

    # -- the server --------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        """Cog's health report: the status, setup, versions; the model's healthcheck() when
        it is ready."""
        supervisor = self.supervisor
        status = supervisor.health()
        body: dict[str, Any] = {
            "status": status.value,
            "setup": supervisor.setup.as_json(),
            "version": {
                "pycog": __version__,
                "python_sdk": COG_API_VERSION,
                "python": platform.python_version(),
            },
        }
        if status in (Health.READY, Health.BUSY):
            error = await supervisor.user_healthcheck()
            if supervisor.state is Health.DEFUNCT:  # the worker died while the probe waited
                body["status"] = Health.DEFUNCT.value
            elif error is not None:
                body["status"] = Health.UNHEALTHY.value
                body["user_healthcheck_error"] = error
        if body["status"] == Health.READY.value:
            self.ready_file.mark()
        if self.admission.capacity > 0:  # a key of pycog's: only where there is a queue
            body["queue_depth"] = self.admission.waiting
        # Beside Cog's keys: what a drain waits on (BUSY says only that every slot is taken).
        body["in_flight"] = len(supervisor.predictions)
        for key, section in self.health_sections.items():
            body[key] = section()
        return body

    def schema(self) -> dict[str, Any] | None:
        """The model's OpenAPI schema, once setup is over."""
        if self.supervisor.state is Health.STARTING:
            return None
        return self.supervisor.schema

    def serves_trainings(self) -> bool:
        return self.supervisor.serves_trainings()

    # -- predictions -------------------------------------------------------------------

    def find(self, prediction_id: str | None) -> Prediction | None:
        """The prediction in flight (running, or waiting for a slot) with this id."""
        return self.supervisor.find(prediction_id) or self.admission.find(prediction_id)

    def state(self, prediction_id: str) -> dict[str, Any] | None:
        """A prediction's response as it is now: in flight, or finished and still kept."""
        prediction = self.find(prediction_id) or self.results.get(prediction_id)
        return None if prediction is None else prediction.snapshot()

    def not_found(self, prediction_id: str) -> dict[str, Any]:
        """The 404 body of `state` finding nothing."""
        return {
            "error": f"No prediction {prediction_id!r} is running or waiting, and none that "
            f"finished is kept: {self.results.describe()}."
        }

    async def create(self, order: Order, disconnected: Disconnected | None = None) -> Answer:
        """Start (or join) a prediction; answer as `order.mode` asks."""
        supervisor = self.supervisor
        if order.mode == "sse":
            if order.kind == "training":
                return Answer(Verdict.CANNOT_STREAM, NO_TRAINING_STREAMS)
            if not supervisor.can_stream():
                return Answer(Verdict.CANNOT_STREAM, NO_STREAMING)
        envelope = order.envelope
        existing = self.find(envelope.id)
        if existing is None and order.idempotent and envelope.id is not None:
            existing = self.results.get(envelope.id)  # finished: answered, not run again
        if existing is not None:
            return await self._attach(order, existing, disconnected)
        span = None if self.tracing is None else self.tracing.begin(order, envelope.id)
        prediction = self._new_prediction(order, span)
        refusal = (
            prediction
            if isinstance(prediction, Answer)
            else self._submit(prediction, envelope.context, span)
        )
        if refusal is not None:
            if span is not None:
                span.refused(refusal.verdict)
            return refusal
        assert isinstance(prediction, Prediction)
        if order.mode == "async":
            body = {"id": prediction.id, "status": Status.STARTING.value}
            return Answer(Verdict.ACCEPTED, body, prediction)
        if order.mode == "sse":
            return Answer(Verdict.STREAM, prediction=prediction)
        return await self.wait(prediction, disconnected)

    def _submit(
        self, prediction: Prediction, context: dict[str, str], span: PredictionSpan | None
    ) -> Answer | None:
        """Hand the prediction to the supervisor; the answer refusing it, or None."""
        tracing = self.tracing
        if span is not None and tracing is not None:
            tracing.bind(prediction, span)  # before submit: its observers may end it
        try:
            self.admission.admit(prediction, context, None if span is None else span.carrier)
        except WorkerCrashed as exc:
            refusal = Answer(Verdict.NOT_READY, {"error": str(exc), "status": Status.FAILED.value})
        except NotReady:
            refusal = Answer(Verdict.NOT_READY, NOT_READY)
        except QueueFull as exc:
            body = {"error": str(exc), "status": Status.FAILED.value}
            refusal = Answer(Verdict.QUEUE_FULL, body, retry_after=exc.retry_after)
        except Busy:
            refusal = Answer(Verdict.BUSY, AT_CAPACITY)
        else:
            return None
        if tracing is not None:
            tracing.unbind(prediction)
        return refusal

    def _new_prediction(self, order: Order, span: PredictionSpan | None) -> Prediction | Answer:
        """The validated prediction, or the answer refusing its input."""
        envelope = order.envelope
        component: Component = "TrainingInput" if order.kind == "training" else "Input"
        validator = self.supervisor.validator(component)
        inputs, shown = envelope.input, None
        if validator is not None:
            with contextlib.nullcontext() if span is None else span.validate():
                inputs, errors = validator.validate(inputs)
            if errors:
                return Answer(Verdict.INVALID, {"detail": errors})
            shown = validator.masked(inputs)
        elif not isinstance(inputs, dict):
            return Answer(Verdict.INVALID, {"detail": [not_an_object(inputs)]})
        shown = echoed(inputs if shown is None else shown)
        prediction = Prediction(
            new_prediction_id() if envelope.id is None else envelope.id,
            inputs,
            None if shown is inputs else shown,
            limits=self.settings.stream_limits,
            kind=order.kind,
            cancel_on_disconnect=order.mode == "sse",
        )
        if envelope.webhook:
            sender = WebhookSender(
                envelope.webhook,
                envelope.webhook_events_filter,
                prediction.snapshot,
                self.supervisor.http,
                order.trace if span is None else span.webhook_headers(order.trace),
                token=self.settings.webhook_token,
                interval=self.settings.webhook_interval,
                prediction_id=prediction.id,
            )
            prediction.followers.append(sender)
        if order.follow is not None:
            prediction.followers.append(order.follow(prediction))
        return prediction

    async def _attach(
        self, order: Order, prediction: Prediction, disconnected: Disconnected | None
    ) -> Answer:
        if order.follow is not None:
            prediction.followers.append(order.follow(prediction))
        if order.mode == "sse":
            if not prediction.has_room_for_a_stream():
                return Answer(Verdict.TOO_MANY_STREAMS, TOO_MANY_STREAMS)
            return Answer(Verdict.STREAM, prediction=prediction)
        if prediction.finished and order.mode == "sync":
            return Answer(Verdict.COMPLETED, prediction.snapshot())  # as when it ended
        if order.mode == "async" or order.idempotent:
            return Answer(Verdict.ACCEPTED, prediction.snapshot(), prediction)
        return await self.wait(prediction, disconnected)

    async def wait(self, prediction: Prediction, disconnected: Disconnected | None) -> Answer:
        """Answer when the prediction ends; a client that goes away first cancels it."""
        ended = prediction.ended()
        gone = None if disconnected is None else asyncio.ensure_future(disconnected())
        if gone is not None:
            gone.add_done_callback(lambda _: _settle(ended))
        try:
            await ended
        finally:
            if gone is not None:
                gone.cancel()
        if not prediction.finished:
            self.cancel(prediction.id)  # a waiter leaves the queue
            return Answer(Verdict.ABANDONED)
        return Answer(Verdict.COMPLETED, prediction.snapshot())

    def stream(self, prediction: Prediction, heartbeat: float) -> AsyncGenerator[StreamEvent, None]:
        """A prediction's events from its start (replayed) to its end, HEARTBEAT after each
        `heartbeat` seconds without one; the prediction is canceled when its last stream goes
        away early (if it was made to stream)."""
        prediction.streamed = True  # before the generator runs: it may first run after the end
        return self._events(prediction, heartbeat)

    async def _events(
        self, prediction: Prediction, heartbeat: float
    ) -> AsyncGenerator[StreamEvent, None]:
        late = prediction.finished  # a PUT of a kept one: its history may lack `completed`
        subscription = prediction.subscribe()
        queue = subscription.queue
        try:
            if prediction.dropped:
                body = {
                    "error": "SSE stream replay truncated; events were dropped",
                    "skipped": prediction.dropped,
                }
                yield StreamEvent("error", body)
                return
            while True:
                if not queue.empty():
                    event = queue.get_nowait()
                elif subscription.closed:
                    if late:
                        yield StreamEvent("completed", prediction.snapshot())
                    return
                else:  # wait_for costs a task: only when there is a wait
                    try:
                        event = await asyncio.wait_for(queue.get(), heartbeat)
                    except asyncio.TimeoutError:  # not the builtin one before 3.11
                        yield HEARTBEAT
                        continue
                yield event
                if event.name == "completed":
                    return
        finally:
            left = prediction.unsubscribe(subscription)
            if left == 0 and prediction.cancel_on_disconnect and not prediction.finished:
                self.cancel(prediction.id)

    def cancel(self, prediction_id: str) -> bool:
        """Cancel a prediction in flight (a waiting one ends at once, a running one is asked
        to stop); whether there was one."""
        return self.admission.cancel(prediction_id) or self.supervisor.cancel(prediction_id)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def new_prediction_id() -> str:
    return f"pred_{time.time_ns():x}"
