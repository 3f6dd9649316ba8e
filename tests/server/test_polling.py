"""Polling: `GET /predictions/{id}` answers a running prediction's response as it is now and a
finished one's for a bounded time and count; a `PUT` of a finished prediction's id answers its
result instead of running it again (real servers, real HTTP; the model notes each run in a
file)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import RunningServer, run_server

ASYNC = {"Prefer": "respond-async"}
BOUND = 30.0  # seconds: a bound for a stuck server, not a timing claim


def until(check: Callable[[], Any], what: str) -> Any:
    """Poll `check` until it gives something truthy (bounded)."""
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"never: {what}")


def runs(server: RunningServer) -> list[str]:
    path = server.project / "runs.txt"
    return path.read_text().splitlines() if path.exists() else []


def open_gate(server: RunningServer, label: str, step: int = 0) -> None:
    gates = server.project / "gates"
    gates.mkdir(exist_ok=True)
    (gates / f"{label}.{step}").touch()


@pytest.fixture(scope="module")
def paced(tmp_path_factory):
    with run_server("paced", tmp_path_factory.mktemp("polling")) as server:
        yield server


@pytest.fixture
def p1_released(paced):
    """p1's gates opened however its test ends: left running, it holds the module server's
    one slot and the next tests get 409."""
    yield
    for step in range(2):
        open_gate(paced, "p1", step)


def test_a_running_prediction_is_polled_with_its_logs_growing_then_its_result(paced, p1_released):
    """1. A gated prediction starts by PUT (async). 2. GET shows it processing with the first
    step's log only. 3. Each opened gate adds a log line. 4. Once it ends GET answers its
    terminal state, the same as a moment later."""
    with paced.client() as client:
        started = client.put(
            "/predictions/p1",
            json={"input": {"label": "p1", "steps": 2, "gated": True}},
            headers=ASYNC,
        )
        assert started.status_code == 202

        def state() -> dict[str, Any]:
            response = client.get("/predictions/p1")
            assert response.status_code == 200, response.text
            return response.json()

        # The step's log line and its output travel apart: wait for both.
        first = until(lambda: (s := state())["logs"] and s.get("output") and s, "the first step")
        assert first["status"] == "processing"
        assert first["logs"] == "p1 step 0\n"
        assert first["output"] == ["p10 "]
        open_gate(paced, "p1", 0)
        second = until(lambda: "step 1" in (s := state())["logs"] and s, "the second log line")
        assert second["logs"] == "p1 step 0\np1 step 1\n"
        open_gate(paced, "p1", 1)
        done = until(lambda: (s := state())["status"] == "succeeded" and s, "the end")
        assert done["output"] == ["p10 ", "p11 "]
        assert done["completed_at"] and "predict_time" in done["metrics"]
        assert client.get("/predictions/p1").json() == done
        assert client.get("/trainings/p1").json() == done  # one namespace of ids, as cancel's
        assert "queue_depth" not in client.get("/health-check").json()  # no queue: Cog's body


def test_a_put_of_a_finished_prediction_answers_its_result_without_running_again(paced):
    """1. PUT runs it once (200). 2. The same PUT again: 200, the same body, no new run.
    3. Asking async: 202 with the terminal body. 4. As a stream: its `completed` event.
    5. POST is not idempotent: with the same id in its body it runs again."""
    envelope = {"input": {"label": "once"}}
    with paced.client() as client:
        first = client.put("/predictions/once", json=envelope)
        assert first.status_code == 200 and first.json()["status"] == "succeeded"
        again = client.put("/predictions/once", json=envelope)
        assert (again.status_code, again.json()) == (200, first.json())
        accepted = client.put("/predictions/once", json=envelope, headers=ASYNC)
        assert (accepted.status_code, accepted.json()) == (202, first.json())
        stream = client.put(
            "/predictions/once", json=envelope, headers={"Accept": "text/event-stream"}
        )
        assert stream.status_code == 200
        events = [block for block in stream.text.split("\n\n") if block.startswith("event:")]
        last = events[-1].split("\n")
        assert last[0] == "event: completed"
        assert json.loads(last[1].removeprefix("data: ")) == first.json()
        assert runs(paced).count("once") == 1
        posted = client.post("/predictions", json={"id": "once", **envelope})
        assert (
            posted.status_code == 200 and posted.json()["created_at"] != first.json()["created_at"]
        )
    assert runs(paced).count("once") == 2


def test_an_unknown_id_is_404_with_a_json_error(paced):
    with paced.client() as client:
        response = client.get("/predictions/never-made")
        assert response.status_code == 404
        error = response.json()["error"]
        assert "never-made" in error and "PYCOG_RESULT_TTL" in error
        wrong = client.delete("/predictions/x")
        assert (wrong.status_code, wrong.headers["allow"]) == (405, "GET,PUT")


def test_a_finished_prediction_expires_after_its_ttl(tmp_path: Path):
    """1. TTL of 3 s: right after the end GET finds it. 2. Later it is 404. 3. A PUT of its id
    then runs it again."""
    with run_server("paced", tmp_path, env={"PYCOG_RESULT_TTL": "3"}) as server:
        with server.client() as client:
            done = client.put("/predictions/e1", json={"input": {"label": "e1"}})
            assert done.status_code == 200
            assert client.get("/predictions/e1").json() == done.json()
            gone = until(
                lambda: (r := client.get("/predictions/e1")).status_code == 404 and r,
                "expiry",
            )
            assert "3 s" in gone.json()["error"]
            assert client.put("/predictions/e1", json={"input": {"label": "e1"}}).status_code == 200
        assert runs(server) == ["e1", "e1"]


def test_the_oldest_finished_predictions_are_evicted_beyond_the_count(tmp_path: Path):
    with run_server("paced", tmp_path, env={"PYCOG_RESULT_COUNT": "2"}) as server:
        with server.client() as client:
            for name in ("c1", "c2", "c3"):
                assert client.put(f"/predictions/{name}", json={"input": {}}).status_code == 200
            found = {
                name: client.get(f"/predictions/{name}").status_code for name in ("c1", "c2", "c3")
            }
    assert found == {"c1": 404, "c2": 200, "c3": 200}


def test_a_ttl_of_0_keeps_nothing(tmp_path: Path):
    with run_server("paced", tmp_path, env={"PYCOG_RESULT_TTL": "0"}) as server:
        with server.client() as client:
            for _ in range(2):
                assert (
                    client.put("/predictions/z", json={"input": {"label": "z"}}).status_code == 200
                )
            missing = client.get("/predictions/z")
        assert missing.status_code == 404 and "not kept" in missing.json()["error"]
        assert runs(server) == ["z", "z"]


def test_a_polled_prediction_shows_its_secrets_masked(tmp_path: Path):
    with run_server("secrets", tmp_path) as server, server.client() as client:
        envelope = {"input": {"token": "hunter2", "keys": ["k1"], "delay": 0.5}}
        assert client.put("/predictions/s1", json=envelope, headers=ASYNC).status_code == 202
        running = client.get("/predictions/s1").json()
        done = until(
            lambda: (s := client.get("/predictions/s1").json())["status"] == "succeeded" and s,
            "the end",
        )
    for state in (running, done):
        assert state["input"]["token"] == "**********"
        assert state["input"]["keys"] == ["**********"]
        assert "hunter2" not in json.dumps(state)
    assert done["output"] == "ok:7"


def test_a_training_is_polled_and_its_put_is_idempotent(tmp_path: Path):
    with run_server("train", tmp_path, args=("--x-mode", "train")) as server:
        with server.client() as client:
            first = client.put("/trainings/t1", json={"input": {"steps": 3}})
            assert first.status_code == 200 and first.json()["status"] == "succeeded"
            assert client.get("/trainings/t1").json() == first.json()
            again = client.put("/trainings/t1", json={"input": {"steps": 5}})
            assert again.json() == first.json()  # answered, not run with the new input


def test_get_is_answered_while_setup_runs(tmp_path: Path):
    with run_server("slow_setup", tmp_path, wait=False) as server, server.client() as client:
        response = client.get("/predictions/any")
    assert response.status_code == 404
