"""Webhooks over real HTTP to a real receiver: one terminal webhook per prediction, always the
last one; every earlier one the state at its event; the same for sync, async and canceled
predictions and under an events filter."""

from __future__ import annotations

import time
from collections import defaultdict

import pytest

from .receiver import Receiver

TERMINAL = ("succeeded", "failed", "canceled")
ASYNC = {"Prefer": "respond-async"}


def wait_until(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def by_prediction(webhooks: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for webhook in webhooks:
        grouped[webhook["id"]].append(webhook)
    return grouped


def terminal_count(receiver: Receiver) -> int:
    return sum(w["status"] in TERMINAL for w in receiver.webhooks)


def assert_one_terminal_last(webhooks: list[dict]) -> None:
    statuses = [w["status"] for w in webhooks]
    assert sum(s in TERMINAL for s in statuses) == 1, statuses
    assert statuses[-1] in TERMINAL, statuses


def slow_start(webhook: dict) -> tuple[int, float]:
    """Answer the `start` webhooks late: a terminal webhook sent alongside (not after) would
    be answered first."""
    return 200, (0.3 if webhook["status"] == "processing" and not webhook["logs"] else 0.0)


def test_fast_async_predictions_get_one_terminal_webhook_last(serve):
    """1. Twenty fast async predictions at once, the receiver slow to answer `start` webhooks.
    2. Each gets exactly one terminal webhook, the last it receives; its first is `start`:
       processing, no output, no completion time."""
    count = 20
    env = {"COG_MAX_CONCURRENCY": str(count)}
    with Receiver(answer=slow_start) as receiver, serve("async_sleep", env=env) as server:
        with server.client() as client:
            for index in range(count):
                inputs = {"seconds": 0, "label": str(index)}
                body = {"input": inputs, "webhook": receiver.url}
                assert client.post("/predictions", json=body, headers=ASYNC).status_code == 202
            wait_until(lambda: terminal_count(receiver) >= count)
            time.sleep(0.5)  # anything sent after the terminal ones would arrive by now
    grouped = by_prediction(receiver.webhooks)
    assert len(grouped) == count
    for webhooks in grouped.values():
        assert_one_terminal_last(webhooks)
        first = webhooks[0]
        assert first["status"] == "processing"
        assert "output" not in first and first["completed_at"] is None
        assert webhooks[-1]["status"] == "succeeded"


@pytest.mark.parametrize("interval", ["0", "0.05"])
def test_streamed_outputs_are_snapshots_in_order(serve, interval):
    """1. A model yields ten chunks; webhooks unthrottled, then throttled (coalesced).
    2. The outputs the webhooks carry only grow, and the terminal one, last, carries them
       all."""
    env = {"COG_THROTTLE_RESPONSE_INTERVAL": interval}
    with Receiver() as receiver, serve("stream", env=env) as server, server.client() as client:
        body = {"input": {"count": 10, "delay": 0.02}, "webhook": receiver.url}
        assert client.post("/predictions", json=body, headers=ASYNC).status_code == 202
        wait_until(lambda: terminal_count(receiver) >= 1)
        time.sleep(0.5)
    webhooks = receiver.webhooks
    assert_one_terminal_last(webhooks)
    assert "output" not in webhooks[0]
    outputs = [w.get("output") or [] for w in webhooks]
    for before, after in zip(outputs, outputs[1:], strict=False):
        assert after[: len(before)] == before  # each state extends the one before
    assert outputs[-1] == [f"t{index} " for index in range(10)]


def test_sync_prediction_with_a_webhook(serve):
    """1. A sync prediction with a webhook answers its result.
    2. The receiver gets `start`, then the same result, once."""
    with Receiver() as receiver, serve("echo") as server, server.client() as client:
        body = {"input": {"text": "sync"}, "webhook": receiver.url}
        answer = client.post("/predictions", json=body).json()
        wait_until(lambda: terminal_count(receiver) >= 1)
        time.sleep(0.5)
    assert answer["status"] == "succeeded"
    assert_one_terminal_last(receiver.webhooks)
    assert receiver.webhooks[0]["status"] == "processing"
    assert receiver.webhooks[-1]["output"] == answer["output"] == "sync"


def test_canceled_prediction_gets_one_canceled_webhook_last(serve):
    """1. An async prediction of 30 s is canceled while it runs.
    2. Its last webhook, the only terminal one, says canceled."""
    with Receiver() as receiver, serve("slow") as server, server.client() as client:
        body = {"id": "to-cancel", "input": {"seconds": 30}, "webhook": receiver.url}
        client.post("/predictions", json=body, headers=ASYNC)
        wait_until(lambda: receiver.webhooks)
        assert client.post("/predictions/to-cancel/cancel").status_code == 200
        wait_until(lambda: terminal_count(receiver) >= 1)
        time.sleep(0.5)
    assert_one_terminal_last(receiver.webhooks)
    assert receiver.webhooks[-1]["status"] == "canceled"
    assert "canceled inside predict" in receiver.webhooks[-1]["logs"]


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        (["start", "completed"], ["processing", "succeeded"]),
        (["completed"], ["succeeded"]),
        (["start"], ["processing"]),
    ],
)
def test_events_filter(serve, events, expected):
    """1. Predictions whose webhooks are filtered to some events.
    2. The receiver gets exactly those, the terminal one last, nothing after it."""
    with Receiver() as receiver, serve("stream") as server, server.client() as client:
        body = {
            "input": {"count": 3, "delay": 0.05},
            "webhook": receiver.url,
            "webhook_events_filter": events,
        }
        assert client.post("/predictions", json=body).json()["status"] == "succeeded"
        wait_until(lambda: len(receiver.webhooks) >= len(expected))
        time.sleep(0.5)
    assert [w["status"] for w in receiver.webhooks] == expected


def test_terminal_webhook_retried_until_accepted_and_not_after_a_refusal(serve):
    """1. A receiver answers the terminal webhook of one prediction 503 three times, and
       refuses another's with 400.
    2. The first is delivered on the fourth attempt, once; the refused one is not retried."""
    failures: dict[str, int] = defaultdict(int)

    def answer(webhook: dict) -> tuple[int, float]:
        if webhook["status"] not in TERMINAL:
            return 200, 0.0
        if webhook["id"] == "refused":
            return 400, 0.0
        failures[webhook["id"]] += 1
        return (503 if failures[webhook["id"]] <= 3 else 200), 0.0

    with Receiver(answer=answer) as receiver, serve("echo") as server, server.client() as client:
        for prediction_id in ("retried", "refused"):
            body = {"id": prediction_id, "input": {"text": "x"}, "webhook": receiver.url}
            client.post("/predictions", json=body)
        wait_until(lambda: terminal_count(receiver) >= 1)
        time.sleep(0.5)
    attempts = by_prediction([webhook for webhook, _ in receiver.attempts])
    assert [w["status"] for w in attempts["retried"]] == ["processing"] + ["succeeded"] * 4
    assert [w["status"] for w in attempts["refused"]] == ["processing", "succeeded"]
    assert_one_terminal_last(by_prediction(receiver.webhooks)["retried"])
