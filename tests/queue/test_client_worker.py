"""`QueueClient` against real queue workers: a server process taking predictions from the
stream of a real redis-server."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from cog.queue import QueueClient

from ..server.conftest import RunningServer, run_server
from .conftest import RedisServer

QUEUE = "client-e2e"

Worker = Callable[[str], AbstractContextManager[RunningServer]]


@pytest.fixture
def worker(redis_server: RedisServer, tmp_path: Path) -> Worker:
    """`with worker("echo"):` a server of that tests/server fixture, a worker of QUEUE."""

    def start(name: str) -> AbstractContextManager[RunningServer]:
        return run_server(name, tmp_path, args=("--redis-url", redis_server.url, "--queue", QUEUE))

    return start


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[QueueClient]:
    with QueueClient(redis_server.url, QUEUE) as queue_client:
        yield queue_client


def wait_until(client: QueueClient, prediction_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = client.get(prediction_id)
        if response is not None and response["status"] == status:
            return response
        time.sleep(0.02)
    raise AssertionError(f"{prediction_id} never {status}: {client.get(prediction_id)}")


def test_a_submitted_prediction_runs_on_a_worker_and_its_response_comes_back(
    worker: Worker, client: QueueClient
) -> None:
    with worker("echo"):
        prediction_id = client.submit({"text": "hi", "repeat": 2, "shout": True})
        response = client.wait(prediction_id, timeout=60)
        assert response["id"] == prediction_id
        assert response["status"] == "succeeded"
        assert response["output"] == "HI HI"
        assert "echoing hi" in response["logs"]
        assert client.get(prediction_id) == response


def test_cancel_stops_a_running_prediction(worker: Worker, client: QueueClient) -> None:
    with worker("slow"):
        prediction_id = client.submit({"seconds": 60})
        wait_until(client, prediction_id, "processing")
        client.cancel(prediction_id)
        response = client.wait(prediction_id, timeout=30)
        assert response["status"] == "canceled"
