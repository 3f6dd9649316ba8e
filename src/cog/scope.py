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
_ASCII_LETTER = re.compile(r"[A-Za-z]")
_INVALID_CHARACTER = re.compile(r"[^A-Za-z0-9_]")
_METRIC_TYPES = (bool, int, float, str, list, dict)


def validate_metric_name(name: str, *, reserved: bool = True) -> None:
    """Raise ValueError unless `name` is a valid metric name: at most 4 dot-separated segments,
    each of letters, digits and single underscores, starting with a letter and ending with a
    letter or digit. The messages are Cog's. `reserved`: also refuse `predict_time` and the
    `cog.` prefix (deleting such a name is harmless, so deletes skip it, as in Cog)."""
    if not isinstance(name, str):
        raise ValueError("metric name must be a string")
    if reserved and name in RESERVED_METRICS:
        raise ValueError(f"'{name}' is reserved by the runtime")
    if reserved and name.startswith("cog."):
        raise ValueError("the 'cog.' prefix is reserved for system metrics")
    if not name:
        raise ValueError("metric name must not be empty")
    if len(name) > _MAX_NAME_LENGTH:
        raise ValueError(
            f"metric name must be {_MAX_NAME_LENGTH} characters or fewer "
            f"(got {len(name)} characters)"
        )
    segments = name.split(".")
    if len(segments) > _MAX_SEGMENTS:
        raise ValueError(
            f"metric name must have at most {_MAX_SEGMENTS} dot-separated segments "
            f"(got {len(segments)})"
        )
    for index, segment in enumerate(segments):
        _check_segment(segment, first=index == 0, last=index == len(segments) - 1)


def _check_segment(segment: str, *, first: bool, last: bool) -> None:
    if not segment:
        if first:
            raise ValueError("metric name must not start with a dot")
        if last:
            raise ValueError("metric name must not end with a dot")
        raise ValueError("metric name must not contain empty segments (consecutive dots)")
    if not _ASCII_LETTER.match(segment[0]):
        raise ValueError(f"metric name segment '{segment}' must start with a letter")
    if "__" in segment:
        raise ValueError(
            f"metric name segment '{segment}' must not contain consecutive underscores"
        )
    invalid = _INVALID_CHARACTER.search(segment)
    if invalid:
        raise ValueError(
            f"metric name segment '{segment}' contains invalid character '{invalid.group()}'"
        )
    if segment.endswith("_"):
        raise ValueError(f"metric name segment '{segment}' must end with a letter or digit")


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
        if value is None:
            self.delete(key)
            return
        validate_metric_name(key)
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
        validate_metric_name(key, reserved=False)
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
