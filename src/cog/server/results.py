"""The store of finished predictions: what `GET /predictions/{id}` reads once a prediction has
ended, and what a `PUT` of its id answers instead of running it again.

It keeps each prediction for a bounded time and count (`PYCOG_RESULT_TTL`,
`PYCOG_RESULT_COUNT`, in `ServerSettings`): an OrderedDict in order of ending, so that the
oldest is the first to expire and the first to be evicted, each in O(1). It hears of endings
as an `Observer` of the supervisor, before any client hears of them.

What it keeps of a prediction is its final response, marshalled to bytes: not the prediction
with its event history, whose dozens of objects per prediction the garbage collector would
walk again and again while they are kept (measured: about a seventh of the echo throughput).
Bytes are not tracked by the collector at all; reading one back is rare and costs microseconds.
"""

from __future__ import annotations

import marshal
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

from .prediction import Prediction


class _Kept(NamedTuple):
    expires: float
    response: bytes
    """`Prediction.snapshot()` at its end, marshalled (its values are JSON's: marshal takes
    them all, and is several times faster than json both ways)."""


class ResultStore:
    """Finished predictions by id, each until `ttl` seconds after its end or until `count`
    newer ones have ended; 0 for either keeps none."""

    def __init__(self, ttl: float, count: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.count = count
        self.clock = clock
        self._kept: OrderedDict[str, _Kept] = OrderedDict()

    @property
    def keeps(self) -> bool:
        return self.ttl > 0 and self.count > 0

    def __len__(self) -> int:
        self._expire()
        return len(self._kept)

    # -- as an Observer ----------------------------------------------------------------

    def submitted(self, prediction: Prediction) -> None:
        """Nothing to keep yet: a running prediction is the supervisor's to find."""

    def ended(self, prediction: Prediction) -> None:
        """Keep a prediction that reached its terminal state (one that ran, or one that ended
        while it waited for a slot); a later one with the same id replaces it."""
        if not self.keeps:
            return
        self._kept.pop(prediction.id, None)  # re-inserted last: its expiry is the newest
        self._kept[prediction.id] = _Kept(
            self.clock() + self.ttl, marshal.dumps(prediction.snapshot())
        )
        while len(self._kept) > self.count:
            self._kept.popitem(last=False)
        self._expire()

    # -- reading -----------------------------------------------------------------------

    def get(self, prediction_id: str) -> Prediction | None:
        """The finished prediction with this id, unless it has expired or was evicted (made
        anew from its final response: a stream of it replays only `completed`)."""
        self._expire()
        kept = self._kept.get(prediction_id)
        return None if kept is None else Prediction.restored(marshal.loads(kept.response))

    def _expire(self) -> None:
        """Drop what has expired: all at the front, since each entry expires after the ones
        before it (one TTL, entries in order of ending)."""
        now = self.clock()
        while self._kept:
            oldest = next(iter(self._kept.values()))
            if oldest.expires > now:
                return
            self._kept.popitem(last=False)

    def describe(self) -> str:
        """What is kept, in words for a 404 (with the settings that decide it)."""
        if not self.keeps:
            return "finished predictions are not kept (PYCOG_RESULT_TTL, PYCOG_RESULT_COUNT)"
        return (
            f"finished predictions are kept for {self.ttl:g} s, at most the latest "
            f"{self.count} (PYCOG_RESULT_TTL, PYCOG_RESULT_COUNT)"
        )
