"""A neutral description of annotations, produced by both readers (runtime and static).

The runtime reader turns Python type objects into `TypeNode`s, the static reader turns source
(`ast`) into the same nodes; one resolver (`resolve.py`) turns nodes into the IR, so both
readings accept, describe and refuse exactly the same things.

Names are canonical: `str int float bool bytes None Any Path File Secret dict list Optional
Union Iterator AsyncIterator ConcatenateIterator AsyncConcatenateIterator Opaque model
unknown`. `Opaque` wraps the annotated type; `model` carries its fields; `unknown` carries the
name (and module) it came from, for the error message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MISSING: Any = type("MISSING", (), {"__repr__": lambda self: "MISSING"})()


@dataclass(frozen=True)
class ModelField:
    name: str
    type: TypeNode
    default: Any = MISSING
    key_required: bool | None = None
    """For TypedDict keys: Required/NotRequired or the class's `total`."""


@dataclass(frozen=True)
class TypeNode:
    name: str
    args: tuple[TypeNode, ...] = ()
    fields: tuple[ModelField, ...] = field(default=())
    label: str = ""
    """What the user wrote (for messages): the class name of a model, an unknown name."""
    module: str = ""


NONE = TypeNode("None")
