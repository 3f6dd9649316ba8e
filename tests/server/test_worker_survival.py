"""The worker survives what models do: SystemExit, KeyboardInterrupt and other BaseExceptions
fail one prediction (or setup) with the error, and the worker keeps serving."""

import os
import pathlib
import signal
import threading
import time

import pytest

SYNC_CASES = [
    ("exit", "SystemExit: 3"),
    ("exit_message", "SystemExit: bye now"),
    ("keyboard", "KeyboardInterrupt: stop"),
    ("custom", "Stop: custom base exception"),
]


@pytest.mark.every_python
def test_base_exceptions_in_a_sync_predict_fail_only_that_prediction(serve):
    with serve("base_exceptions") as server, server.client() as client:
        for how, error in SYNC_CASES:
            body = client.post("/predictions", json={"input": {"how": how}}).json()
            assert (body["status"], body.get("error")) == ("failed", error), how
            after = client.post("/predictions", json={"input": {}}).json()
            assert (after["status"], after["output"]) == ("succeeded", "still alive"), how
        assert server.health()["status"] == "READY"


@pytest.mark.every_python
def test_base_exceptions_in_an_async_predict_fail_only_that_prediction(serve):
    with serve("base_exceptions_async") as server, server.client() as client:
        for how, error in [
            ("exit", "SystemExit: 5"),
            ("keyboard", "KeyboardInterrupt: async stop"),
        ]:
            body = client.post("/predictions", json={"input": {"how": how}}).json()
            assert (body["status"], body.get("error")) == ("failed", error), how
            after = client.post("/predictions", json={"input": {}}).json()
            assert (after["status"], after["output"]) == ("succeeded", "async alive"), how


@pytest.mark.parametrize("fixture", ["base_exceptions_stream", "base_exceptions_async_stream"])
def test_sys_exit_in_a_generator_fails_the_prediction_with_what_it_yielded(serve, fixture):
    with serve(fixture) as server, server.client() as client:
        body = client.post("/predictions", json={"input": {"how": "exit"}}).json()
        after = client.post("/predictions", json={"input": {}}).json()
    assert body["status"] == "failed" and body["error"] == "SystemExit: 6"
    assert body["output"] == ["first"]
    assert after["status"] == "succeeded" and after["output"] == ["first", "second"]


@pytest.mark.parametrize("fixture", ["base_exceptions", "base_exceptions_async"])
def test_cancel_still_cancels_after_a_sys_exit(serve, fixture):
    with serve(fixture) as server, server.client() as client:
        assert client.post("/predictions", json={"input": {"how": "exit"}}).json()["status"] == (
            "failed"
        )
        answer: dict = {}

        def sleeper() -> None:
            body = {"id": "sleeper", "input": {"how": "sleep"}}
            with server.client() as own:  # an httpx client is not shared between threads
                answer.update(own.post("/predictions", json=body).json())

        thread = threading.Thread(target=sleeper)
        thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and server.health()["status"] != "BUSY":
            time.sleep(0.05)
        assert client.post("/predictions/sleeper/cancel").status_code == 200
        thread.join(timeout=20)
        after = client.post("/predictions", json={"input": {}}).json()
    assert answer["status"] == "canceled"
    assert after["status"] == "succeeded", after


@pytest.mark.every_python
@pytest.mark.parametrize(
    ("raises", "error"),
    [("exit", "SystemExit: 4"), ("keyboard", "KeyboardInterrupt: no setup today")],
)
def test_base_exceptions_in_an_async_setup_fail_setup_with_the_error(serve, raises, error):
    with serve("setup_exit", env={"SETUP_RAISES": raises}) as server, server.client() as client:
        health = server.health()
        refused = client.post("/predictions", json={"input": {}})
    assert health["status"] == "SETUP_FAILED"
    assert health["setup"]["status"] == "failed"
    assert error in health["setup"]["logs"]
    assert "setting up" in health["setup"]["logs"]
    assert health["setup"]["logs"].count("Traceback") == 1  # printed and reported: shown once
    assert refused.status_code == 503


def test_a_worker_that_exits_during_setup_fails_setup_with_its_exit_code(serve):
    with serve("setup_exit", env={"SETUP_RAISES": "os_exit"}) as server:
        health = server.health()
    assert health["status"] == "SETUP_FAILED"
    assert "the worker exited during setup (exit code 7)" in health["setup"]["logs"]


@pytest.mark.every_python
@pytest.mark.parametrize(
    ("mode", "status", "error"),
    [
        ("healthy", "READY", None),
        ("unhealthy", "UNHEALTHY", "Healthcheck failed: user-defined healthcheck returned False"),
        ("raise", "UNHEALTHY", "Healthcheck failed: RuntimeError: Async healthcheck error"),
        ("exit", "UNHEALTHY", "Healthcheck failed: SystemExit: 2"),
        (
            "slow",
            "UNHEALTHY",
            "Healthcheck failed: user-defined healthcheck timed out after 5.0 seconds",
        ),
    ],
)
def test_an_async_healthcheck_on_a_sync_predictor(serve, mode, status, error):
    with serve("async_healthcheck", env={"HEALTH_MODE": mode}) as server:
        first = server.health()
        with server.client() as client:
            body = client.post("/predictions", json={"input": {}}).json()
        second = server.health()
    for health in (first, second):
        assert health["status"] == status
        assert health.get("user_healthcheck_error") == error
    assert body["output"] == "hello world"


def _worker_pid(server) -> int:
    """The worker: the server process's only child."""
    pid = server.process.pid
    children = pathlib.Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


@pytest.mark.every_python
def test_a_worker_that_exits_in_predict_makes_the_server_defunct_and_say_so(serve):
    with serve("dying") as server, server.client() as client:
        crashed = client.post("/predictions", json={"input": {"how": "exit"}}).json()
        health = server.health()
        later = client.post("/predictions", json={"input": {}})
        later_async = client.post(
            "/predictions", json={"input": {}}, headers={"Prefer": "respond-async"}
        )
    assert crashed["status"] == "failed"
    assert crashed["error"] == "Worker crashed (exit code 3)"
    assert health["status"] == "DEFUNCT" and "user_healthcheck_error" not in health
    for response in (later, later_async):
        assert response.status_code == 503
        assert response.json()["status"] == "failed"
        assert "worker process exited unexpectedly (exit code 3)" in response.json()["error"]
        assert "Setup has not finished" not in response.json()["error"]


def test_a_health_probe_in_flight_when_the_worker_is_killed_answers_defunct(serve, tmp_path):
    started = tmp_path / "check-started"
    with serve("dying", env={"HEALTH_STARTED": str(started)}) as server:
        # Waiting for the server, the fixture's own probe ran a check (which timed out).
        started.unlink(missing_ok=True)
        answers: list[dict] = []
        probe = threading.Thread(target=lambda: answers.append(server.health()))
        probe.start()
        deadline = time.monotonic() + 20
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert started.exists(), "the user healthcheck never started"
        os.kill(_worker_pid(server), signal.SIGKILL)
        probe.join(timeout=30)
        with server.client() as client:
            later = client.post("/predictions", json={"input": {}})
    assert answers[0]["status"] == "DEFUNCT"
    assert "user_healthcheck_error" not in answers[0]
    assert later.status_code == 503
    assert "exited unexpectedly (killed by signal SIGKILL)" in later.json()["error"]


def test_sigint_to_the_worker_leaves_it_serving(serve):
    # What Ctrl-C in the terminal of `python -m cog.server.http` sends it, as a process group.
    with serve("base_exceptions") as server, server.client() as client:
        os.kill(_worker_pid(server), signal.SIGINT)
        body = client.post("/predictions", json={"input": {}}).json()
        health = server.health()
    assert body["status"] == "succeeded" and body["output"] == "still alive"
    assert health["status"] == "READY"
