"""Who follows one prediction's state as it changes, besides its clients: the webhook sender
of a prediction made with a webhook, the response writer of one taken from a queue.

A follower hears each change as it is applied (`event`, with the webhook event kind: `start`,
`output`, `logs`) and the end (`finish`, from the supervisor once the slot is free); `finish`
may hand back the task that delivers the terminal state, which a shutdown waits for.
"""

from __future__ import annotations

import asyncio
from typing import Protocol


class Follower(Protocol):
    def event(self, kind: str) -> None:
        """Something happened (`start`, `output` or `logs`); called in the order of events."""

    def finish(self) -> asyncio.Task[None] | None:
        """The prediction has ended: deliver its terminal state; the task doing so, if any."""
