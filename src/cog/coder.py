"""`Coder`: teach pycog to encode and decode a custom input or output type.

A coder class registers itself with `Coder.register(MyCoder)`; `factory(tpe)` returns a coder
instance for a type it handles (or None), `encode(value)` turns a value into a JSON object and
`decode(obj)` turns one back. The static schema reader cannot see such types: give the model a
prebuilt schema (`COG_OPENAPI_SCHEMA`) or use `Opaque` instead.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar


class Coder(ABC):
    """Encodes and decodes values of one custom type."""

    _coders: ClassVar[set[type[Coder]]] = set()

    @staticmethod
    def register(coder: type[Coder]) -> None:
        """Make `coder` known to input decoding and output encoding."""
        Coder._coders.add(coder)

    @staticmethod
    def lookup(tpe: Any) -> Coder | None:
        """The registered coder for `tpe`, if any."""
        for coder in Coder._coders:
            found = coder.factory(tpe)
            if found is not None:
                return found
        return None

    @staticmethod
    @abstractmethod
    def factory(tpe: Any) -> Coder | None:
        """A coder for `tpe`, or None when this coder does not handle it."""

    @abstractmethod
    def encode(self, value: Any) -> dict[str, Any]:
        """Turn a value into a JSON object."""

    @abstractmethod
    def decode(self, value: dict[str, Any]) -> Any:
        """Turn a JSON object back into a value."""
