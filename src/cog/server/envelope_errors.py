"""Why a request envelope cannot be read, in the words Cog's server uses.

Cog reads the envelope with serde (`id` a string, `context` strings by string, `webhook` a
string, `webhook_events_filter` known events) and answers a misfit with 422 and a plain-text
line naming the field, the value's kind and where in the body it is. Only the failing path
runs this module, so finding positions by rescanning the text costs nothing on valid requests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

EVENTS = ("start", "output", "logs", "completed")
DESERIALIZE = "Failed to deserialize the JSON body into the target type: "
PARSE = "Failed to parse the request body as JSON: "
TOO_LARGE = "Failed to buffer the request body: length limit exceeded"
NOT_JSON = "Expected request with `Content-Type: application/json`"
_WHITESPACE = " \t\n\r"
# Python's words for the JSON syntax errors clients make most, in serde's.
_SYNTAX = {
    "Expecting property name enclosed in double quotes": "key must be a string",
    "Expecting value": "expected value",
    "Expecting ':' delimiter": "expected `:`",
    "Expecting ',' delimiter": "expected `,` or `}`",
    "Extra data": "trailing characters",
    "Invalid control character at": "control character (\\u0000-\\u001F) found while parsing a string",
    "Invalid \\escape": "invalid escape",
}
# serde names the character after the backslash; Python the backslash.
_AFTER = {"Invalid \\escape": 1}


@dataclass
class Misfit:
    """A value of the wrong kind: where it is (keys and indexes) and what was expected."""

    path: list[str | int]
    message: str
    status: int = 422
    peeked: bool = False
    """The value was refused on sight of its first character (a list or object), so the position
    is before it; otherwise after it (serde reads scalars whole first)."""


def syntax_error(body: str, error: json.JSONDecodeError) -> str:
    if not body.strip():
        return f"{PARSE}EOF while parsing a value at line 1 column 0"
    words = _SYNTAX.get(error.msg, error.msg[:1].lower() + error.msg[1:])
    column = error.colno + _AFTER.get(error.msg, 0)
    return f"{PARSE}{words} at line {error.lineno} column {column}"


def envelope_misfit(data: Any) -> Misfit | None:
    """The first field (in the body's order) that does not fit, as serde would find it."""
    if not isinstance(data, dict):
        if isinstance(data, list) and data:
            return _string([0], data[0]) if data[0] is not None else None
        return Misfit([], f"invalid type: {_kind(data)}, expected struct PredictionRequest",
                      peeked=isinstance(data, dict | list))  # fmt: skip
    for key, value in data.items():
        found: Misfit | None = None
        if key in ("id", "webhook") and value is not None:
            found = _string([key], value)
        elif key == "context":
            found = _context(value)
        elif key == "webhook_events_filter":
            found = _events(value)
        if found is not None:
            return found
    return None


def _string(path: list[str | int], value: Any) -> Misfit | None:
    if isinstance(value, str):
        return None
    return _wrong(path, value, "a string")


def _wrong(path: list[str | int], value: Any, expected: str) -> Misfit:
    message = f"invalid type: {_kind(value)}, expected {expected}"
    return Misfit(path, message, peeked=isinstance(value, dict | list))


def _context(value: Any) -> Misfit | None:
    if not isinstance(value, dict):
        return _wrong(["context"], value, "a map")
    for key, item in value.items():
        found = _string(["context", key], item)
        if found is not None:
            return found
    return None


def _events(value: Any) -> Misfit | None:
    if not isinstance(value, list):
        return _wrong(["webhook_events_filter"], value, "a sequence")
    for index, item in enumerate(value):
        path: list[str | int] = ["webhook_events_filter", index]
        if not isinstance(item, str):
            # serde reads an event name as an identifier: anything else is a syntax error.
            return Misfit(path, "expected value", status=400)
        if item not in EVENTS:
            expected = ", ".join(f"`{event}`" for event in EVENTS)
            return Misfit(path, f"unknown variant `{item}`, expected one of {expected}")
    return None


def _kind(value: Any) -> str:
    """A value as serde names it in `invalid type: ...`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{json.dumps(value)}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value!r}`"
    if isinstance(value, str):
        return f"string {json.dumps(value, ensure_ascii=False)}"
    return "sequence" if isinstance(value, list) else "map"


def describe(body: str, misfit: Misfit) -> str:
    """The whole answer line: prefix, field path, message and position in the body."""
    start, end = _locate(body, misfit.path)
    offset = start if misfit.peeked else end
    before = body[:offset]
    line = before.count("\n") + 1
    column = len(before[before.rfind("\n") + 1 :].encode())
    path = path_text(misfit.path)
    prefix = PARSE if misfit.status == 400 else DESERIALIZE
    return f"{prefix}{path}{misfit.message} at line {line} column {column}"


def path_text(path: list[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return f"{text}: " if text else ""


def _locate(body: str, path: list[str | int]) -> tuple[int, int]:
    """Where the value at `path` starts and ends in the body (the last duplicate key's)."""
    decoder = json.JSONDecoder()
    position = _skip(body, 0)
    for part in path:
        opener = body[position]
        position = _skip(body, position + 1)
        found = None
        index = 0
        while body[position] not in "]}":
            if opener == "{":
                key, position = scanstring(body, position + 1)
                position = _skip(body, _skip(body, position) + 1)  # past the `:`
            else:
                key = index
            value_end = decoder.raw_decode(body, position)[1]
            if key == part:
                found = position
            index += 1
            position = _skip(body, value_end)
            if body[position] == ",":
                position = _skip(body, position + 1)
        if found is None:
            break
        position = found
    return position, decoder.raw_decode(body, position)[1]


def _skip(body: str, position: int) -> int:
    while position < len(body) and body[position] in _WHITESPACE:
        position += 1
    return position
