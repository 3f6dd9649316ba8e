"""The messages between the server (parent) and the worker (child).

Each message is a small dataclass; on the wire it is a JSON object with a `type` field naming
the class. Prediction-scoped messages carry the prediction `id`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any

# -- server → worker ------------------------------------------------------------------------


@dataclass(frozen=True)
class Predict:
    """Run one prediction (or training) with these JSON inputs."""

    id: str
    input: dict[str, Any]
    context: dict[str, str] = field(default_factory=dict)
    workdir: str = ""
    """Per-prediction directory for downloaded inputs and written outputs."""
    trace: dict[str, str] = field(default_factory=dict)
    """The W3C context (`traceparent`, `tracestate`) of the server's span of this prediction,
    when tracing is on: the worker's spans, and the model's, are its children."""


@dataclass(frozen=True)
class Cancel:
    id: str


@dataclass(frozen=True)
class Healthcheck:
    id: str


@dataclass(frozen=True)
class Shutdown:
    pass


# -- worker → server ------------------------------------------------------------------------


@dataclass(frozen=True)
class Ready:
    """Setup finished; the predictor's schema (runtime reading) and its kind."""

    schema: dict[str, Any] | None
    streams: bool
    concurrency: int | None
    batch_size: int | None = None
    """`@cog.batch(max_size=...)`: each slot takes that many requests at once."""


@dataclass(frozen=True)
class SetupFailed:
    error: str


@dataclass(frozen=True)
class Log:
    """A line (or part of one) of output; `id` is None for setup and unattributed output."""

    id: str | None
    source: str
    data: str


@dataclass(frozen=True)
class Started:
    id: str


@dataclass(frozen=True)
class Output:
    """One yielded item, encoded to JSON (a return value travels in `Done`)."""

    id: str
    value: Any


@dataclass(frozen=True)
class Metric:
    id: str
    name: str
    value: Any
    mode: str


@dataclass(frozen=True)
class Done:
    """The prediction ended: succeeded (error None), failed, or canceled."""

    id: str
    error: str | None = None
    canceled: bool = False
    iterator: bool = False
    """Whether the predictor yielded (so the output is a list even with 0 or 1 items)."""
    output: Any = None
    final: bool = False
    """Whether `output` holds the return value (encoded to JSON). It rides in this message, not
    an `Output` of its own: one frame less per prediction."""


@dataclass(frozen=True)
class HealthcheckResult:
    id: str
    healthy: bool
    error: str | None = None


Message = (
    Predict
    | Cancel
    | Healthcheck
    | Shutdown
    | Ready
    | SetupFailed
    | Log
    | Started
    | Output
    | Metric
    | Done
    | HealthcheckResult
)
_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        Predict,
        Cancel,
        Healthcheck,
        Shutdown,
        Ready,
        SetupFailed,
        Log,
        Started,
        Output,
        Metric,
        Done,
        HealthcheckResult,
    )
}


_FIELDS: dict[type[Any], tuple[str, ...]] = {
    cls: tuple(f.name for f in fields(cls)) for cls in _TYPES.values()
}


def to_wire(message: Message) -> dict[str, Any]:
    """The message as a JSON object; values are shared, not copied (see `wire_default`)."""
    cls = type(message)
    return {"type": cls.__name__, **{name: getattr(message, name) for name in _FIELDS[cls]}}


def wire_default(value: Any) -> Any:
    """JSON for what json cannot encode itself: a dataclass nested in a value becomes an object
    (as `asdict` would have made it), anything else its text."""
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return str(value)


def from_wire(data: dict[str, Any]) -> Message:
    cls = _TYPES[data.pop("type")]
    names = _FIELDS[cls]
    result: Message = cls(**{k: v for k, v in data.items() if k in names})
    return result
