"""Delivery across workers and failures: a worker killed mid-prediction, a model that crashes
on one input, a SIGTERM, and a Redis that restarts: every request is answered once."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import redis

from .conftest import RedisServer
from .workers import QUEUE, TERMINAL, Producer, make_project, running_workers, start_worker, stop

FAST_CLAIMS = ("--queue-claim-after", "2")


def count_terminal(url: str) -> tuple[Counter[str], threading.Event, object]:
    counts: Counter[str] = Counter()
    pubsub = redis.Redis.from_url(url).pubsub()
    prefix = f"{QUEUE}:response:"

    def handle(message: dict) -> None:
        state = json.loads(message["data"])
        if state["status"] in TERMINAL:
            counts[message["channel"].decode()[len(prefix) :]] += 1

    pubsub.psubscribe(**{f"{prefix}*": handle})
    thread = pubsub.run_in_thread(sleep_time=0.01, daemon=True)
    return counts, threading.Event(), thread


def test_300_requests_over_3_workers_one_killed_mid_prediction(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    project = make_project(tmp_path)
    producer = Producer(redis_server.url)
    counts, _, listener = count_terminal(redis_server.url)
    ids = [f"r{n}" for n in range(300)]
    with running_workers(project, redis_server.url, 3, *FAST_CLAIMS) as workers:
        for prediction_id in ids:
            producer.submit({"id": prediction_id, "input": {"tag": prediction_id, "sleep": 0.01}})
        victim = workers[0]
        deadline = time.monotonic() + 30
        while victim.health()["in_flight"] == 0 or len(counts) < 60:  # mid-prediction, mid-run
            assert time.monotonic() < deadline, "the run never got going"
            time.sleep(0.005)
        victim.kill()
        for prediction_id in ids:
            assert producer.wait(prediction_id, timeout=60)["status"] == "succeeded"
        producer.wait_all_acked()
        deadline = time.monotonic() + 10  # the last publications reach the listener's thread
        while any(counts[i] == 0 for i in ids) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)  # and a duplicate, were there one, would follow them
    listener.stop()  # type: ignore[attr-defined]
    assert {i: counts[i] for i in ids if counts[i] != 1} == {}, "one terminal response each"
    runs = project.run_counts()
    assert set(runs) == set(ids), "none lost"
    # A prediction may have run on the killed worker without its answer being stored; after an
    # answer is stored, it never runs again. The killed worker had one slot.
    assert sum(1 for n in runs.values() if n > 1) <= 1
    assert max(runs.values()) <= 2


def test_an_entry_that_keeps_crashing_its_worker_is_dead_lettered(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    project = make_project(tmp_path)
    producer = Producer(redis_server.url)
    producer.submit({"id": "poison", "input": {"poison": True}})
    args = ("--queue-claim-after", "0.5", "--queue-max-deliveries", "2")
    # A process manager's loop: each worker goes DEFUNCT on the poison and is replaced.
    for attempt in range(2):
        worker = start_worker(project, redis_server.url, *args)
        try:
            worker.wait_for("DEFUNCT")
        finally:
            stop(worker)
        assert producer.response("poison")["status"] != "failed", attempt
    with running_workers(project, redis_server.url, 1, *args) as (worker,):
        response = producer.wait("poison", timeout=20)
        assert response["status"] == "failed"
        assert "delivered 3 times" in response["error"]
        dead = producer.redis.xrange(f"{QUEUE}:dead")
        assert len(dead) == 1
        fields = dead[0][1]
        assert json.loads(fields[b"value"]) == {"id": "poison", "input": {"poison": True}}
        assert b"--queue-max-deliveries 2" in fields[b"reason"]
        producer.wait_all_acked()
        assert worker.health()["status"] == "READY"  # it never ran the poison


def test_sigterm_lets_in_flight_predictions_finish_then_exits_0(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    project = make_project(tmp_path)
    producer = Producer(redis_server.url)
    # Two slots: one prediction in flight leaves the server READY, not BUSY.
    worker = start_worker(project, redis_server.url, env={"COG_MAX_CONCURRENCY": "2"})
    try:
        worker.wait_for("READY")
        producer.submit({"id": "slow", "input": {"tag": "slow", "sleep": 1.5}})
        producer.submit({"id": "queued", "input": {"tag": "queued"}})
        producer.wait("slow", ("processing",))
        producer.wait("queued")
        assert worker.health()["status"] == "READY"
        # The kubelet's preStop drain waits on the in-flight count...
        probe = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cog.kubernetes.probe",
                "drain",
                "--timeout",
                "20",
                "--settle",
                "0",
            ],
            env={"PORT": str(worker.port), "PATH": "/usr/bin:/bin"},
        )
        assert probe.wait(timeout=30) == 0
        assert producer.response("slow")["status"] == "succeeded"
        # ...and SIGTERM lets what runs finish rather than cancel it.
        producer.submit({"id": "slow2", "input": {"tag": "slow2", "sleep": 1.5}})
        producer.wait("slow2", ("processing",))
        assert worker.terminate() == 0
    finally:
        stop(worker)
    assert producer.response("slow2")["status"] == "succeeded"
    assert producer.pending() == 0
    assert project.run_counts() == {"slow": 1, "queued": 1, "slow2": 1}


def test_responses_arrive_when_redis_restarts_mid_run(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    project = make_project(tmp_path)
    producer = Producer(redis_server.url)
    ids = [f"r{n}" for n in range(6)]
    with running_workers(project, redis_server.url) as (worker,):
        for prediction_id in ids:
            producer.submit({"id": prediction_id, "input": {"tag": prediction_id, "sleep": 1}})
        producer.wait("r0", ("processing",))  # r0 runs 1 s: long enough to be seen running
        redis_server.stop()
        deadline = time.monotonic() + 10
        while worker.health()["queue"]["connected"]:
            assert time.monotonic() < deadline, "the worker never noticed Redis was gone"
            time.sleep(0.05)
        time.sleep(1.0)  # r0 ends while Redis is away: its answer waits
        redis_server.start()
        producer = Producer(redis_server.url)
        for prediction_id in ids:
            assert producer.wait(prediction_id, timeout=30)["status"] == "succeeded"
        producer.wait_all_acked()
        assert worker.health()["queue"]["connected"] is True
    runs = project.run_counts()
    assert set(runs) == set(ids)
    assert max(runs.values()) == 1


def test_a_long_prediction_is_not_taken_over_while_its_worker_lives(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    project = make_project(tmp_path)
    producer = Producer(redis_server.url)
    # Claims are renewed well within the 1.5 s after which an idle entry may be taken over.
    with running_workers(project, redis_server.url, 2, "--queue-claim-after", "1.5"):
        producer.submit({"id": "long", "input": {"tag": "long", "sleep": 4}})
        assert producer.wait("long", timeout=20)["status"] == "succeeded"
        producer.wait_all_acked()
    assert project.run_counts() == {"long": 1}


def test_a_worker_started_before_redis_serves_once_it_comes(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    project = make_project(tmp_path)
    redis_server.stop()
    worker = start_worker(project, redis_server.url)
    try:
        health = worker.wait_for("READY")
        assert health["queue"]["connected"] is False
        redis_server.start()
        producer = Producer(redis_server.url)
        producer.submit({"id": "late", "input": {"tag": "late"}})
        assert producer.wait("late", timeout=20)["status"] == "succeeded"
        # The HTTP API serves as ever beside the queue.
        answer = httpx.post(
            f"{worker.url}/predictions", json={"input": {"tag": "http"}}, timeout=10
        )
        assert answer.json()["output"] == "done http"
    finally:
        stop(worker)
    assert project.run_counts() == {"late": 1, "http": 1}
