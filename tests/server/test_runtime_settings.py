"""Runtime settings from the environment, webhook headers, and requests during setup."""

import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from .receiver import Receiver
from .test_async_and_streams import wait_until


@pytest.mark.every_python
def test_setup_timeout_fails_setup(serve):
    env = {"COG_SETUP_TIMEOUT": "1", "SLOW_SETUP_SECONDS": "20"}
    with serve("slow_setup", env=env) as server, server.client() as client:
        health = server.health()
        response = client.post("/predictions", json={"input": {}})
    assert health["status"] == "SETUP_FAILED"
    assert health["setup"]["status"] == "failed"
    assert "timed out" in health["setup"]["logs"]
    assert response.status_code == 503


def test_predictions_before_setup_ends_get_503_then_run(serve):
    env = {"SLOW_SETUP_SECONDS": "2"}
    with serve("slow_setup", env=env, wait=False) as server, server.client() as client:
        early = client.post("/predictions", json={"input": {}})
        starting = server.health()
        server.wait_for("READY")
        later = client.post("/predictions", json={"input": {}}).json()
    assert early.status_code == 503
    assert "Setup has not finished yet" in early.json()["error"]
    assert starting["setup"]["status"] == "starting"
    assert later["status"] == "succeeded" and later["output"] == "ready"


def test_a_sync_model_cannot_have_more_than_one_slot(serve):
    with serve("echo", env={"COG_MAX_CONCURRENCY": "2"}) as server:
        health = server.health()
    assert health["status"] == "SETUP_FAILED"
    assert "requires an async" in health["setup"]["logs"]


def test_webhooks_carry_the_auth_token_and_trace_headers(serve):
    env = {"WEBHOOK_AUTH_TOKEN": "s3cret"}
    trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with Receiver() as receiver, serve("echo", env=env) as server, server.client() as client:
        response = client.post(
            "/predictions",
            json={"input": {"text": "hi"}, "webhook": receiver.url + "/hook"},
            headers={"Prefer": "respond-async", "traceparent": trace},
        )
        assert response.status_code == 202
        wait_until(lambda: any(w["status"] == "succeeded" for w in receiver.webhooks))
    assert receiver.webhook_headers
    for headers in receiver.webhook_headers:
        assert headers["Authorization"] == "Bearer s3cret"
        assert headers["traceparent"] == trace


@pytest.mark.every_python
def test_a_sync_client_that_goes_away_cancels_its_prediction(serve):
    with serve("slow") as server, server.client() as client:
        started = time.monotonic()
        try:
            client.post("/predictions", json={"input": {"seconds": 30}}, timeout=0.5)
        except httpx.ReadTimeout:
            pass
        else:
            raise AssertionError("a 30 s prediction answered within 0.5 s")
        # The slot comes back long before the abandoned prediction would have finished.
        status = 0
        while time.monotonic() - started < 10:
            response = client.post("/predictions", json={"input": {"seconds": 0}})
            status = response.status_code
            if status == 200:
                break
            assert status == 409
            time.sleep(0.1)
    assert status == 200, "the abandoned prediction kept its slot"
    assert response.json()["output"] == "finished"
    assert time.monotonic() - started < 10


@pytest.mark.every_python
def test_sigterm_cancels_in_flight_work_and_delivers_terminal_webhooks(serve):
    # The receiver refuses the first three webhooks: the terminal one is delivered only on a
    # retry, which the shutting-down server must wait for.
    with Receiver(fail_first=3) as receiver, serve("slow") as server, server.client() as client:
        response = client.post(
            "/predictions",
            json={"id": "term", "input": {"seconds": 30}, "webhook": receiver.url + "/hook"},
            headers={"Prefer": "respond-async"},
        )
        assert response.status_code == 202
        wait_until(lambda: server.health()["status"] == "BUSY")
        time.sleep(0.6)  # past the webhook throttle: the cancel's log line is sent at once
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=20)
    assert server.process.returncode == 0
    final = receiver.webhooks[-1]
    assert final["id"] == "term" and final["status"] == "canceled"


def _fill_slots(server, count: int) -> list[int]:
    with server.client() as client:
        return [
            client.post(
                "/predictions", json={"input": {"seconds": 3}}, headers={"Prefer": "respond-async"}
            ).status_code
            for _ in range(count)
        ]


@pytest.mark.every_python
def test_concurrent_decorator_sets_the_slots_when_nothing_else_does(serve):
    with serve("concurrent_decorator") as server:
        statuses = _fill_slots(server, 4)
    assert statuses == [202, 202, 202, 409]


def test_cog_max_concurrency_wins_over_the_decorator(serve):
    with serve("concurrent_decorator", env={"COG_MAX_CONCURRENCY": "2"}) as server:
        statuses = _fill_slots(server, 3)
    assert statuses == [202, 202, 409]


def test_concurrent_health_probes_share_one_user_healthcheck(serve):
    with serve("slow_healthcheck") as server, server.client() as client:
        before = client.post("/predictions", json={"input": {}}).json()["output"]
        with ThreadPoolExecutor(6) as pool:
            healths = list(pool.map(lambda _: server.health(), range(6)))
        after = client.post("/predictions", json={"input": {}}).json()["output"]
    assert all(h["status"] == "READY" for h in healths)
    # six probes within one 0.5 s check: at most two checks ran, not six
    assert 1 <= after - before <= 2


def test_kubernetes_ready_file_is_written_by_the_first_ready_health_check(serve, tmp_path):
    ready = tmp_path / "run" / "cog" / "ready"
    env = {
        "KUBERNETES_SERVICE_HOST": "10.0.0.1",
        "PYCOG_READY_FILE": str(ready),
        "SLOW_SETUP_SECONDS": "1",
    }
    with serve("slow_setup", env=env, wait=False) as server:
        assert server.health()["status"] == "STARTING"
        assert not ready.exists()
        server.wait_for("READY")
        assert ready.exists()
    with serve("echo", env={"PYCOG_READY_FILE": str(tmp_path / "elsewhere")}) as server:
        assert server.health()["status"] == "READY"
    assert not (tmp_path / "elsewhere").exists()  # not under Kubernetes
