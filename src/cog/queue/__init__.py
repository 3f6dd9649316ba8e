"""Predictions through a Redis stream: many workers behind one queue (docs/scale-out.md).

client   `QueueClient`: submit, get, wait for and cancel queued predictions
"""

from __future__ import annotations

from .client import QueueClient as QueueClient
