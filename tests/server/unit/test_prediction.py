"""Prediction's state machine in-process: real worker events in, Cog's JSON and stream events
out; one completion future; streams that replay, lag and end."""

from __future__ import annotations

import asyncio
from typing import Any

from cog.runtime import events
from cog.server.prediction import Prediction, Status, StreamEvent, StreamLimits


def run(events_in: list[events.Message], **kwargs: Any) -> Prediction:
    prediction = Prediction("p1", {"text": "hi"}, **kwargs)
    prediction.submitted("")
    for message in events_in:
        prediction.apply(message)
    return prediction


def drain(queue: asyncio.Queue[StreamEvent]) -> list[str]:
    names = []
    while not queue.empty():
        names.append(queue.get_nowait().name)
    return names


def test_a_yielding_prediction_goes_from_starting_to_succeeded() -> None:
    prediction = Prediction("p1", {"text": "hi"})
    assert prediction.snapshot()["status"] == "starting"
    assert "output" not in prediction.snapshot()
    prediction.submitted("")
    assert prediction.apply(events.Started("p1")) is False
    assert prediction.status is Status.PROCESSING and prediction.started_at is not None
    prediction.apply(events.Log("p1", "stdout", "one\n"))
    prediction.apply(events.Output("p1", "a"))
    prediction.apply(events.Output("p1", "b"))
    assert prediction.snapshot()["output"] == ["a", "b"]
    assert prediction.apply(events.Done("p1", iterator=True)) is True
    state = prediction.snapshot()
    assert state["status"] == "succeeded" and type(state["status"]) is str
    assert state["output"] == ["a", "b"]
    assert state["logs"] == "one\n"
    assert state["completed_at"] is not None
    assert state["metrics"]["predict_time"] >= 0


def test_the_return_value_rides_in_done_and_a_succeeded_null_output_is_shown() -> None:
    assert run([events.Done("p1", output="x", final=True)]).snapshot()["output"] == "x"
    state = run([events.Done("p1", output=None, final=True)]).snapshot()
    assert "output" in state and state["output"] is None


def test_a_prediction_ends_once() -> None:
    prediction = run([events.Started("p1"), events.Done("p1", canceled=True)])
    assert prediction.status is Status.CANCELED and prediction.finished
    assert prediction.apply(events.Output("p1", "late")) is False
    assert prediction.apply(events.Done("p1", error="late")) is False
    assert prediction.snapshot()["status"] == "canceled"
    assert "error" not in prediction.snapshot()


def test_an_error_the_server_noted_fails_a_prediction_the_worker_says_succeeded() -> None:
    prediction = Prediction("p1", {})
    prediction.fail("upload failed")
    prediction.apply(events.Done("p1", output="x", final=True))
    assert prediction.status is Status.FAILED
    assert prediction.snapshot()["error"] == "upload failed"
    failed = run([events.Done("p1", error="boom")])
    assert (failed.status, failed.error) == (Status.FAILED, "boom")


def test_metrics_replace_increment_append_and_nest() -> None:
    prediction = run(
        [
            events.Metric("p1", "count", 1, "replace"),
            events.Metric("p1", "count", 2, "incr"),
            events.Metric("p1", "seen", "a", "append"),
            events.Metric("p1", "seen", "b", "append"),
            events.Metric("p1", "gpu.memory.peak", 7, "replace"),
            events.Metric("p1", "gone", 1, "replace"),
            events.Metric("p1", "gone", None, "replace"),
        ]
    )
    assert prediction.metrics == {"count": 3, "seen": ["a", "b"], "gpu": {"memory": {"peak": 7}}}


def test_every_waiter_hears_of_the_end_and_may_leave_alone() -> None:
    async def scenario() -> None:
        prediction = Prediction("p1", {})
        first, second, leaving = prediction.ended(), prediction.ended(), prediction.ended()
        assert not first.done()
        leaving.cancel()  # its client went away: the others still wait
        prediction.apply(events.Done("p1"))
        assert first.done() and second.done() and first.result() is None
        late = Prediction("p2", {})
        late.apply(events.Done("p2"))
        assert late.ended().done()  # made after the end: resolved already

    asyncio.run(scenario())


def test_a_stream_gets_every_event_and_ends_after_completed() -> None:
    async def scenario() -> None:
        prediction = Prediction("p1", {})
        subscription = prediction.subscribe()
        prediction.apply(events.Started("p1"))
        prediction.apply(events.Output("p1", "a"))
        prediction.apply(events.Metric("p1", "m", 1, "incr"))
        assert not subscription.closed
        prediction.apply(events.Done("p1", iterator=True))
        assert subscription.closed
        assert drain(subscription.queue) == ["start", "output", "metric", "completed"]

    asyncio.run(scenario())


def test_a_stream_made_after_the_end_replays_the_history() -> None:
    async def scenario() -> None:
        prediction = Prediction("p1", {})
        prediction.streamed = True  # an SSE answer follows it: `completed` is kept
        prediction.apply(events.Started("p1"))
        prediction.apply(events.Done("p1", output="x", final=True))
        subscription = prediction.subscribe()
        assert subscription.closed
        assert drain(subscription.queue) == ["start", "completed"]
        quiet = Prediction("p2", {})  # no stream follows it: nothing publishes `completed`
        quiet.apply(events.Done("p2"))
        assert drain(quiet.subscribe().queue) == []

    asyncio.run(scenario())


def test_a_stream_that_falls_behind_ends_with_a_lag_error() -> None:
    async def scenario() -> None:
        prediction = Prediction("p1", {}, limits=StreamLimits(history=0, backlog=2))
        slow = prediction.subscribe()
        for index in range(3):
            prediction.apply(events.Output("p1", index))
        assert slow.closed and not prediction.subscriptions
        lag = slow.queue.get_nowait()
        assert (lag.name, lag.data["skipped"]) == ("error", 3)
        assert slow.queue.empty()

    asyncio.run(scenario())


def test_the_history_keeps_the_latest_events_and_counts_the_dropped() -> None:
    prediction = run([events.Output("p1", index) for index in range(5)], limits=StreamLimits(3))
    assert [event.data["index"] for event in prediction.history] == [2, 3, 4]
    assert prediction.dropped == 2


def test_room_for_streams_is_bounded() -> None:
    async def scenario() -> None:
        prediction = Prediction("p1", {}, limits=StreamLimits(subscribers=1))
        subscription = prediction.subscribe()
        assert not prediction.has_room_for_a_stream()
        assert prediction.unsubscribe(subscription) == 0
        assert prediction.has_room_for_a_stream()

    asyncio.run(scenario())
