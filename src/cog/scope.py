"""The prediction scope: per-prediction metrics and request context.

`current_scope()` returns the scope of the prediction running in this thread or task (a
ContextVar, so concurrent async predictions each see their own), or a no-op scope outside one.
The runtime opens a scope around each prediction with a sink that forwards every metric
operation to the server.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal

MetricMode = Literal["replace", "incr", "append"]
MetricSink = Callable[[str, Any, MetricMode], None]
"""Receives (name, value, mode); a value of None deletes the metric."""

METRIC_MODES: tuple[MetricMode, ...] = ("replace", "incr", "append")
RESERVED_METRICS = ("predict_time",)
_MAX_NAME_LENGTH = 128
_MAX_SEGMENTS = 4
_SEGMENT = re.compile(r"^[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?$")
_METRIC_TYPES = (bool, int, float, str, list, dict)


def validate_metric_name(name: str) -> None:
    """Raise ValueError unless `name` is a valid metric name (dot-separated segments)."""
    if not isinstance(name, str) or not name:
        raise ValueError("metric name must be a non-empty string")
    if name in RESERVED_METRICS or name.startswith("cog."):
        raise ValueError(f"metric name {name!r} is reserved by Cog")
    if len(name) > _MAX_NAME_LENGTH:
        raise ValueError(f"metric name {name!r} is longer than {_MAX_NAME_LENGTH} characters")
    segments = name.split(".")
    if len(segments) > _MAX_SEGMENTS:
        raise ValueError(f"metric name {name!r} has more than {_MAX_SEGMENTS} dot-separated parts")
    for segment in segments:
        if not _SEGMENT.match(segment) or "__" in segment:
            raise ValueError(
                f"metric name {name!r}: each part must start with a letter, end with a letter or "
                "digit, and hold only letters, digits and single underscores"
            )


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


class MetricRecorder:
    """Records metrics of one prediction: `record(key, value, mode)`, `m[key] = v`, `del m[key]`."""

    def __init__(self, sink: MetricSink | None = None) -> None:
        self._sink = sink
        self._kinds: dict[str, str] = {}

    def record(self, key: str, value: Any, mode: MetricMode | None = None) -> None:
        """Set (`replace`), add to (`incr`) or append to (`append`) a metric; None deletes it."""
        mode = mode or "replace"
        if mode not in METRIC_MODES:
            raise ValueError(f"metric mode must be one of {', '.join(METRIC_MODES)}, not {mode!r}")
        validate_metric_name(key)
        if value is None:
            self.delete(key)
            return
        if not isinstance(value, _METRIC_TYPES):
            raise TypeError(
                f"metric {key!r}: value must be bool, int, float, str, list or dict, "
                f"not {type(value).__name__}"
            )
        if self._sink is None:  # outside a prediction: validate, record nothing
            return
        kind = "list" if mode == "append" else _kind(value)
        previous = self._kinds.get(key)
        if previous is not None and previous != kind and mode != "append":
            raise TypeError(
                f"metric {key!r} holds a {previous}; delete it before recording a {kind}"
            )
        self._kinds[key] = kind
        self._sink(key, value, mode)

    def delete(self, key: str) -> None:
        """Remove a metric."""
        validate_metric_name(key)
        self._kinds.pop(key, None)
        if self._sink is not None:
            self._sink(key, None, "replace")

    def __setitem__(self, key: str, value: Any) -> None:
        self.record(key, value)

    def __delitem__(self, key: str) -> None:
        self.delete(key)


class Scope:
    """What user code can reach of the prediction it runs in."""

    def __init__(
        self, sink: MetricSink | None = None, context: dict[str, str] | None = None
    ) -> None:
        self.metrics = MetricRecorder(sink)
        self.context: dict[str, str] = dict(context or {})

    def record_metric(self, key: str, value: Any, mode: MetricMode = "replace") -> None:
        """Shorthand for `self.metrics.record(key, value, mode)`."""
        self.metrics.record(key, value, mode)


_NO_SCOPE = Scope()
_current: ContextVar[Scope] = ContextVar("cog_scope", default=_NO_SCOPE)


def current_scope() -> Scope:
    """The scope of the running prediction; outside a prediction, a scope that records nothing.

    Example::

        current_scope().record_metric("tokens", 1, mode="incr")
    """
    return _current.get()


@contextmanager
def prediction_scope(scope: Scope) -> Iterator[Scope]:
    """Make `scope` current for the code run inside the block (used by the runtime)."""
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)
