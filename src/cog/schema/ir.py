"""The schema IR: a predictor's inputs and output, described once and rendered to OpenAPI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..batching import BatchSpec
from .types import MISSING

PRIMITIVE_JSON: dict[str, dict[str, Any]] = {
    "bool": {"type": "boolean"},
    "float": {"type": "number"},
    "int": {"type": "integer"},
    "str": {"type": "string"},
    "Path": {"type": "string", "format": "uri"},
    "File": {"type": "string", "format": "uri"},
    "Secret": {"type": "string", "format": "password", "writeOnly": True, "x-cog-secret": True},
    "Any": {"type": "object"},
}


@dataclass(frozen=True)
class InputType:
    """`primitive` (str, int, ..., Path, Secret, Any), `array` of a primitive, or `union`."""

    kind: str
    primitive: str = "Any"
    variants: tuple[InputType, ...] = ()
    nullable: bool = False


@dataclass(frozen=True)
class InputField:
    name: str
    order: int
    type: InputType
    default: Any = MISSING
    description: str | None = None
    ge: float | None = None
    le: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    regex: str | None = None
    choices: tuple[Any, ...] | None = None
    deprecated: bool | None = None
    accept: str | None = None


@dataclass(frozen=True)
class OutputField:
    name: str
    type: OutputType
    required: bool
    default: Any = MISSING


@dataclass(frozen=True)
class OutputType:
    """`primitive`, `any`, `array`, `dict`, `object`, `iterator` or `concatenate`."""

    kind: str
    primitive: str = "Any"
    items: OutputType | None = None
    fields: tuple[OutputField, ...] = ()
    nullable: bool = False


@dataclass(frozen=True)
class PredictorInfo:
    inputs: tuple[InputField, ...]
    output: OutputType
    mode: str = "predict"
    streaming: bool = False
    concurrency: int | None = None
    batch: BatchSpec | None = None
    """`@cog.batch`: inputs and output are described per request."""
    extra: dict[str, Any] = field(default_factory=dict)
