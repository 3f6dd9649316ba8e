"""JSON with its long strings encoded a slice at a time.

json encodes a string in one C call that holds the GIL: for a 300 MB output that is a second
in which no other thread runs, the server's event loop included, even when the encoding is
done in a thread. Encoded a slice at a time, each step is short and the loop runs between
them. The bytes are exactly json.dumps's (with `separators=(",", ":")`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

SLICE = 1 << 20
"""Characters: strings longer than this are encoded in slices."""


def carries_much(value: Any, depth: int = 0) -> bool:
    """Whether a value holds a long string, where messages and answers have them (a few
    levels down; only the first items of a list are looked at). Called for every message
    and answer: plain loops, exact types."""
    kind = type(value)
    if kind is str:
        return len(value) > SLICE
    if depth >= 3:
        return False
    if kind is dict:
        items: Any = value.values()
    elif kind is list:
        items = value if len(value) <= 64 else value[:64]
    else:
        return False
    for item in items:
        item_kind = type(item)
        if item_kind is str:
            if len(item) > SLICE:
                return True
        elif (item_kind is dict or item_kind is list) and carries_much(item, depth + 1):
            return True
    return False


def dumps_in_slices(
    value: Any,
    *,
    ensure_ascii: bool = True,
    allow_nan: bool = True,
    default: Callable[[Any], Any] | None = None,
) -> bytes:
    def dumps(part: Any) -> str:
        return json.dumps(
            part,
            ensure_ascii=ensure_ascii,
            allow_nan=allow_nan,
            default=default,
            separators=(",", ":"),
        )

    return b"".join(_pieces(value, dumps))


def _pieces(value: Any, dumps: Callable[[Any], str]) -> Iterator[bytes]:
    if isinstance(value, str) and len(value) > SLICE:
        yield b'"'
        for start in range(0, len(value), SLICE):
            yield dumps(value[start : start + SLICE])[1:-1].encode("utf-8")
        yield b'"'
    elif isinstance(value, dict) and carries_much(value):
        yield b"{"
        for index, (key, item) in enumerate(value.items()):
            yield (b"," if index else b"") + dumps(str(key)).encode("utf-8") + b":"
            yield from _pieces(item, dumps)
        yield b"}"
    elif isinstance(value, list) and carries_much(value):
        yield b"["
        for index, item in enumerate(value):
            if index:
                yield b","
            yield from _pieces(item, dumps)
        yield b"]"
    else:
        yield dumps(value).encode("utf-8")
