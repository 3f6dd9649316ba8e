"""Synchronous predictions, validation, logs, errors and idempotency over real HTTP."""

import concurrent.futures

import httpx
import pytest


def test_root_lists_the_api(serve):
    with serve("echo") as server, server.client() as client:
        body = client.get("/").json()
    assert body["predictions_url"] == "/predictions"
    assert body["predictions_cancel_url"] == "/predictions/{prediction_id}/cancel"
    assert "trainings_url" not in body


@pytest.mark.every_python
def test_sync_prediction_with_logs_from_every_source(serve):
    with serve("echo") as server, server.client() as client:
        response = client.post("/predictions", json={"input": {"text": "hi", "repeat": 2}})
        body = response.json()
    assert response.status_code == 200
    assert body["status"] == "succeeded"
    assert body["output"] == "hi hi"
    assert body["id"].startswith("pred_")
    for line in ("echoing hi", "via logging", "from a thread", "to stderr"):
        assert line in body["logs"]
    assert body["metrics"]["predict_time"] > 0


@pytest.mark.every_python
def test_setup_logs_are_in_the_health_check(serve):
    with serve("echo") as server:
        health = server.health()
    assert health["status"] == "READY"
    assert health["setup"]["status"] == "succeeded"
    assert "setting up echo" in health["setup"]["logs"]
    assert health["setup"]["started_at"] <= health["setup"]["completed_at"]


@pytest.mark.every_python
def test_validation_errors_use_cogs_shape(serve):
    with serve("echo") as server, server.client() as client:
        missing = client.post("/predictions", json={"input": {}})
        wrong = client.post("/predictions", json={"input": {"text": "x", "repeat": 9}})
        nullable = client.post("/predictions", json={"input": {"text": "x", "note": None}})
        unknown = client.post("/predictions", json={"input": {"text": "x", "extra": 1}})
    assert missing.status_code == 422
    assert missing.json() == {
        "detail": [
            {
                "loc": ["body", "input", "text"],
                "msg": "Field required",
                "type": "value_error.missing",
            }
        ]
    }
    assert wrong.status_code == 422
    assert wrong.json()["detail"][0]["loc"] == ["body", "input", "repeat"]
    # Cog's validator ignores `nullable`: an explicit null is refused; leaving it out is the way.
    assert nullable.status_code == 422
    assert nullable.json()["detail"][0]["msg"] == 'null is not of type "string"'
    assert unknown.status_code == 200


def test_malformed_requests_are_rejected_cleanly(serve):
    with serve("echo") as server, server.client() as client:
        bad_json = client.post(
            "/predictions", content=b"{nope", headers={"Content-Type": "application/json"}
        )
        not_json = client.post(
            "/predictions", content=b"a=b", headers={"Content-Type": "text/plain"}
        )
        not_object = client.post("/predictions", json=[1, 2])
        bad_input = client.post("/predictions", json={"input": "text"})
        still_fine = client.post("/predictions", json={"input": {"text": "ok"}})
    assert bad_json.status_code == 400
    assert not_json.status_code == 415
    assert not_object.status_code == 422 and bad_input.status_code == 422
    assert still_fine.json()["output"] == "ok"


def test_idempotent_put_and_id_mismatch(serve):
    with serve("echo") as server, server.client() as client:
        put = client.put("/predictions/abc", json={"input": {"text": "put"}})
        mismatch = client.put("/predictions/abc", json={"id": "xyz", "input": {"text": "x"}})
    assert put.json()["id"] == "abc" and put.json()["output"] == "put"
    assert mismatch.status_code == 422
    assert (
        mismatch.json()["detail"][0]["msg"] == "prediction ID must match the ID supplied in the URL"
    )


@pytest.mark.every_python
def test_prediction_errors_fail_the_prediction_not_the_server(serve):
    with serve("echo") as server, server.client() as client:
        failed = client.post("/predictions", json={"input": {"text": 5}})
        assert failed.status_code == 422
        ok = client.post("/predictions", json={"input": {"text": "fine"}})
    assert ok.json()["status"] == "succeeded"


def test_back_to_back_sync_requests_never_see_a_busy_model(serve):
    """1. send a sync prediction; 2. send the next as soon as the answer arrives; 3. repeat.
    The slot is released before the response is sent, so no request gets 409."""
    with serve("echo") as server, server.client() as client:
        statuses = [
            client.post("/predictions", json={"input": {"text": str(i)}}).status_code
            for i in range(60)
        ]
    assert statuses == [200] * 60


def test_concurrent_requests_to_a_sync_model_get_409(serve):
    with serve("slow") as server, server.client() as client:
        first = client.post(
            "/predictions", json={"input": {"seconds": 2}}, headers={"Prefer": "respond-async"}
        )
        assert first.status_code == 202
        busy = client.post("/predictions", json={"input": {"seconds": 0}})
        assert server.health()["status"] == "BUSY"
        client.post(f"/predictions/{first.json()['id']}/cancel")
    assert busy.status_code == 409
    assert busy.json() == {"error": "At capacity - all prediction slots busy", "status": "failed"}


def test_unknown_ids_are_404(serve):
    with serve("echo") as server, server.client() as client:
        assert client.post("/predictions/nope/cancel").status_code == 404
        assert client.get("/predictions/nope").status_code in (404, 405)


@pytest.mark.every_python
def test_async_predictor_runs_predictions_concurrently(serve):
    with serve("async_sleep") as server:

        def one(i):
            with httpx.Client(base_url=server.url, timeout=30) as client:
                return client.post(
                    "/predictions", json={"input": {"seconds": 0.5, "label": str(i)}}
                )

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            import time

            started = time.monotonic()
            responses = list(pool.map(one, range(4)))
            elapsed = time.monotonic() - started
    assert [r.json()["output"] for r in responses] == [f"slept {i}" for i in range(4)]
    assert all(f"start {i}" in r.json()["logs"] for i, r in enumerate(responses))
    assert all(f"start {(i + 1) % 4}" not in r.json()["logs"] for i, r in enumerate(responses))
    assert elapsed < 1.9  # four 0.5 s predictions overlapped


@pytest.mark.every_python
def test_metrics_and_context(serve):
    with serve("metrics") as server, server.client() as client:
        body = client.post(
            "/predictions", json={"input": {"n": 3}, "context": {"user": "alice"}}
        ).json()
    assert body["output"] == 3
    assert body["metrics"]["tokens"] == 3
    assert body["metrics"]["timing"] == {"model": 0.5}
    assert body["metrics"]["steps"] == ["a", "b"]
