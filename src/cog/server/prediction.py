"""One prediction's state, and the streams (SSE) that follow it."""

from __future__ import annotations

import asyncio
import datetime
import functools
from dataclasses import dataclass, field
from typing import Any

from .. import envvars
from .webhooks import WebhookSender

TERMINAL = ("succeeded", "failed", "canceled")
WIRE_MODES = {"replace": "replace", "incr": "increment", "append": "append"}


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


# The stream limits come from the environment, read once per server (not per prediction).
@functools.cache
def _history_capacity() -> int:
    return envvars.STREAM_HISTORY_CAPACITY.get_int() or 0


@functools.cache
def _subscriber_backlog() -> int:
    return max(1, envvars.STREAM_SUBSCRIBER_BACKLOG.get_int() or 1)


@functools.cache
def _max_subscribers() -> int:
    return envvars.STREAM_MAX_SUBSCRIBERS.get_int() or 0


@dataclass
class StreamEvent:
    name: str
    data: dict[str, Any]


@dataclass
class Prediction:
    """A prediction from request to terminal state."""

    id: str
    input: dict[str, Any]
    """What the model gets (Secrets in plaintext); never shown: see `shown_input`."""
    shown_input: dict[str, Any] | None = None
    """The input as clients see it, each Secret masked (`input` when it has none)."""
    created_at: str = field(default_factory=now)
    status: str = "starting"
    started_at: str | None = None
    completed_at: str | None = None
    output: Any = None
    outputs: list[Any] = field(default_factory=list)
    iterator: bool = False
    final_output: bool = False
    logs: list[str] = field(default_factory=list)
    error: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    webhook: WebhookSender | None = None
    created_monotonic: float = 0.0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    history: list[StreamEvent] = field(default_factory=list)
    dropped: int = 0
    subscribers: dict[asyncio.Queue[StreamEvent | None], int] = field(default_factory=dict)
    """Each stream's queue, and how many events it may hold before its client counts as lagging
    (its replayed history is not held against it)."""
    cancel_on_disconnect: bool = False
    streamed: bool = False
    """An SSE answer follows this prediction: it may subscribe only after the end, and then
    replays the history, `completed` included."""
    ended: list[asyncio.Future[None]] = field(default_factory=list)
    workdir: str = ""

    # -- state as clients see it ---------------------------------------------------------

    def current_output(self) -> Any:
        if self.final_output and not self.iterator:
            return self.output
        if self.outputs or self.iterator:
            return list(self.outputs)
        return None

    def snapshot(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "input": self.input if self.shown_input is None else self.shown_input,
            "status": self.status,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "logs": "".join(self.logs),
            "metrics": dict(self.metrics),
        }
        output = self.current_output()
        if output is not None or self.status == "succeeded":
            data["output"] = output
        if self.error is not None:
            data["error"] = self.error
        return data

    # -- events --------------------------------------------------------------------------

    def publish(self, name: str, data: dict[str, Any]) -> None:
        event = StreamEvent(name, data)
        capacity = _history_capacity()
        if capacity:
            self.history.append(event)
            if len(self.history) > capacity:
                self.history.pop(0)
                self.dropped += 1
        lagging = []
        for queue, limit in self.subscribers.items():
            if queue.qsize() >= limit:
                lagging.append(queue)
            else:
                queue.put_nowait(event)
        for queue in lagging:
            self._end_lagging(queue)

    def _end_lagging(self, queue: asyncio.Queue[StreamEvent | None]) -> None:
        """A client too slow to keep up: what it has not read is dropped and its stream ends
        with an error saying so, rather than the server holding events for it without bound."""
        skipped = queue.qsize() + 1
        while not queue.empty():
            queue.get_nowait()
        lagged = {"error": "SSE stream lagged; events were dropped", "skipped": skipped}
        queue.put_nowait(StreamEvent("error", lagged))
        queue.put_nowait(None)
        del self.subscribers[queue]

    def has_room_for_a_stream(self) -> bool:
        return len(self.subscribers) < _max_subscribers()

    def subscribe(self) -> asyncio.Queue[StreamEvent | None]:
        queue: asyncio.Queue[StreamEvent | None] = asyncio.Queue()
        for event in self.history:
            queue.put_nowait(event)
        if self.done.is_set():
            queue.put_nowait(None)
        self.subscribers[queue] = queue.qsize() + _subscriber_backlog()
        return queue

    def unsubscribe(self, queue: asyncio.Queue[StreamEvent | None]) -> int:
        self.subscribers.pop(queue, None)
        return len(self.subscribers)

    def when_done(self) -> asyncio.Future[None]:
        """A future resolved when the prediction ends: cheaper to wait on than a task waiting on
        `done`."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.done.is_set():
            future.set_result(None)
        else:
            self.ended.append(future)
        return future

    def mark_done(self) -> None:
        self.done.set()
        for future in self.ended:
            if not future.done():
                future.set_result(None)
        self.ended.clear()

    def close_streams(self) -> None:
        for queue in self.subscribers:
            queue.put_nowait(None)

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
