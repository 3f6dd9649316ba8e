"""Request bodies read as JSON the way Cog's server (serde_json) reads them.

Python's json module takes what serde refuses, and some of it breaks the server later: NaN and
Infinity and numbers beyond a double (1e999 becomes inf, which no response can render), lone
surrogates (`"\\ud800"`, which cannot be encoded as UTF-8), and nesting deeper than serde's 127
(RecursionError near 1000, and code that walks the value recurses too). Such a body is a 400
here as there, in serde's words, with the field's path and the position. A parsed body is
checked by walking its values (a big string costs nothing: it is ASCII, or scanned at C speed);
only a refused body is scanned as text, to say where.
"""

from __future__ import annotations

import codecs
import json
import os
import re
from typing import Any

MAX_DEPTH = 127
"""serde_json refuses the 128th nested array or object."""
LIFT_BYTES = 1 << 20
"""String literals longer than this, in a body with few strings, are decoded apart."""
_MAX_QUOTES_TO_LIFT = 10_000
_CONTROL = bytes(range(0x20))
_NOT_LIFTED = object()

# One JSON token at a time (strings whole, their escapes unrolled so that a big string is one
# fast match); anything else is a character the parser already refused.
_TOKEN = re.compile(
    r'"(?P<string>[^"\\]*(?:\\.[^"\\]*)*)"'
    r"|(?P<open>[\[{])|(?P<close>[\]}])|(?P<comma>,)|(?P<colon>:)"
    r"|(?P<constant>-?(?:NaN|Infinity))"
    r"|(?P<number>-?\d[\d.eE+-]*)"
    r"|(?P<word>true|false|null)"
    r"|\s+",
    re.DOTALL,
)
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_INFINITIES = (float("inf"), float("-inf"))
_LONE_SURROGATE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])|(?<![0-9a-fA-F]{4})\\u[dD][c-fC-F]"
    r"|[\ud800-\udfff]"
)


class Refusal(ValueError):
    """Why serde would refuse the body, with the path of the value (keys and indexes) and the
    (1-based) line and byte column it would name."""

    def __init__(self, path: list[str | int], message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.line = line
        self.column = column

    def __str__(self) -> str:
        return f"{self.message} at line {self.line} column {self.column}"


class _Constant(ValueError):
    pass


def loads(body: bytes) -> Any:
    """The body's value; JSONDecodeError for a syntax error, Refusal for what serde refuses."""
    if len(body) > LIFT_BYTES and body.count(b'"') <= _MAX_QUOTES_TO_LIFT:
        lifted = _loads_lifting_long_strings(body)
        if lifted is not _NOT_LIFTED:
            return lifted
    try:
        data = _parse(body)
    except json.JSONDecodeError:
        raise
    except (RecursionError, ValueError):
        # A constant, a UnicodeDecodeError, an integer of too many digits, nesting past the
        # stack: the scan finds the first thing serde refuses.
        raise _refusal(body) from None
    if not _acceptable(data):
        raise _refusal(body)
    return data


def _loads_lifting_long_strings(body: bytes) -> Any:
    """The body's value, its long strings (a data: URI) decoded apart a slice at a time and
    the rest parsed as usual: json decodes a string in one C call that holds the GIL, which
    for 150 MB stops every other thread (the event loop's) for a second. _NOT_LIFTED when
    this does not apply (escapes in a long string) or the body is not valid: then the usual
    parse does it all, and says what is wrong."""
    lifted = _lift_long_strings(body)
    if lifted is None:
        return _NOT_LIFTED
    reduced, strings = lifted
    try:
        data = _parse(reduced)
    except (RecursionError, ValueError):
        return _NOT_LIFTED
    if not _acceptable(data):  # the lifted strings are strict UTF-8: nothing to refuse there
        return _NOT_LIFTED
    return _restore(data, strings)


def _lift_long_strings(body: bytes) -> tuple[bytes, dict[str, str]] | None:
    """The body with each long string literal replaced by a marker, and the strings by marker."""
    pieces: list[bytes] = []
    strings: dict[str, str] = {}
    nonce = os.urandom(8).hex()
    copied = 0
    start = body.find(b'"')
    while start >= 0:
        end = _string_end(body, start)
        if end < 0:
            return None
        if end - start - 1 > LIFT_BYTES:
            text = _decode_literal(body, start + 1, end)
            if text is None:
                return None
            marker = f"\x00{nonce}:{len(strings)}"
            strings[marker] = text
            pieces += [body[copied:start], json.dumps(marker).encode()]
            copied = end + 1
        start = body.find(b'"', end + 1)
    if not strings:
        return None
    pieces.append(body[copied:])
    return b"".join(pieces), strings


def _string_end(body: bytes, start: int) -> int:
    """Where the string literal opened at `start` closes (its quote), or -1."""
    position = start + 1
    while (end := body.find(b'"', position)) >= 0:
        backslash = end - 1
        while body[backslash] == 0x5C:  # an odd run of backslashes escapes the quote
            backslash -= 1
        if (end - 1 - backslash) % 2 == 0:
            return end
        position = end + 1
    return -1


def _decode_literal(body: bytes, start: int, end: int) -> str | None:
    """A string literal without escapes, decoded a slice at a time; None if it has escapes,
    control characters or bytes that are not strict UTF-8 (the usual parse deals with them)."""
    if body.find(b"\\", start, end) >= 0:
        return None
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(body)
    parts = []
    try:
        for at in range(start, end, LIFT_BYTES):
            piece = bytes(view[at : min(at + LIFT_BYTES, end)])
            if len(piece.translate(None, _CONTROL)) != len(piece):
                return None
            parts.append(decoder.decode(piece))
        parts.append(decoder.decode(b"", final=True))
    except UnicodeDecodeError:
        return None
    return "".join(parts)


def _restore(data: Any, strings: dict[str, str]) -> Any:
    """The value with each marker replaced by its string (keys included)."""
    if isinstance(data, str):
        return strings.get(data, data)
    stack = [data]
    while stack:
        container = stack.pop()
        if type(container) is dict:
            for key in [key for key in container if key in strings]:
                container[strings[key]] = container.pop(key)
            items: Any = container.items()
        else:
            items = enumerate(container)
        for key, value in list(items):
            if type(value) is str:
                if value in strings:
                    container[key] = strings[value]
            elif type(value) is dict or type(value) is list:
                stack.append(value)
    return data


def _acceptable(data: Any) -> bool:
    """Whether serde would take the value (checked by walking it, iteratively: a few values
    in the usual body; Python steps, so a thread doing it lets the event loop run)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        container, depth = stack.pop()
        if depth > MAX_DEPTH:
            return False
        items = container.items() if type(container) is dict else enumerate(container)
        for key, value in items:
            if type(key) is str and not key.isascii() and _SURROGATE.search(key):
                return False
            kind = type(value)
            if kind is str:
                if not value.isascii() and _SURROGATE.search(value):  # isascii costs nothing
                    return False
            elif kind is float:
                if value in _INFINITIES:
                    return False
            elif kind is int:
                if value.bit_length() > 1024:  # beyond a double
                    return False
            elif kind is dict or kind is list:
                stack.append((value, depth + 1))
    return True


def _refusal(body: bytes) -> Refusal:
    """Where and why serde refuses a body (the slow scan: only for a body refused)."""
    refusal = first_refusal(_text(body))
    return refusal or Refusal([], "invalid value", 1, 0)


def _refuse_constant(name: str) -> Any:
    raise _Constant(name)


# One decoder for every body (json.loads with an option builds a new one per call).
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def _parse(body: bytes) -> Any:
    """json.loads(body), constants refused."""
    return _DECODER.decode(body.decode(json.detect_encoding(body), "surrogatepass"))


def _text(body: bytes) -> str:
    """The body as text, each byte that is not UTF-8 (an encoded surrogate included) kept as
    a lone surrogate: the scan refuses the string it is in, and columns count it as a byte."""
    return body.decode("utf-8", "surrogateescape")


def first_refusal(text: str) -> Refusal | None:
    """The first value in a syntactically valid JSON text that serde would refuse."""
    path: list[str | int] = []
    # One entry per open container: whether it is an object, and whether a key comes next.
    stack: list[list[bool]] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        in_object = bool(stack) and stack[-1][0]
        if kind == "open":
            if len(stack) >= MAX_DEPTH:
                return _at(text, match.end(), path, "recursion limit exceeded")
            stack.append([match.group() == "{", match.group() == "{"])
            path.append("" if match.group() == "{" else 0)
        elif kind == "close":
            stack.pop()
            path.pop()
        elif kind == "comma":
            if in_object:
                stack[-1][1] = True
            else:
                last = path[-1]
                path[-1] = last + 1 if isinstance(last, int) else 0
        elif kind == "string" and in_object and stack[-1][1]:
            stack[-1][1] = False
            path[-1] = _key(match.group("string"))
        else:
            problem = _problem(kind, match)
            if problem is not None:
                message, end = problem
                return _at(text, end, path, message)
    return None


def _problem(kind: str | None, match: re.Match[str]) -> tuple[str, int] | None:
    """What is wrong with a value token (the message, and where serde says it is)."""
    if kind == "constant":
        return "expected value", match.start() + 1
    if kind == "number" and _out_of_range(match.group()):
        return "number out of range", match.end()
    if kind == "string":
        found = _LONE_SURROGATE.search(match.group("string"))
        if found is not None:
            if found.group().startswith("\\"):
                after = match.start() + 1 + found.end()  # just past the escape, in the text
                if match.string[after : after + 1] != "\\":
                    return "unexpected end of hex escape", after + 1
                return "lone leading surrogate in hex escape", after + 6
            return "invalid unicode code point", match.end()
    return None


def _out_of_range(number: str) -> bool:
    try:
        return abs(float(number)) == float("inf")
    except ValueError:
        return False


def _key(raw: str) -> str:
    try:
        key: str = json.loads(f'"{raw}"')
    except ValueError:
        return raw
    return key


def _at(text: str, end: int, path: list[str | int], message: str) -> Refusal:
    """A refusal at the character before `end` (serde names the last character it read)."""
    before = text[:end]
    line_start = before.rfind("\n") + 1
    column = len(before[line_start:].encode("utf-8", "surrogateescape"))
    return Refusal(list(path), message, before.count("\n") + 1, column)
