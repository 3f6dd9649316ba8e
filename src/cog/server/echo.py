"""The input as responses and webhooks echo it: without its large values.

A 50 MB `data:` URI echoed in every response and webhook costs the client, the receiver and
the server (rendering it blocks the event loop) for nothing: the client sent it. Such a value
is echoed as its header and size (`data:image/png;base64,…(12.3 MB)`), and any other string
longer than LONG_TEXT as its beginning and size. URLs are short: they are echoed as given.
"""

from __future__ import annotations

from typing import Any

LONG_DATA_URI = 1024
"""Characters: a small data: URI (an icon, a test fixture) is echoed whole."""
LONG_TEXT = 1024 * 1024
_KEPT_TEXT = 64


def echoed(values: dict[str, Any]) -> dict[str, Any]:
    """`values` itself when nothing in it is large, else a copy with large values shortened."""
    shortened: dict[str, Any] | None = None
    for name, value in values.items():
        if type(value) is str and len(value) <= LONG_DATA_URI or value is None:
            continue  # the usual input: nothing to look into
        short = _shorten(value)
        if short is not value:
            if shortened is None:
                shortened = dict(values)
            shortened[name] = short
    return values if shortened is None else shortened


def _shorten(value: Any) -> Any:
    if isinstance(value, str):
        if len(value) > LONG_DATA_URI and value.startswith("data:"):
            return _data_uri(value)
        if len(value) > LONG_TEXT:
            return f"{value[:_KEPT_TEXT]}…({_size(len(value.encode()))})"
        return value
    if isinstance(value, dict):
        items = {key: _shorten(item) for key, item in value.items()}
        return value if all(items[k] is v for k, v in value.items()) else items
    # Lists of numbers (embeddings) can be long and hold nothing to shorten: not walked.
    if isinstance(value, list) and value and isinstance(value[0], str | dict | list):
        shortened = [_shorten(item) for item in value]
        return value if all(a is b for a, b in zip(shortened, value, strict=True)) else shortened
    return value


def _data_uri(uri: str) -> str:
    comma = uri.find(",")  # not partition: that would copy the payload
    header = uri if comma < 0 else uri[:comma]
    size = len(uri) - len(header) - 1
    if header.endswith(";base64"):
        size = size * 3 // 4 - uri[-2:].count("=")
    return f"{header},…({_size(max(size, 0))})"


def _size(count: int) -> str:
    if count >= 1_000_000:
        return f"{count / 1_000_000:.1f} MB"
    return f"{count / 1000:.1f} kB"
