"""GET /metrics on a real server, read with Prometheus' own text parser."""

from __future__ import annotations

import contextlib
import os

import httpx

from .conftest import free_port
from .receiver import Receiver
from .scrape import ended, scrape, scrape_until, value, wait_until


def test_counts_times_slots_and_health_across_two_slots(serve):
    """1. Before any prediction: each status at 0, 2 slots, READY, the setup's duration.
    2. Two that succeed (recording metrics), one that fails.
    3. One running (seen started by its webhook): 1 in flight, still READY; a second: BUSY.
    4. Both canceled: counted as such, nothing in flight, READY again.
    5. Every started one is in both histograms; the model's numbers in the summary."""
    with Receiver() as receiver, serve("metered") as server, server.client() as client:
        samples = scrape(client)  # 1
        assert [ended(samples, s) for s in ("succeeded", "failed", "canceled")] == [0, 0, 0]
        assert value(samples, "cog_slots") == 2
        assert value(samples, "cog_health_status", status="READY") == 1
        assert value(samples, "cog_health_status", status="BUSY") == 0
        assert value(samples, "cog_setup_duration_seconds") >= 0
        assert value(samples, "cog_predictions_total", kind="training", status="failed") is None

        for tokens in (3, 5):  # 2
            answer = client.post("/predictions", json={"input": {"tokens": tokens}})
            assert answer.json()["status"] == "succeeded"
        failed = client.post("/predictions", json={"input": {"how": "fail"}})
        assert failed.json()["status"] == "failed"

        ids = []
        for expected_health in ("READY", "BUSY"):  # 3
            body = {
                "input": {"seconds": 60},
                "webhook": receiver.url,
                "webhook_events_filter": ["start", "completed"],
            }
            answer = client.post("/predictions", json=body, headers={"Prefer": "respond-async"})
            assert answer.status_code == 202
            ids.append(answer.json()["id"])
            wait_until(lambda: len(receiver.webhooks) == len(ids))  # its start webhook
            samples = scrape(client)
            assert value(samples, "cog_predictions_in_flight", kind="prediction") == len(ids)
            assert value(samples, "cog_health_status", status=expected_health) == 1
            assert sum(v for (n, _), v in samples.items() if n == "cog_health_status") == 1

        for prediction_id in ids:  # 4
            assert client.post(f"/predictions/{prediction_id}/cancel").status_code == 200
        samples = scrape_until(client, lambda s: ended(s, "canceled") == 2)
        assert [ended(samples, s) for s in ("succeeded", "failed", "canceled")] == [2, 1, 2]
        assert value(samples, "cog_predictions_in_flight", kind="prediction") == 0
        assert value(samples, "cog_health_status", status="READY") == 1

        for histogram in ("cog_prediction_duration_seconds", "cog_prediction_wait_seconds"):
            assert value(samples, f"{histogram}_count", kind="prediction") == 5  # 5
            assert value(samples, f"{histogram}_bucket", kind="prediction", le="+Inf") == 5
        # The canceled two ran until canceled, after their start webhooks were answered.
        assert value(samples, "cog_prediction_duration_seconds_sum", kind="prediction") > 0
        assert value(samples, "cog_model_metric_count", name="tokens") == 2
        assert value(samples, "cog_model_metric_sum", name="tokens") == 8
        assert value(samples, "cog_model_metric_sum", name="timing.model") == 0.5
        names = {dict(labels).get("name") for (n, labels) in samples if n.startswith("cog_model")}
        assert names == {"tokens", "timing.model"}  # no strings, no bools, no predict_time

        wait_until(lambda: len(receiver.webhooks) == 4)  # both terminal ones answered
        samples = scrape_until(
            client, lambda s: value(s, "cog_webhook_deliveries_total", result="delivered") == 4
        )
        assert value(samples, "cog_webhook_deliveries_total", result="delivered") == 4


def test_webhook_outcomes(serve):
    """A terminal webhook answered 400 is rejected (not retried); a start webhook to a port
    nobody listens on failed; one answered 200 delivered."""

    def answer(webhook: dict) -> tuple[int, float]:
        return (400, 0.0) if webhook["status"] == "succeeded" else (200, 0.0)

    dead = f"http://127.0.0.1:{free_port()}/hook"
    with Receiver(answer=answer) as receiver, serve("metered") as server, server.client() as c:
        c.post("/predictions", json={"input": {}, "webhook": receiver.url})
        c.post(
            "/predictions",
            json={"input": {}, "webhook": dead, "webhook_events_filter": ["start"]},
        )
        outcomes = ("delivered", "rejected", "failed")
        samples = scrape_until(
            c,
            lambda s: (
                [value(s, "cog_webhook_deliveries_total", result=r) for r in outcomes] == [1, 1, 1]
            ),
        )
        counted = [value(samples, "cog_webhook_deliveries_total", result=r) for r in outcomes]
        assert counted == [1, 1, 1]


def test_trainings_are_counted_apart(serve):
    with serve("train") as server, server.client() as client:
        assert client.post("/trainings", json={"input": {}}).json()["status"] == "succeeded"
        samples = scrape(client)
        assert ended(samples, "succeeded", kind="training") == 1
        assert ended(samples, "succeeded", kind="prediction") == 0
        assert value(samples, "cog_prediction_duration_seconds_count", kind="training") == 1
        assert value(samples, "cog_predictions_in_flight", kind="training") == 0


def test_setup_failure_shows_in_health(serve):
    with serve("failing_setup") as server, server.client() as client:
        samples = scrape(client)
        assert value(samples, "cog_health_status", status="SETUP_FAILED") == 1
        assert value(samples, "cog_health_status", status="READY") == 0
        assert value(samples, "cog_setup_duration_seconds") >= 0


def test_a_crashed_worker_is_defunct_and_its_prediction_failed(serve):
    with serve("crash") as server, server.client() as client:
        with contextlib.suppress(httpx.HTTPError):
            client.post("/predictions", json={"input": {}})
        samples = scrape_until(client, lambda s: ended(s, "failed") == 1)
        assert ended(samples, "failed") == 1
        assert value(samples, "cog_health_status", status="DEFUNCT") == 1


def test_without_prometheus_client_the_model_serves_and_metrics_say_why(serve, tmp_path):
    """An environment made before the server depended on prometheus_client (hidden here by
    a package that fails to import, first on the path) still predicts; /metrics says what to
    do."""
    hidden = tmp_path / "hidden"
    (hidden / "prometheus_client").mkdir(parents=True)
    (hidden / "prometheus_client" / "__init__.py").write_text("raise ImportError('hidden')\n")
    path = os.pathsep.join(filter(None, [str(hidden), os.environ.get("PYTHONPATH")]))
    with serve("metered", env={"PYTHONPATH": path}) as server, server.client() as client:
        assert client.post("/predictions", json={"input": {}}).json()["status"] == "succeeded"
        response = client.get("/metrics")
        assert response.status_code == 503
        assert "pip install 'prometheus_client>=0.17'" in response.text


def test_the_wait_queue_depth_and_its_waiters(tmp_path):
    """With COG_MAX_QUEUE: one runs (gated), one waits (the gauge says 1); the waiter canceled
    is counted canceled without a duration; the runner, once its gate opens, succeeded."""
    from .conftest import run_server
    from .test_backpressure import gated, processing
    from .test_polling import ASYNC, open_gate

    with run_server("paced", tmp_path, env={"COG_MAX_QUEUE": "3"}) as server:
        with server.client() as client:
            samples = scrape(client)
            assert value(samples, "cog_predictions_waiting") == 0
            client.put("/predictions/a", json=gated("a"), headers=ASYNC)
            processing(client, "a")
            client.put("/predictions/w", json=gated("w"), headers=ASYNC)
            assert value(scrape(client), "cog_predictions_waiting") == 1
            assert client.post("/predictions/w/cancel").status_code == 200
            samples = scrape(client)
            assert value(samples, "cog_predictions_waiting") == 0
            assert ended(samples, "canceled") == 1
            assert value(samples, "cog_prediction_duration_seconds_count", kind="prediction") == 0
            open_gate(server, "a")
            samples = scrape_until(client, lambda s: ended(s, "succeeded") == 1)
            assert ended(samples, "succeeded") == 1
            assert value(samples, "cog_prediction_wait_seconds_count", kind="prediction") == 1
