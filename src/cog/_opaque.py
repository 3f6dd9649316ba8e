"""`Opaque`: a marker for values the schema describes only as `{"type": "object"}`."""

from __future__ import annotations

from typing import Final


class _OpaqueMarker:
    """The type of the `cog.Opaque` marker (one instance)."""

    def __repr__(self) -> str:
        return "cog.Opaque"


Opaque: Final = _OpaqueMarker()
"""Use as `Annotated[T, cog.Opaque]`: the value passes through without validation or encoding,
and the schema says only `{"type": "object"}` (lists keep their shape)."""
