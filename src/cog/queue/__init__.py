"""Predictions through a Redis stream: many workers behind one queue (docs/scale-out.md).

client   `QueueClient`: submit, get, wait for and cancel queued predictions

`QueueClient` is imported on first use: the server imports parts of this package in every
mode, and should not pay for redis-py's synchronous client there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import QueueClient as QueueClient


def __getattr__(name: str) -> Any:
    if name == "QueueClient":
        from .client import QueueClient

        return QueueClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
