"""`@cog.streaming` and `@cog.concurrent(max=N)`: markers read by the schema and the runtime.

A streaming method's endpoint carries STREAMING_KEY in the served schema; `declares_streaming`
is the one reading of it (the server's and the CLI's), here because both already import this
module and neither needs the schema package.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar, overload

F = TypeVar("F", bound=Callable[..., Any])

STREAMING_ATTR = "__cog_streaming__"
CONCURRENT_ATTR = "__cog_concurrent_max__"
STREAMING_KEY = "x-cog-streaming"
"""Marks an endpoint whose output streams (Server-Sent Events are offered)."""


def declares_streaming(document: dict[str, Any] | None, endpoint: str = "/predictions") -> bool:
    """Whether a served schema says the endpoint's output streams."""
    post = (document or {}).get("paths", {}).get(endpoint, {}).get("post", {})
    return bool(post.get(STREAMING_KEY))


@overload
def streaming(fn: F) -> F: ...
@overload
def streaming(fn: None = None) -> Callable[[F], F]: ...
def streaming(fn: F | None = None) -> F | Callable[[F], F]:
    """Mark `run()`/`predict()` as streaming: clients may ask for Server-Sent Events.

    Usable as `@streaming` or `@streaming()`; the method must return an iterator type.
    """

    def mark(inner: F) -> F:
        setattr(inner, STREAMING_ATTR, True)
        return inner

    return mark if fn is None else mark(fn)


@overload
def concurrent(fn: F) -> F: ...
@overload
def concurrent(fn: None = None, *, max: int = 1) -> Callable[[F], F]: ...
def concurrent(fn: F | None = None, *, max: int = 1) -> F | Callable[[F], F]:
    """Let up to `max` predictions run at once; needs an `async def` method when `max > 1`."""
    if isinstance(max, bool) or not isinstance(max, int):
        raise TypeError("concurrent(max=...) must be an integer")
    if max < 1:
        raise ValueError("concurrent(max=...) must be at least 1")

    def mark(inner: F) -> F:
        is_async = inspect.iscoroutinefunction(inner) or inspect.isasyncgenfunction(inner)
        if max > 1 and not is_async:
            raise TypeError("concurrent(max > 1) needs an async def run()/predict()")
        setattr(inner, CONCURRENT_ATTR, max)
        return inner

    if fn is None:
        return mark
    if not callable(fn):
        raise TypeError("use @concurrent or @concurrent(max=N)")
    return mark(fn)
