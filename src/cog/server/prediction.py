"""One prediction: its state machine (worker events in, Cog's prediction JSON out), and the
streams (SSE) that follow it."""

from __future__ import annotations

import asyncio
import datetime
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

from ..runtime import events
from .followers import Follower

Kind = Literal["prediction", "training"]
"""What a client asked for: `POST /predictions` or `POST /trainings`."""

WIRE_MODES: dict[str, str] = {"replace": "replace", "incr": "increment", "append": "append"}
"""A metric operation as the worker names it → as SSE `metric` events name it."""


class Status(str, Enum):
    """A prediction's (and setup's) status, as Cog spells it on the wire."""

    STARTING = "starting"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELED})


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class StreamLimits:
    """How much of a prediction's event stream the server keeps, and for how many clients
    (resolved once per server, in `ServerSettings`)."""

    history: int = 1024
    """Events kept for replay to streams that attach later; 0 keeps none."""
    backlog: int = 1024
    """Events a stream may fall behind before it counts as lagging."""
    subscribers: int = 1024
    """Streams one prediction may have at once."""


@dataclass
class StreamEvent:
    name: str
    data: dict[str, Any]


class Subscription:
    """One stream's events, in order. It ends after `completed`, or once closed (lagging, or
    made after the end) when what it holds is read."""

    __slots__ = ("closed", "limit", "queue")

    def __init__(self, replay: list[StreamEvent], backlog: int, closed: bool) -> None:
        self.queue: asyncio.Queue[StreamEvent] = asyncio.Queue()
        for event in replay:
            self.queue.put_nowait(event)
        # Its replayed history is not held against it.
        self.limit = self.queue.qsize() + backlog
        self.closed = closed


@dataclass
class Prediction:
    """A prediction from request to terminal state; it applies its worker events itself."""

    id: str
    input: dict[str, Any]
    """What the model gets (Secrets in plaintext); never shown: see `shown_input`."""
    shown_input: dict[str, Any] | None = None
    """The input as clients see it, each Secret masked (`input` when it has none)."""
    limits: StreamLimits = field(default_factory=StreamLimits)
    followers: list[Follower] = field(default_factory=list)
    """Who is told of its state changes as they happen: its webhook, a queue's responses."""
    kind: Kind = "prediction"
    cancel_on_disconnect: bool = False
    created_at: str = field(default_factory=now)
    status: Status = Status.STARTING
    started_at: str | None = None
    completed_at: str | None = None
    output: Any = None
    outputs: list[Any] = field(default_factory=list)
    iterator: bool = False
    final_output: bool = False
    logs: list[str] = field(default_factory=list)
    error: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    created_monotonic: float = 0.0
    """When it took its slot (`time.monotonic()`, as the three below)."""
    accepted_monotonic: float = field(default_factory=time.monotonic)
    """When the server made it, its input valid (before any wait for a slot)."""
    started_monotonic: float = 0.0
    """When the worker began it (Started); 0.0 when it ended before."""
    completed_monotonic: float = 0.0
    workdir: str = ""
    history: list[StreamEvent] = field(default_factory=list)
    dropped: int = 0
    subscriptions: list[Subscription] = field(default_factory=list)
    streamed: bool = False
    """An SSE answer follows this prediction: it may subscribe only after the end, and then
    replays the history, `completed` included."""
    _waiters: list[asyncio.Future[None]] = field(default_factory=list)
    _final: dict[str, Any] | None = None
    """The snapshot once it is terminal: made once, read by the response, the store of
    finished predictions, the webhook and the stream alike (none of them changes it)."""

    @classmethod
    def restored(cls, snapshot: dict[str, Any]) -> Prediction:
        """A finished prediction made anew from its final `snapshot()` (which it gives back
        equal); its event history is that snapshot's `completed` event alone."""
        prediction = cls(snapshot["id"], snapshot["input"])
        prediction.status = Status(snapshot["status"])
        prediction.created_at = snapshot["created_at"]
        prediction.started_at = snapshot["started_at"]
        prediction.completed_at = snapshot["completed_at"]
        prediction.logs = [snapshot["logs"]] if snapshot["logs"] else []
        prediction.metrics = snapshot["metrics"]
        prediction.output, prediction.final_output = snapshot.get("output"), True
        prediction.error = snapshot.get("error")
        prediction.history = [StreamEvent("completed", snapshot)]
        return prediction

    # -- state as clients see it ---------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.status.terminal

    def current_output(self) -> Any:
        if self.final_output and not self.iterator:
            return self.output
        if self.outputs or self.iterator:
            return list(self.outputs)
        return None

    def snapshot(self) -> dict[str, Any]:
        if self._final is not None:
            return self._final
        data: dict[str, Any] = {
            "id": self.id,
            "input": self.input if self.shown_input is None else self.shown_input,
            "status": self.status.value,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "logs": "".join(self.logs),
            "metrics": dict(self.metrics),
        }
        output = self.current_output()
        if output is not None or self.status is Status.SUCCEEDED:
            data["output"] = output
        if self.error is not None:
            data["error"] = self.error
        if self.status.terminal:
            self._final = data
        return data

    # -- the one completion primitive ----------------------------------------------------

    def ended(self) -> asyncio.Future[None]:
        """A future of the caller's own, resolved when the prediction reaches its terminal
        state. The caller may settle or cancel it (its client left) without touching anyone
        else's wait; and it is resolved directly, not through a callback of a shared future,
        which would cost each waiter a turn of the event loop."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.finished:
            future.set_result(None)
        else:
            self._waiters.append(future)
        return future

    # -- the state machine ---------------------------------------------------------------

    def submitted(self, workdir: str) -> None:
        self.created_monotonic = time.monotonic()
        self.workdir = workdir

    def fail(self, error: str) -> None:
        """Note an error found by the server (an upload that failed): the prediction fails
        when it ends, whatever the worker says."""
        self.error = error

    def apply(self, message: events.Message) -> bool:
        """Apply one of the worker's events; whether it ended the prediction. A prediction
        ends once: events after that (it was abandoned at shutdown) are ignored."""
        if self.finished:
            return False
        match message:
            case events.Started():
                self.status = Status.PROCESSING
                self.started_at = now()
                self.started_monotonic = time.monotonic()
                self.publish("start", {"id": self.id, "status": Status.PROCESSING.value})
                self._tell("start")
            case events.Log(source=source, data=data):
                self.logs.append(data)
                self.publish("log", {"source": source, "data": data})
                self._tell("logs")
            case events.Output(value=value):
                self.iterator = True
                self.outputs.append(value)
                self.publish("output", {"chunk": value, "index": len(self.outputs) - 1})
                self._tell("output")
            case events.Metric(name=name, value=value, mode=mode):
                self.set_metric(name, value, mode)
            case events.Done():
                self._end(message)
                return True
        return False

    def _tell(self, kind: str) -> None:
        for follower in self.followers:
            follower.event(kind)

    def _end(self, done: events.Done) -> None:
        self.completed_monotonic = time.monotonic()
        if done.final:
            self.output, self.final_output = done.output, True
        self.iterator = self.iterator or done.iterator
        if done.canceled:
            self.status = Status.CANCELED
        elif done.error is not None or self.error is not None:
            self.status = Status.FAILED
            self.error = self.error or done.error
        else:
            self.status = Status.SUCCEEDED
        self.completed_at = now()
        if self.created_monotonic:  # it ran: not one that ended waiting for a slot
            self.metrics["predict_time"] = self.completed_monotonic - self.created_monotonic
        if self.streamed or self.subscriptions:  # else no one can ever read it
            self.publish("completed", self.snapshot())
        for subscription in self.subscriptions:
            subscription.closed = True  # each holds `completed` (or its lag error) last
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    def set_metric(self, name: str, value: Any, mode: str) -> None:
        """Apply a metric operation; dot-separated names build nested objects."""
        *parents, leaf = name.split(".")
        target = self.metrics
        for part in parents:
            nested = target.get(part)
            if not isinstance(nested, dict):
                nested = target[part] = {}
            target = nested
        if value is None:
            target.pop(leaf, None)
        elif mode == "incr" and isinstance(target.get(leaf), int | float):
            target[leaf] = target[leaf] + value
        elif mode == "append":
            existing = target.get(leaf)
            target[leaf] = (
                [*existing]
                if isinstance(existing, list)
                else ([] if existing is None else [existing])
            ) + [value]
        else:
            target[leaf] = value
        self.publish("metric", {"name": name, "value": value, "mode": WIRE_MODES.get(mode, mode)})

    # -- streams -------------------------------------------------------------------------

    def publish(self, name: str, data: dict[str, Any]) -> None:
        event = StreamEvent(name, data)
        if self.limits.history:
            self.history.append(event)
            if len(self.history) > self.limits.history:
                self.history.pop(0)
                self.dropped += 1
        lagging = []
        for subscription in self.subscriptions:
            if subscription.queue.qsize() >= subscription.limit:
                lagging.append(subscription)
            else:
                subscription.queue.put_nowait(event)
        for subscription in lagging:
            self._end_lagging(subscription)

    def _end_lagging(self, subscription: Subscription) -> None:
        """A client too slow to keep up: what it has not read is dropped and its stream ends
        with an error saying so, rather than the server holding events for it without bound."""
        queue = subscription.queue
        skipped = queue.qsize() + 1
        while not queue.empty():
            queue.get_nowait()
        lagged = {"error": "SSE stream lagged; events were dropped", "skipped": skipped}
        queue.put_nowait(StreamEvent("error", lagged))
        subscription.closed = True
        self.subscriptions.remove(subscription)

    def has_room_for_a_stream(self) -> bool:
        return len(self.subscriptions) < self.limits.subscribers

    def subscribe(self) -> Subscription:
        subscription = Subscription(self.history, self.limits.backlog, closed=self.finished)
        self.subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> int:
        """Forget a stream; how many are left."""
        if subscription in self.subscriptions:
            self.subscriptions.remove(subscription)
        return len(self.subscriptions)
