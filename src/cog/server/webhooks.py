"""Webhooks: prediction state POSTed to the client's URL as it changes.

`start` and `completed` go out at once; `output` and `logs` at most once per throttle interval
(the latest state is sent at the end of the interval, so nothing is lost to throttling).
Terminal webhooks are retried with backoff on 429/5xx and network errors.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import envvars

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("cog.server")
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
TERMINAL_RETRIES = 12
TIMEOUT = 30.0
EVENTS = ("start", "output", "logs", "completed")


class WebhookSender:
    """Sends one prediction's webhooks."""

    def __init__(
        self,
        url: str,
        events: list[str] | None,
        snapshot: Callable[[], dict[str, Any]],
        client: httpx.AsyncClient,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.url = url
        self.events = set(EVENTS if events is None else events)
        self.snapshot = snapshot
        self.client = client
        self.headers = dict(headers or {})
        token = envvars.WEBHOOK_AUTH_TOKEN.get()
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.interval = envvars.THROTTLE_RESPONSE_INTERVAL.get_float() or 0.0
        self.last_sent = -1e9
        self.trailing: asyncio.Task[None] | None = None
        self.pending: set[asyncio.Task[None]] = set()

    def event(self, kind: str) -> None:
        """Note that something happened; sends now, later (throttled), or not at all."""
        if kind not in self.events:
            return
        if kind == "start":
            # The state as it starts (`processing`, no output yet), not as it is when the
            # task first runs, by which time outputs may have come.
            self._spawn(self._send_once(self.snapshot()))
            return
        loop = asyncio.get_running_loop()
        wait = self.last_sent + self.interval - loop.time()
        if wait <= 0:
            self.last_sent = loop.time()
            self._spawn(self._send_once())
        elif self.trailing is None:
            self.trailing = asyncio.create_task(self._send_later(wait))

    async def _send_later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self.trailing = None
        self.last_sent = asyncio.get_running_loop().time()
        await self._send_once()

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _send_once(self, payload: dict[str, Any] | None = None) -> None:
        import httpx

        try:
            await self.client.post(
                self.url,
                json=self.snapshot() if payload is None else payload,
                headers=self.headers,
                timeout=TIMEOUT,
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            log.warning("webhook to %s failed: %s", self.url, exc)

    async def completed(self) -> None:
        """Send the terminal state (whether or not `completed` is filtered out, nothing more
        is sent after it), retrying until it is accepted."""
        if self.trailing is not None:
            self.trailing.cancel()
        if "completed" not in self.events:
            return
        import httpx

        payload = self.snapshot()
        for attempt in range(TERMINAL_RETRIES + 1):
            try:
                response = await self.client.post(
                    self.url, json=payload, headers=self.headers, timeout=TIMEOUT
                )
                if response.status_code not in RETRY_STATUS:
                    return
            except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
                log.warning("terminal webhook to %s failed: %s", self.url, exc)
                return  # no retry can fix the URL
            except httpx.HTTPError as exc:
                log.warning("terminal webhook to %s failed: %s", self.url, exc)
            await asyncio.sleep(0.1 * 2 ** min(attempt, 10))
        log.error("giving up on the terminal webhook to %s", self.url)
