"""Canceling queued predictions: one that runs is canceled once its cancel key exists
(`NAME:cancel:ID`, or the key its request named as `cancel_key`).

One loop asks about every key in flight at once (EXISTS in one pipeline) every `POLL` seconds,
rather than one task per prediction: a worker with many slots costs Redis one round trip per
poll.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from redis.exceptions import ResponseError

from .link import LOST, Link

log = logging.getLogger("cog.queue")
POLL = 0.25
"""Seconds between two looks: a cancel takes effect within this (and the model's own time)."""


class CancelWatcher:
    def __init__(self, link: Link, cancel: Callable[[str], object]) -> None:
        self.link = link
        self.cancel = cancel
        self.watched: dict[str, str] = {}
        """Prediction id → the key that cancels it."""

    def watch(self, prediction_id: str, key: str) -> None:
        self.watched[prediction_id] = key

    def forget(self, prediction_id: str) -> None:
        self.watched.pop(prediction_id, None)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(POLL)
            if not self.watched:
                continue
            try:
                await self._look()
            except LOST as exc:  # Redis is away: the next poll asks again
                self.link.lost("looking for cancel keys", exc)
            except ResponseError as exc:  # a refusal must not end the watch
                log.error("looking for cancel keys failed: %s", exc)

    async def _look(self) -> None:
        watched = list(self.watched.items())
        pipe = self.link.redis.pipeline(transaction=False)
        for _, key in watched:
            pipe.exists(key)
        found = await pipe.execute()
        self.link.answered()
        for (prediction_id, key), exists in zip(watched, found, strict=True):
            if exists and self.watched.get(prediction_id) == key:
                log.info("canceling %s: %s exists", prediction_id, key)
                del self.watched[prediction_id]
                self.cancel(prediction_id)
