"""`Input(...)`: metadata and constraints of one predictor parameter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Number = int | float


@dataclass(frozen=True)
class FieldInfo:
    """What `Input(...)` returns: the default and every constraint of one input.

    Frozen so that one `Input(...)` object can safely be shared by several parameters.
    """

    default: Any = None
    description: str | None = None
    ge: Number | None = None
    le: Number | None = None
    min_length: int | None = None
    max_length: int | None = None
    regex: str | None = None
    choices: list[str | int] | None = None
    deprecated: bool | None = None
    accept: str | None = None


def Input(
    default: Any = None,
    *,
    default_factory: Callable[..., Any] | None = None,
    description: str | None = None,
    ge: Number | None = None,
    le: Number | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    regex: str | None = None,
    choices: list[str | int] | None = None,
    deprecated: bool | None = None,
    accept: str | None = None,
) -> Any:
    """Describe a predictor input: its default, description and constraints.

    Example::

        def run(self, steps: int = Input(default=20, ge=1, le=100, description="Steps")) -> str:
            ...

    `accept` takes HTML `accept` syntax (`"image/*,.png"`) and is only valid on file inputs.
    A default must be a literal: `default_factory` is refused, because the schema is read from
    the source without running it.
    """
    if default_factory is not None:
        raise TypeError(
            "Input(default_factory=...) is not supported: give a literal default instead "
            "(Input(default=...)), or build mutable values inside run()/predict()."
        )
    return FieldInfo(
        default=default,
        description=description,
        ge=ge,
        le=le,
        min_length=min_length,
        max_length=max_length,
        regex=regex,
        choices=choices,
        deprecated=deprecated,
        accept=accept,
    )
