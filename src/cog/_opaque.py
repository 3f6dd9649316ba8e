"""`Opaque`: a marker for values the schema describes only as `{"type": "object"}`."""

from __future__ import annotations


class Opaque:
    """Use as `Annotated[T, cog.Opaque]`: the value is passed through without validation
    or encoding, and the schema says only `{"type": "object"}` (lists keep their shape)."""

    def __init__(self) -> None:
        raise TypeError("Opaque is a marker: use it as Annotated[T, cog.Opaque]")
