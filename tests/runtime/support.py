"""In-process pieces for runtime tests: what a runner sends, collected; an entry to run."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from cog.runtime.events import Done, Message, Predict
from cog.runtime.inputs import InputCoercer

WAIT = 30.0  # generous: a bound on a hang, not a measurement


class Sent:
    """The messages sent, in order; `wait` blocks until one matches (thread-safe)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.changed = threading.Condition()

    def __call__(self, message: Message) -> None:
        with self.changed:
            self.messages.append(message)
            self.changed.notify_all()

    def wait(self, matches: Callable[[Message], bool]) -> Message:
        with self.changed:
            found = self.changed.wait_for(
                lambda: next((m for m in self.messages if matches(m)), None), WAIT
            )
        assert found is not None, f"never sent; sent: {self.messages}"
        return found

    def done(self, prediction_id: str) -> Done:
        message = self.wait(lambda m: isinstance(m, Done) and m.id == prediction_id)
        assert isinstance(message, Done)
        return message

    def of(self, prediction_id: str) -> list[str]:
        """The kinds of the messages sent for one prediction, in order."""
        return [type(m).__name__ for m in self.messages if getattr(m, "id", None) == prediction_id]


@dataclass
class Entry:
    """A predictor's entry function with the coercion a LoadedPredictor would give it."""

    function: Callable[..., Any]
    coercer: InputCoercer = field(init=False)

    def __post_init__(self) -> None:
        self.coercer = InputCoercer(self.function)


def predict(prediction_id: str, **inputs: Any) -> Predict:
    return Predict(prediction_id, inputs)


@contextmanager
def running_loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(WAIT)
        loop.close()


def on_loop(loop: asyncio.AbstractEventLoop, function: Callable[[], Any]) -> None:
    """Run `function` on the loop's thread and wait for it (where the worker calls runners)."""
    finished = threading.Event()

    def call() -> None:
        try:
            function()
        finally:
            finished.set()

    loop.call_soon_threadsafe(call)
    assert finished.wait(WAIT)
