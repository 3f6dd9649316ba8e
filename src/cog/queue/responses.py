"""Writing a queued prediction's state back: its PredictionResponse JSON (secrets masked, as
`Prediction.snapshot` shows it) SET at `NAME:response:ID` with the result TTL, and PUBLISHed on
the channel of the same name.

Each prediction has one `Responder` (a follower of its state, as its webhook sender is), whose
one courier task writes in order: the state when it was accepted, then the latest state at most
once per `INTERVAL` (logs can be many: states in between are coalesced), then the terminal one,
always, as soon as the prediction ends. `stored` resolves when the terminal state is in Redis
(True), or when it will not be (False: the worker crashed and the entry is left for another
worker, or the shutdown gave up): only then is the entry acknowledged.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from ..server.prediction import Prediction
from ..server.webhooks import encode
from .keys import response_key
from .link import Link

log = logging.getLogger("cog.queue")
INTERVAL = 0.1
"""Minimum seconds between two intermediate writes of one prediction."""


class Responses:
    """The queue's response keys."""

    def __init__(self, link: Link, queue: str, ttl: int) -> None:
        self.link = link
        self.queue = queue
        self.ttl = ttl

    async def store(
        self, prediction_id: str, state: dict[str, Any], also: str | None = None
    ) -> None:
        """Write one state (and publish it), retrying until Redis has it; `also` is one more
        key to SET it at (the request's `response_queue`, as Cog's former worker did)."""
        key = response_key(self.queue, prediction_id)
        body = encode(state)

        async def write() -> None:
            pipe = self.link.redis.pipeline(transaction=True)
            pipe.set(key, body, ex=self.ttl)
            if also:
                pipe.set(also, body, ex=self.ttl)
            pipe.publish(key, body)
            await pipe.execute()

        await self.link.retry(f"writing {key}", write)

    async def terminal(self, prediction_id: str) -> dict[str, Any] | None:
        """The stored response when it is terminal (the prediction already ran), else None."""
        key = response_key(self.queue, prediction_id)
        raw = await self.link.retry(f"reading {key}", lambda: self.link.redis.get(key))
        if raw is None:
            return None
        try:
            state = json.loads(raw)
        except ValueError:
            return None
        if isinstance(state, dict) and state.get("status") in ("succeeded", "failed", "canceled"):
            return state
        return None


class Responder:
    """One prediction's writes, in order, the terminal one last."""

    def __init__(
        self,
        responses: Responses,
        prediction_id: str,
        keep: Callable[[], bool],
        also: str | None = None,
    ) -> None:
        self.responses = responses
        self.prediction_id = prediction_id
        self.also = also
        self.snapshot: Callable[[], dict[str, Any]] = dict
        self.keep = keep
        """Whether the terminal state is to be stored; False once the worker crashed (the
        entry is run again elsewhere, and the crash is not its answer)."""
        self.dirty = False
        self.finished = False
        self.dropped = False
        """Nothing more is written (the terminal state is not to be stored)."""
        self.courier: asyncio.Task[None] | None = None
        self._ending = asyncio.Event()
        self.stored: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def follow(self, prediction: Prediction) -> Responder:
        """Follow this prediction (the order's `follow`: made for it, or joined in flight)."""
        self.snapshot = prediction.snapshot
        return self

    # -- the follower interface (see cog.server.followers) ------------------------------

    def event(self, kind: str) -> None:
        if not self.finished:
            self._changed()

    def finish(self) -> asyncio.Task[None] | None:
        self.finished = True
        if not self.keep():
            # Checked by the courier too: a cancel alone can be lost (wait_for before 3.12
            # returns the result of a wait that ended as it was canceled).
            self.dropped = True
            if self.courier is not None:
                self.courier.cancel()
            self._settle(False)
            return None
        self._ending.set()
        self._changed()
        return self.courier

    # -- writing -------------------------------------------------------------------------

    def accepted(self) -> None:
        """The prediction was taken: its first state (`starting`) is written."""
        self._changed()

    def _changed(self) -> None:
        self.dirty = True
        if self.courier is None:
            self.courier = asyncio.create_task(self._write_in_order())

    async def _write_in_order(self) -> None:
        try:
            while self.dirty and not self.dropped:
                self.dirty = False
                ending = self.finished
                await self.responses.store(self.prediction_id, self.snapshot(), self.also)
                if ending:
                    self._settle(True)
                    return
                if not self.finished:  # the terminal state is not held back by the throttle
                    try:
                        await asyncio.wait_for(self._ending.wait(), INTERVAL)
                    except asyncio.TimeoutError:  # not the builtin one before 3.11
                        pass
        except asyncio.CancelledError:
            self._settle(False)
            raise
        except Exception:  # a Redis that refuses the write: logged, the entry left pending
            log.exception("could not write the response of %s", self.prediction_id)
            self._settle(False)
        finally:
            # No await between the last check of `dirty` and this: a later change starts a
            # new courier.
            self.courier = None

    def _settle(self, stored: bool) -> None:
        if not self.stored.done():
            self.stored.set_result(stored)
