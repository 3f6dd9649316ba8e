"""Async predictions with webhooks, Server-Sent Events, and cancellation."""

import json
import time

import httpx
import pytest

from .receiver import Receiver


def wait_until(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


SSE = {"Accept": "text/event-stream"}


def start_async(client, prediction_id, inputs):
    client.put(
        f"/predictions/{prediction_id}", json={"input": inputs}, headers={"Prefer": "respond-async"}
    )


def reattach_sse(client, prediction_id):
    with client.stream("PUT", f"/predictions/{prediction_id}", json={}, headers=SSE) as response:
        return read_sse(response)


@pytest.mark.every_python
def test_respond_async_sends_webhooks(serve):
    with Receiver() as receiver, serve("stream") as server, server.client() as client:
        response = client.post(
            "/predictions",
            json={"input": {"count": 3, "delay": 0.3}, "webhook": receiver.url + "/hook"},
            headers={"Prefer": "respond-async"},
        )
        assert response.status_code == 202
        assert response.json() == {"id": response.json()["id"], "status": "starting"}
        wait_until(lambda: any(w["status"] == "succeeded" for w in receiver.webhooks))
    statuses = [w["status"] for w in receiver.webhooks]
    assert statuses[0] == "processing" and statuses[-1] == "succeeded"
    final = receiver.webhooks[-1]
    assert final["output"] == ["t0 ", "t1 ", "t2 "]
    assert "token 2" in final["logs"]
    assert final["metrics"]["predict_time"] > 0
    # output/log webhooks are throttled to one per 0.5 s: fewer than one per event
    assert len(receiver.webhooks) < 8


def test_events_filter_and_terminal_retries(serve):
    with Receiver(fail_first=2) as receiver, serve("echo") as server, server.client() as client:
        client.post(
            "/predictions",
            json={
                "input": {"text": "x"},
                "webhook": receiver.url,
                "webhook_events_filter": ["completed"],
            },
            headers={"Prefer": "respond-async"},
        )
        wait_until(lambda: receiver.webhooks)
    assert [w["status"] for w in receiver.webhooks] == ["succeeded"]
    assert receiver.calls == 3  # two 503s, then delivered


def read_sse(response):
    events, name = [], None
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            events.append((name, json.loads(line[5:])))
    return events


@pytest.mark.every_python
def test_sse_streams_every_event_in_order(serve):
    with serve("stream") as server, server.client() as client:
        with client.stream(
            "POST",
            "/predictions",
            json={"input": {"count": 3}},
            headers={"Accept": "text/event-stream"},
        ) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            events = read_sse(response)
    names = [name for name, _ in events]
    assert names[0] == "start" and names[-1] == "completed"
    assert [data["chunk"] for name, data in events if name == "output"] == ["t0 ", "t1 ", "t2 "]
    assert [data["index"] for name, data in events if name == "output"] == [0, 1, 2]
    assert {"source": "stdout", "data": "token 0\n"} in [d for n, d in events if n == "log"]
    assert events[-1][1]["status"] == "succeeded"


def test_sse_reattach_with_put_replays_history(serve):
    with serve("stream") as server, server.client() as client:
        start_async(client, "s1", {"count": 4, "delay": 0.2})
        time.sleep(0.5)
        events = reattach_sse(client, "s1")
    assert [d["chunk"] for n, d in events if n == "output"] == ["t0 ", "t1 ", "t2 ", "t3 "]


def test_sse_reattach_after_history_overflow_says_how_much_was_dropped(serve):
    env = {"COG_STREAM_HISTORY_CAPACITY": "4"}
    with serve("stream", env=env) as server, server.client() as client:
        start_async(client, "h1", {"count": 50, "delay": 0.05})
        time.sleep(1.0)  # start, then a log and an output per item: well over 4 events
        events = reattach_sse(client, "h1")
        client.post("/predictions/h1/cancel")
    [(name, data)] = events
    assert name == "error"
    assert data["error"] == "SSE stream replay truncated; events were dropped"
    assert data["skipped"] >= 5


def test_more_streams_than_allowed_on_one_prediction_get_429(serve):
    env = {"PYCOG_STREAM_MAX_SUBSCRIBERS": "2"}
    with serve("stream", env=env) as server, server.client() as client:
        start_async(client, "m1", {"count": 20, "delay": 0.1})
        with (
            client.stream("PUT", "/predictions/m1", json={}, headers=SSE) as first,
            client.stream("PUT", "/predictions/m1", json={}, headers=SSE) as second,
        ):
            assert first.status_code == second.status_code == 200
            third = client.put("/predictions/m1", json={}, headers=SSE)
            assert third.status_code == 429
            assert third.json() == {"error": "Too many stream subscribers"}
            client.post("/predictions/m1/cancel")


def test_a_client_that_stops_reading_is_told_it_lagged_and_its_stream_ends(serve):
    env = {"PYCOG_STREAM_SUBSCRIBER_BACKLOG": "32"}
    with serve("stream", env=env) as server, server.client() as client:
        # 300 outputs of 200 kB: far more than the socket buffers hold for a client not reading
        request = {"input": {"count": 300, "pad": 200_000}}
        with client.stream("POST", "/predictions", json=request, headers=SSE) as response:
            wait_until(lambda: server.health()["status"] == "READY", 60)
            events = read_sse(response)
        assert events[-1] == (
            "error",
            {
                "error": "SSE stream lagged; events were dropped",
                "skipped": events[-1][1]["skipped"],
            },
        )
        assert events[-1][1]["skipped"] > 32
        assert "completed" not in [name for name, _ in events]
        assert len([name for name, _ in events if name == "output"]) < 300
        assert client.post("/predictions", json={"input": {"count": 1}}).status_code == 200


def test_sse_on_a_model_that_does_not_stream_is_406(serve):
    with serve("echo") as server, server.client() as client:
        response = client.post(
            "/predictions", json={"input": {"text": "x"}}, headers={"Accept": "text/event-stream"}
        )
    assert response.status_code == 406
    assert "@cog.streaming" in response.json()["error"]


@pytest.mark.every_python
def test_cancel_raises_inside_a_sync_predict(serve):
    with serve("slow") as server, server.client() as client:
        client.put(
            "/predictions/c1", json={"input": {"seconds": 30}}, headers={"Prefer": "respond-async"}
        )
        time.sleep(0.5)
        assert client.post("/predictions/c1/cancel").status_code == 200
        server.wait_for("READY", timeout=10)
        after = client.post("/predictions", json={"input": {"seconds": 0}})
    assert after.json()["output"] == "finished"


@pytest.mark.every_python
def test_cancel_of_a_sync_request_returns_canceled(serve):
    with serve("slow") as server, server.client() as client:
        import threading

        result = {}

        def run():
            result["body"] = client.put("/predictions/c2", json={"input": {"seconds": 30}}).json()

        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(0.5)
        with httpx.Client(base_url=server.url) as other:
            other.post("/predictions/c2/cancel")
        thread.join(timeout=10)
    assert result["body"]["status"] == "canceled"
    assert "canceled inside predict" in result["body"]["logs"]


@pytest.mark.every_python
def test_async_cancel(serve):
    with serve("async_sleep") as server, server.client() as client:
        client.put(
            "/predictions/a1", json={"input": {"seconds": 20}}, headers={"Prefer": "respond-async"}
        )
        assert client.post("/predictions/a1/cancel").status_code == 200
        # The worker ends it, then the server lets it go.
        wait_until(lambda: client.post("/predictions/a1/cancel").status_code == 404, 30)
        assert server.health()["status"] == "READY"
