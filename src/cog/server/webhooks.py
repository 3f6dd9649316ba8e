"""Webhooks: a prediction's state POSTed to the client's URL as it changes.

Each prediction has one outbox, emptied by one task, so its webhooks arrive in the order of
their events; each body is the JSON of the state at its event (taken then, not when it is sent).
`start` is queued at once; `output` and `logs` at most once per throttle interval, and the
latest state is queued at the end of the interval, so nothing is lost to throttling; an update
still waiting in the outbox is replaced by a newer one, or by the terminal one (coalesced). The
terminal webhook is the last one queued (nothing is queued after it, whether or not `completed`
is filtered out) and is retried with backoff on 429/5xx and network errors, a bounded number of
times; the others are sent once. Each webhook's outcome (`Outcome`) is told to the sender's
`listeners` (the server's metrics count them).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("cog.server")
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
TERMINAL_RETRIES = 12
BACKOFF_BASE = 0.2
TIMEOUT = 30.0
EVENTS = ("start", "output", "logs", "completed")
INTERVAL = 0.5
"""Cog's default throttle (COG_THROTTLE_RESPONSE_INTERVAL; the server passes its setting)."""

Outcome = Literal["delivered", "rejected", "failed"]
"""How one webhook ended: answered 2xx; answered with another status that is not retried (or,
for a non-terminal one, any other status: those are sent once); or never answered (network
errors, a bad URL, the terminal one's retries all used up)."""


@dataclass(frozen=True)
class Webhook:
    """One queued webhook: its body as it will be sent."""

    body: bytes
    terminal: bool = False
    update: bool = False
    """An `output` or `logs` webhook: a newer one may replace it while it waits."""


def encode(state: dict[str, Any]) -> bytes:
    """The JSON of a state, as httpx's `json=` would write it, taken now: later changes to
    the prediction (its metrics are nested dicts) cannot reach a queued body."""
    return json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode()


class WebhookSender:
    """Sends one prediction's webhooks, in order, the terminal one last."""

    def __init__(
        self,
        url: str,
        events: list[str] | None,
        snapshot: Callable[[], dict[str, Any]],
        client: httpx.AsyncClient,
        headers: dict[str, str] | None = None,
        backoff: float = BACKOFF_BASE,
        *,
        token: str | None = None,
        interval: float = INTERVAL,
        prediction_id: str | None = None,
    ) -> None:
        self.url = url
        self.log_extra = {"prediction_id": prediction_id} if prediction_id else None
        """What the log lines about this prediction's webhooks carry (LOG_FORMAT=json)."""
        self.listeners: list[Callable[[Outcome], None]] = []
        """Told of each webhook's outcome, once it is known."""
        self.backoff = backoff
        """Seconds before the first retry of the terminal webhook; doubled at each retry."""
        self.events = set(EVENTS if events is None else events)
        self.snapshot = snapshot
        self.client = client
        self.headers = {**(headers or {}), "Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.interval = interval
        """Minimum seconds between two non-terminal webhooks."""
        self.last_queued = -1e9
        self.trailing: asyncio.TimerHandle | None = None
        self.outbox: deque[Webhook] = deque()
        self.courier: asyncio.Task[None] | None = None
        self.finished = False

    # -- events (called on the prediction's events, in order) ------------------------------

    def event(self, kind: str) -> None:
        """Note that something happened; queues the state now, at the end of the throttle
        interval, or not at all."""
        if self.finished or kind not in self.events:
            return
        loop = asyncio.get_running_loop()
        if kind == "start":
            self.last_queued = loop.time()
            self._queue(Webhook(encode(self.snapshot())))
            return
        wait = self.last_queued + self.interval - loop.time()
        if wait <= 0:
            self._queue_update()
        elif self.trailing is None:
            self.trailing = loop.call_later(wait, self._trailing_due)

    def _trailing_due(self) -> None:
        self.trailing = None
        if not self.finished:
            self._queue_update()

    def _queue_update(self) -> None:
        self.last_queued = asyncio.get_running_loop().time()
        webhook = Webhook(encode(self.snapshot()), update=True)
        if self.outbox and self.outbox[-1].update:
            self.outbox[-1] = webhook  # not sent yet: the newer state says all it said
        else:
            self._queue(webhook)

    def finish(self) -> asyncio.Task[None] | None:
        """Queue the terminal state (the prediction has just ended) and queue nothing after
        it; the task that delivers what is queued, None when nothing is."""
        self.finished = True
        if self.trailing is not None:
            self.trailing.cancel()
            self.trailing = None
        if "completed" in self.events:
            # Updates not sent yet say less than the terminal state: it replaces them.
            self.outbox = deque(webhook for webhook in self.outbox if not webhook.update)
            self._queue(Webhook(encode(self.snapshot()), terminal=True))
        return self.courier

    # -- delivery --------------------------------------------------------------------------

    def _queue(self, webhook: Webhook) -> None:
        self.outbox.append(webhook)
        if self.courier is None:
            self.courier = asyncio.create_task(self._deliver_outbox())

    async def _deliver_outbox(self) -> None:
        try:
            while self.outbox:
                webhook = self.outbox.popleft()
                if webhook.terminal:
                    await self._deliver_terminal(webhook.body)
                else:
                    await self._post_once(webhook.body)
        finally:
            # No await between the outbox found empty and this: a webhook queued later
            # starts a new courier.
            self.courier = None

    def _ended(self, outcome: Outcome) -> None:
        for listener in self.listeners:
            listener(outcome)

    async def _post_once(self, body: bytes) -> None:
        import httpx

        try:
            response = await self.client.post(
                self.url, content=body, headers=self.headers, timeout=TIMEOUT
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            log.warning("webhook to %s failed: %s", self.url, exc, extra=self.log_extra)
            self._ended("failed")
            return
        self._ended("delivered" if response.is_success else "rejected")

    async def _deliver_terminal(self, body: bytes) -> None:
        """POST the terminal state until it is accepted, refused for good, or the retries
        run out."""
        import httpx

        for attempt in range(TERMINAL_RETRIES + 1):
            try:
                response = await self.client.post(
                    self.url, content=body, headers=self.headers, timeout=TIMEOUT
                )
                if response.status_code not in RETRY_STATUS:
                    self._ended("delivered" if response.is_success else "rejected")
                    return
                reason = f"status {response.status_code}"
            except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
                log.warning(
                    "terminal webhook to %s failed: %s", self.url, exc, extra=self.log_extra
                )
                self._ended("failed")
                return  # no retry can fix the URL
            except httpx.HTTPError as exc:
                reason = str(exc) or type(exc).__name__
            if attempt < TERMINAL_RETRIES:
                log.warning(
                    "terminal webhook to %s failed (%s); retrying",
                    self.url,
                    reason,
                    extra=self.log_extra,
                )
                await asyncio.sleep(self.backoff * 2 ** min(attempt, 9))  # as Cog: 0.2 s to 102.4 s
        log.error(
            "giving up on the terminal webhook to %s after %d attempts",
            self.url,
            TERMINAL_RETRIES + 1,
            extra=self.log_extra,
        )
        self._ended("failed")
