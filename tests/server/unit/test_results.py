"""The store of finished predictions in-process: expiry by its clock, eviction by count, ids
reused (the clock is the store's seam: a list of instants the test moves)."""

from __future__ import annotations

from typing import Any

from cog.runtime import events
from cog.server.prediction import Prediction
from cog.server.results import ResultStore


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def finished(prediction_id: str) -> Prediction:
    prediction = Prediction(prediction_id, {})
    assert prediction.apply(events.Done(prediction_id))
    return prediction


def kept(store: ResultStore, prediction_id: str) -> dict[str, Any] | None:
    found = store.get(prediction_id)
    return None if found is None else found.snapshot()


def test_a_kept_prediction_gives_back_its_final_response_and_a_completed_event() -> None:
    store = ResultStore(ttl=10, count=100)
    prediction = Prediction("p", {"text": "hi", "n": [1, 2.5, None, True]})
    prediction.apply(events.Started("p"))
    prediction.apply(events.Log("p", "stdout", "line\n"))
    prediction.apply(events.Output("p", {"chunk": "é"}))
    prediction.set_metric("tokens", 3, "replace")
    prediction.apply(events.Done("p", "boom"))
    store.ended(prediction)
    restored = store.get("p")
    assert restored is not None and restored.finished
    assert restored.snapshot() == prediction.snapshot()
    assert [(e.name, e.data) for e in restored.history] == [("completed", prediction.snapshot())]


def test_a_kept_prediction_expires_ttl_seconds_after_its_end() -> None:
    clock = Clock()
    store = ResultStore(ttl=10, count=100, clock=clock)
    store.ended(finished("a"))
    clock.now += 5
    store.ended(finished("b"))
    clock.now += 4.9
    assert store.get("a") is not None and len(store) == 2
    clock.now += 0.1
    assert store.get("a") is None and store.get("b") is not None
    clock.now += 5
    assert store.get("b") is None and len(store) == 0


def test_the_oldest_is_evicted_beyond_the_count_and_a_reused_id_is_renewed() -> None:
    clock = Clock()
    store = ResultStore(ttl=10, count=2, clock=clock)
    store.ended(finished("a"))
    store.ended(finished("b"))
    clock.now += 6
    renewed = finished("a")
    store.ended(renewed)  # a again: now the newest, with a new expiry
    store.ended(finished("c"))
    assert store.get("b") is None
    assert kept(store, "a") == renewed.snapshot() and store.get("c") is not None
    clock.now += 9
    assert kept(store, "a") == renewed.snapshot()


def test_a_ttl_or_count_of_0_keeps_nothing() -> None:
    for ttl, count in ((0, 10), (10, 0)):
        store = ResultStore(ttl=ttl, count=count)
        store.ended(finished("a"))
        assert store.get("a") is None and not store.keeps
        assert "not kept" in store.describe()
