"""`@cog.batch(max_size=16, max_wait_ms=10)`: one call of `predict()` for several requests.

A batched method takes every input as `list[T]` (one value per request of the batch, in the
order the requests came) and returns `list[R]` (one result per request, in that order). The
schema, the HTTP API and the CLI present it per item (`T` in, `R` out); the worker gathers
requests into batches (`cog.runtime.batches`). See docs/batching.md.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from .errors import CogError

F = TypeVar("F", bound=Callable[..., Any])

BATCH_ATTR = "__cog_batch__"
DEFAULT_MAX_SIZE = 16
DEFAULT_MAX_WAIT_MS = 10
AUTO: Literal["auto"] = "auto"


class BatchingError(CogError):
    """A batched predictor that cannot be served as written (the message says what to change)."""


@dataclass(frozen=True)
class BatchSpec:
    """How requests are gathered: at most `max_size` per call; a batch goes when full or once
    its oldest request has waited `max_wait_ms` (None: "auto", adapted to the model)."""

    max_size: int = DEFAULT_MAX_SIZE
    max_wait_ms: float | None = DEFAULT_MAX_WAIT_MS

    @property
    def adaptive(self) -> bool:
        return self.max_wait_ms is None


def batch_spec(max_size: Any, max_wait_ms: Any, where: str = "batch") -> BatchSpec:
    """The spec for these arguments, or BatchingError saying what is wrong with them (the
    decorator's check and the static schema reader's: both refuse the same things)."""
    if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
        raise BatchingError(f"{where}: max_size must be an integer of at least 1, not {max_size!r}")
    if max_wait_ms == AUTO:
        return BatchSpec(max_size, None)
    if isinstance(max_wait_ms, bool) or not isinstance(max_wait_ms, int | float) or max_wait_ms < 0:
        raise BatchingError(
            f'{where}: max_wait_ms must be a number of milliseconds (0 or more) or "auto", '
            f"not {max_wait_ms!r}"
        )
    return BatchSpec(max_size, float(max_wait_ms))


def refuse_generators(function: Callable[..., Any], where: str) -> None:
    """A batch call returns one list of results; a generator has no per-request results."""
    if inspect.isgeneratorfunction(function) or inspect.isasyncgenfunction(function):
        raise BatchingError(
            f"{where}: @cog.batch does not combine with a generator (yield) or @cog.streaming: "
            "a batched call returns a list with one result per request; remove one of them"
        )


def batch(
    max_size: int = DEFAULT_MAX_SIZE, max_wait_ms: float | Literal["auto"] = DEFAULT_MAX_WAIT_MS
) -> Callable[[F], F]:
    """Serve `predict()`/`run()`/`train()` (def or async def) in batches of requests.

    Each parameter is annotated `list[T]` and receives one value per request of the batch; the
    method returns `list[R]`, one result per request in the same order. An item of the list
    that is an exception instance fails that request only; a raised exception fails them all.

    Example::

        @cog.batch(max_size=16, max_wait_ms=10)
        def predict(self, prompt: list[str] = Input(description="Prompt")) -> list[str]:
            return self.model.generate(prompt)

    `max_wait_ms="auto"` adapts the wait to the model's observed call latency and to the
    arrival rate of requests (docs/batching.md).
    """
    if callable(max_size):  # @cog.batch without parentheses
        raise BatchingError("write @cog.batch() or @cog.batch(max_size=..., max_wait_ms=...)")
    spec = batch_spec(max_size, max_wait_ms)

    def mark(function: F) -> F:
        if not callable(function):
            raise BatchingError("use @cog.batch(...) on a method, with parentheses")
        name = getattr(function, "__name__", "predict")
        refuse_generators(function, f"{name}()")
        setattr(function, BATCH_ATTR, spec)
        return function

    return mark


def declared_batch(function: Callable[..., Any]) -> BatchSpec | None:
    """The spec `@cog.batch` put on a function, if any."""
    spec = getattr(function, BATCH_ATTR, None)
    return spec if isinstance(spec, BatchSpec) else None
