"""Backpressure (`COG_MAX_QUEUE`): requests beyond the slots wait in order of arrival, in every
answer mode; beyond the queue they get 429 with Retry-After; a waiter can be canceled, leaves
when its client does, and ends canceled at shutdown (real servers, real HTTP; the model notes
each run in a file and waits on gate files the test creates)."""

from __future__ import annotations

import json
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import RunningServer, run_server
from .test_polling import ASYNC, open_gate, runs, until

QUEUE = {"COG_MAX_QUEUE": "3"}


def gated(label: str) -> dict[str, Any]:
    return {"input": {"label": label, "gated": True}}


def depth(server: RunningServer) -> int:
    return int(server.health()["queue_depth"])


def processing(client: httpx.Client, prediction_id: str) -> None:
    until(
        lambda: client.get(f"/predictions/{prediction_id}").json()["status"] == "processing",
        f"{prediction_id} processing",
    )


class Background:
    """A request sent from a thread; `.response` once it is answered."""

    def __init__(self, server: RunningServer, method: str, path: str, **kwargs: Any) -> None:
        self.response: httpx.Response | None = None

        def send() -> None:
            with server.client(timeout=60) as client:
                self.response = client.request(method, path, **kwargs)

        self.thread = threading.Thread(target=send, daemon=True)
        self.thread.start()

    def result(self) -> httpx.Response:
        self.thread.join(60)
        assert self.response is not None, "no answer"
        return self.response


@pytest.fixture
def queued(tmp_path: Path) -> Iterator[RunningServer]:
    with run_server("paced", tmp_path, env=QUEUE) as server:
        yield server


def test_waiters_start_in_order_of_arrival_and_the_queue_refuses_beyond_its_size(queued):
    """1. `a` runs (one slot, gated). 2. `b` (sync), `c` (stream), `d` (async: 202 at once)
    arrive one after the other; the health check counts them. 3. `e` gets 429 with
    Retry-After and a JSON error. 4. With the gates open each runs in its order of arrival
    and every client gets its answer in its mode."""
    server = queued
    with server.client() as client:
        assert client.put("/predictions/a", json=gated("a"), headers=ASYNC).status_code == 202
        processing(client, "a")
        assert depth(server) == 0 and server.health()["status"] == "BUSY"
        b = Background(server, "PUT", "/predictions/b", json=gated("b"))
        until(lambda: depth(server) == 1, "b waits")
        sse = {"Accept": "text/event-stream"}
        c = Background(server, "PUT", "/predictions/c", json=gated("c"), headers=sse)
        until(lambda: depth(server) == 2, "c waits")
        d = client.put("/predictions/d", json=gated("d"), headers=ASYNC)
        assert (d.status_code, d.json()) == (202, {"id": "d", "status": "starting"})
        assert depth(server) == 3
        assert client.get("/predictions/d").json()["status"] == "starting"
        refused = client.put("/predictions/e", json=gated("e"), headers=ASYNC)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["status"] == "failed"
        assert "Queue full" in refused.json()["error"]
        assert runs(server) == ["a"]  # no waiter ran yet
        for label in "abcd":
            open_gate(server, label)
        until(lambda: client.get("/predictions/d").json()["status"] == "succeeded", "d ends")
        assert client.get("/predictions/e").status_code == 404  # refused: never made
    assert runs(server) == ["a", "b", "c", "d"]
    assert b.result().status_code == 200 and b.result().json()["output"] == ["b0 "]
    stream = c.result().text
    names = [
        line.removeprefix("event: ") for line in stream.split("\n") if line.startswith("event:")
    ]
    assert names[0] == "start" and names[-1] == "completed"
    assert depth(server) == 0 and server.health()["status"] == "READY"


def test_a_canceled_waiter_ends_canceled_without_running(queued):
    server = queued
    with server.client() as client:
        client.put("/predictions/a", json=gated("a"), headers=ASYNC)
        processing(client, "a")
        client.put("/predictions/w", json=gated("w"), headers=ASYNC)
        assert depth(server) == 1
        assert client.post("/predictions/w/cancel").status_code == 200
        canceled = client.get("/predictions/w").json()
        assert depth(server) == 0
        open_gate(server, "a")
        until(lambda: client.get("/predictions/a").json()["status"] == "succeeded", "a ends")
    assert canceled["status"] == "canceled"
    assert canceled["started_at"] is None and canceled["completed_at"]
    assert "predict_time" not in canceled["metrics"]
    assert runs(server) == ["a"]


def test_a_sync_waiter_whose_client_leaves_leaves_the_queue(queued):
    server = queued
    host, port = server.url.removeprefix("http://").split(":")
    with server.client() as client:
        client.put("/predictions/a", json=gated("a"), headers=ASYNC)
        processing(client, "a")
        body = json.dumps(gated("gone")).encode()
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(
                b"PUT /predictions/gone HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            until(lambda: depth(server) == 1, "the client waits")
        until(lambda: depth(server) == 0, "the waiter left")
        assert client.get("/predictions/gone").json()["status"] == "canceled"
        open_gate(server, "a")
        until(lambda: client.get("/predictions/a").json()["status"] == "succeeded", "a ends")
    assert runs(server) == ["a"]


def test_waiters_end_canceled_at_shutdown(queued):
    server = queued
    with server.client() as client:
        client.put("/predictions/a", json=gated("a"), headers=ASYNC)
        processing(client, "a")
    waiter = Background(server, "PUT", "/predictions/w", json=gated("w"))
    until(lambda: depth(server) == 1, "w waits")
    server.process.send_signal(signal.SIGTERM)
    answer = waiter.result()
    assert server.process.wait(30) == 0
    assert answer.status_code == 200 and answer.json()["status"] == "canceled"
    assert runs(server) == ["a"]


def test_without_a_queue_a_busy_model_answers_409(tmp_path: Path):
    with run_server("paced", tmp_path) as server, server.client() as client:
        client.put("/predictions/a", json=gated("a"), headers=ASYNC)
        processing(client, "a")
        busy = client.put("/predictions/b", json=gated("b"), headers=ASYNC)
        assert busy.status_code == 409 and "retry-after" not in busy.headers
        assert "queue_depth" not in server.health()
        open_gate(server, "a")


def test_waiters_fail_when_the_worker_dies(queued):
    """1. `a` runs and will crash the worker once its gate opens; `w` waits. 2. The crash
    fails `a`, and `w`, which can never run, with the reason."""
    server = queued
    with server.client() as client:
        crashing = {"input": {"label": "a", "gated": True, "crash": True}}
        client.put("/predictions/a", json=crashing, headers=ASYNC)
        processing(client, "a")
        client.put("/predictions/w", json=gated("w"), headers=ASYNC)
        assert depth(server) == 1
        open_gate(server, "a")
        failed = until(
            lambda: (s := client.get("/predictions/w").json())["status"] == "failed" and s,
            "w fails",
        )
        crashed = client.get("/predictions/a").json()
        assert depth(server) == 0 and server.health()["status"] == "DEFUNCT"
    assert crashed["error"] == "Worker crashed (exit code 3)"
    assert "worker process exited unexpectedly" in failed["error"]
    assert runs(server) == ["a"]
