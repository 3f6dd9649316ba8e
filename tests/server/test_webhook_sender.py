"""The webhook sender in-process, over httpx's MockTransport (the transport is the seam; the
sender is the real one): snapshots, order, coalescing, the terminal one last, bounded retries."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from cog.server.webhooks import TERMINAL_RETRIES, WebhookSender

Handler = Callable[[dict[str, Any]], Awaitable[int]]


class State:
    """A prediction's state as the sender sees it, changed in place as events come."""

    def __init__(self) -> None:
        self.status = "processing"
        self.outputs: list[str] = []
        self.metrics: dict[str, Any] = {"nested": {"count": 0}}

    def snapshot(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self.status, "metrics": dict(self.metrics)}
        if self.outputs:
            data["output"] = list(self.outputs)
        return data


async def with_sender(
    handler: Handler,
    body: Callable[[WebhookSender, State], Awaitable[None]],
    events: list[str] | None = None,
    backoff: float = 0.0,
) -> None:
    async def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(await handler(json.loads(request.content)))

    async with httpx.AsyncClient(transport=httpx.MockTransport(respond)) as client:
        state = State()
        sender = WebhookSender(
            "http://receiver.test/hook", events, state.snapshot, client, backoff=backoff
        )
        await body(sender, state)


def test_bodies_are_the_state_at_their_event_and_the_terminal_one_is_last() -> None:
    """1. The receiver holds the `start` webhook while the prediction yields, changes a nested
       metric and ends.
    2. It gets `start` as it was (no output, the metric at 0), then the terminal state; the
       updates queued behind `start` were replaced by the terminal state, nothing came after."""
    received: list[dict[str, Any]] = []
    release = asyncio.Event()

    async def handler(webhook: dict[str, Any]) -> int:
        if not received and webhook["status"] == "processing":
            await release.wait()
        received.append(webhook)
        return 200

    async def body(sender: WebhookSender, state: State) -> None:
        sender.interval = 0.0
        sender.event("start")
        await asyncio.sleep(0)  # the courier has taken `start`
        for index in range(3):
            state.outputs.append(f"c{index}")
            state.metrics["nested"]["count"] += 1
            sender.event("output")
        state.status = "succeeded"
        delivery = sender.finish()
        sender.event("logs")  # after the end: ignored
        release.set()
        assert delivery is not None
        await delivery

    asyncio.run(with_sender(handler, body))
    assert [w["status"] for w in received] == ["processing", "succeeded"]
    assert "output" not in received[0] and received[0]["metrics"]["nested"]["count"] == 0
    assert received[1]["output"] == ["c0", "c1", "c2"]
    assert received[1]["metrics"]["nested"]["count"] == 3


def test_updates_coalesce_while_one_is_in_flight() -> None:
    """1. The receiver holds the first update while four more come.
    2. It gets the first, then only the latest of the others, then the terminal state."""
    received: list[dict[str, Any]] = []
    release = asyncio.Event()

    async def handler(webhook: dict[str, Any]) -> int:
        if not received:
            await release.wait()
        received.append(webhook)
        return 200

    async def body(sender: WebhookSender, state: State) -> None:
        sender.interval = 0.0
        for index in range(5):
            state.outputs.append(f"c{index}")
            sender.event("output")
            await asyncio.sleep(0)
        release.set()
        await asyncio.sleep(0.05)  # the latest update leaves before the end
        state.status = "succeeded"
        delivery = sender.finish()
        assert delivery is not None
        await delivery

    asyncio.run(with_sender(handler, body, events=["output", "completed"]))
    assert [len(w.get("output", [])) for w in received] == [1, 5, 5]
    assert [w["status"] for w in received] == ["processing", "processing", "succeeded"]


def test_terminal_retries_are_bounded_and_other_webhooks_are_sent_once() -> None:
    """1. A receiver that answers every webhook 503.
    2. `start` is tried once; the terminal one 1 + TERMINAL_RETRIES times, then given up."""
    received: list[str] = []

    async def handler(webhook: dict[str, Any]) -> int:
        received.append(webhook["status"])
        return 503

    async def body(sender: WebhookSender, state: State) -> None:
        sender.event("start")
        state.status = "failed"
        delivery = sender.finish()
        assert delivery is not None
        await delivery

    asyncio.run(with_sender(handler, body))
    assert received == ["processing"] + ["failed"] * (TERMINAL_RETRIES + 1)


def test_nothing_is_sent_after_the_end_when_completed_is_filtered_out() -> None:
    """1. Webhooks filtered to `output`; an update is throttled when the prediction ends.
    2. The update sent at once arrives; the throttled one never does, nor a terminal one."""
    received: list[dict[str, Any]] = []

    async def handler(webhook: dict[str, Any]) -> int:
        received.append(webhook)
        return 200

    async def body(sender: WebhookSender, state: State) -> None:
        sender.interval = 0.2
        state.outputs.append("c0")
        sender.event("output")
        state.outputs.append("c1")
        sender.event("output")  # throttled: due in 0.2 s
        state.status = "succeeded"
        delivery = sender.finish()
        if delivery is not None:
            await delivery
        await asyncio.sleep(0.3)

    asyncio.run(with_sender(handler, body, events=["output"]))
    assert [w.get("output") for w in received] == [["c0"]]
