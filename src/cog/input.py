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
    default_given: bool = True
    """False when `Input(...)` was called without a default (then `default` is None): such an
    input is required unless its type is Optional, as Cog's schema has it."""


class _NoDefault:
    def __repr__(self) -> str:
        return "None"


_NO_DEFAULT: Any = _NoDefault()


def Input(
    default: Any = _NO_DEFAULT,
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
    given = default is not _NO_DEFAULT
    return FieldInfo(
        default=default if given else None,
        description=description,
        ge=ge,
        le=le,
        min_length=min_length,
        max_length=max_length,
        regex=regex,
        choices=choices,
        deprecated=deprecated,
        accept=accept,
        default_given=given,
    )
