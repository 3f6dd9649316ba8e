"""The model's `healthcheck()`: run on one event loop, bounded by one timeout.

Async checks run on the predictor's event loop (beside its predictions), or for a synchronous
predictor on one loop kept for health checks; synchronous checks run on one small executor,
awaited from that loop. Every probe runs the check afresh (as Cog does); one that times out
while still queued behind hung checks never runs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
from collections.abc import Callable
from typing import Any

from .attempt import Send, qualified
from .events import Healthcheck, HealthcheckResult

HEALTHCHECK_TIMEOUT = 5.0
"""Seconds the worker gives `healthcheck()`; the server waits a little longer for the answer."""
HEALTHCHECK_THREADS = 4
"""Sync checks that can hang at once before the next ones wait (and time out) behind them."""


class HealthChecks:
    def __init__(
        self, check: Callable[[], Any] | None, send: Send, loop: asyncio.AbstractEventLoop | None
    ) -> None:
        self.check = check
        self.send = send
        self.loop = loop
        self.executor = concurrent.futures.ThreadPoolExecutor(
            HEALTHCHECK_THREADS, thread_name_prefix="healthcheck"
        )

    def request(self, message: Healthcheck) -> None:
        """Answer the probe with a HealthcheckResult, later, from the loop."""
        if self.check is None:
            self.send(HealthcheckResult(message.id, True))
            return
        asyncio.run_coroutine_threadsafe(self._answer(message.id, self.check), self._loop())

    def _loop(self) -> asyncio.AbstractEventLoop:
        if self.loop is None:  # a synchronous predictor: a loop of its own, started once
            self.loop = asyncio.new_event_loop()
            threading.Thread(target=self.loop.run_forever, daemon=True, name="health").start()
        return self.loop

    async def _answer(self, check_id: str, check: Callable[[], Any]) -> None:
        try:
            healthy, raised = await asyncio.wait_for(self._call(check), HEALTHCHECK_TIMEOUT)
        except asyncio.TimeoutError:  # not the builtin TimeoutError on 3.10
            late = f"user-defined healthcheck timed out after {HEALTHCHECK_TIMEOUT:.1f} seconds"
            self.send(HealthcheckResult(check_id, False, late))
            return
        if raised is not None:
            self.send(HealthcheckResult(check_id, False, qualified(raised)))
            return
        error = None if healthy else "user-defined healthcheck returned False"
        self.send(HealthcheckResult(check_id, bool(healthy), error))

    async def _call(self, check: Callable[[], Any]) -> tuple[Any, BaseException | None]:
        """(what the check returned, what it raised). Any BaseException is returned, not
        raised: a SystemExit escaping a task on the loop would stop the loop."""
        try:
            if inspect.iscoroutinefunction(check):
                return await check(), None
            return await asyncio.wrap_future(self.executor.submit(check)), None
        except asyncio.CancelledError:
            raise  # the timeout
        except BaseException as exc:
            return None, exc
