"""`cog.queue.QueueClient` against a real redis-server, the test playing the worker's side of
the wire (stream entries in, responses stored and published out)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from cog.queue import QueueClient
from cog.queue.client import BadResponse, QueueError, QueueTimeout, QueueUnavailable

from .conftest import RedisServer, free_port

QUEUE = "my-model"


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[QueueClient]:
    with QueueClient(redis_server.url, QUEUE) as queue_client:
        yield queue_client


@pytest.fixture
def raw(redis_server: RedisServer) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_server.url)
    yield connection
    connection.close()


def entries(raw: redis.Redis) -> list[dict[bytes, bytes]]:
    return [fields for _, fields in raw.xrange(QUEUE)]


def request_of(raw: redis.Redis, index: int = 0) -> dict[str, Any]:
    fields = entries(raw)[index]
    assert list(fields) == [b"value"]
    decoded: dict[str, Any] = json.loads(fields[b"value"])
    return decoded


def respond(raw: redis.Redis, prediction_id: str, status: str, *, publish: bool = True,
            store: bool = True, **fields: Any) -> None:  # fmt: skip
    """What a worker does at a state change: store the whole response, then publish it."""
    key = f"{QUEUE}:response:{prediction_id}"
    body = json.dumps({"id": prediction_id, "status": status, **fields})
    if store:
        raw.set(key, body, ex=3600)
    if publish:
        raw.publish(key, body)


def when_subscribed(
    raw: redis.Redis, prediction_id: str, then: Callable[[], None]
) -> threading.Thread:
    """A thread that runs `then` once a client listens on the prediction's channel."""
    channel = f"{QUEUE}:response:{prediction_id}"

    def run() -> None:
        while not raw.pubsub_numsub(channel)[0][1]:
            time.sleep(0.01)
        then()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


# submit


def test_submit_adds_one_stream_entry_holding_the_request(
    client: QueueClient, raw: redis.Redis
) -> None:
    prediction_id = client.submit({"text": "hi", "n": 3})
    request = request_of(raw)
    assert request == {"id": prediction_id, "input": {"text": "hi", "n": 3}, "webhook": None,
                       "context": {}}  # fmt: skip
    assert len(entries(raw)) == 1


def test_submit_makes_a_new_id_each_time(client: QueueClient, raw: redis.Redis) -> None:
    ids = [client.submit({}) for _ in range(3)]
    assert len(set(ids)) == 3
    assert [request_of(raw, index)["id"] for index in range(3)] == ids


def test_submit_sends_the_id_webhook_context_and_events_given(
    client: QueueClient, raw: redis.Redis
) -> None:
    returned = client.submit(
        {"x": 1},
        "http://hooks.example/done",
        "p1",
        context={"user": "ada"},
        webhook_events_filter=["start", "completed"],
    )
    assert returned == "p1"
    assert request_of(raw) == {
        "id": "p1",
        "input": {"x": 1},
        "webhook": "http://hooks.example/done",
        "context": {"user": "ada"},
        "webhook_events_filter": ["start", "completed"],
    }


def test_submit_sends_a_local_file_as_a_data_url(
    client: QueueClient, raw: redis.Redis, tmp_path: Path
) -> None:
    image = tmp_path / "note.txt"
    image.write_text("hello")
    client.submit({"files": [image]})
    assert request_of(raw)["input"] == {"files": ["data:text/plain;base64,aGVsbG8="]}


def test_submit_refuses_an_unknown_webhook_event(client: QueueClient, raw: redis.Redis) -> None:
    with pytest.raises(QueueError, match="unknown webhook events \\['done'\\].*start, output"):
        client.submit({}, webhook_events_filter=["start", "done"])
    assert entries(raw) == []


def test_submit_refuses_an_input_that_is_not_json(client: QueueClient, raw: redis.Redis) -> None:
    with pytest.raises(QueueError, match="cannot be sent as JSON.*object"):
        client.submit({"x": object()})
    assert entries(raw) == []


# get


def test_get_is_none_before_any_response(client: QueueClient) -> None:
    assert client.get("nobody") is None


def test_get_reads_the_latest_response(client: QueueClient, raw: redis.Redis) -> None:
    respond(raw, "p1", "starting")
    respond(raw, "p1", "processing", logs="step 1\n")
    assert client.get("p1") == {"id": "p1", "status": "processing", "logs": "step 1\n"}


def test_get_says_when_the_key_holds_something_else(client: QueueClient, raw: redis.Redis) -> None:
    raw.set(f"{QUEUE}:response:p1", "not json")
    with pytest.raises(BadResponse, match="my-model:response:p1.*not json"):
        client.get("p1")


# wait


def test_wait_returns_the_terminal_response_a_worker_publishes(
    client: QueueClient, raw: redis.Redis
) -> None:
    prediction_id = client.submit({"text": "hi"})

    def worker() -> None:
        request = request_of(raw)
        respond(raw, request["id"], "starting")
        respond(raw, request["id"], "processing")
        respond(raw, request["id"], "succeeded", output=request["input"]["text"].upper())

    thread = when_subscribed(raw, prediction_id, worker)
    response = client.wait(prediction_id, timeout=30)
    thread.join()
    assert response == {"id": prediction_id, "status": "succeeded", "output": "HI"}


def test_wait_returns_at_once_a_response_stored_before(
    client: QueueClient, raw: redis.Redis
) -> None:
    respond(raw, "p1", "failed", publish=False, error="boom")
    assert client.wait("p1", timeout=0) == {"id": "p1", "status": "failed", "error": "boom"}


def test_wait_takes_a_terminal_response_only_published(
    client: QueueClient, raw: redis.Redis
) -> None:
    respond(raw, "p1", "processing")
    thread = when_subscribed(raw, "p1", lambda: respond(raw, "p1", "canceled", store=False))
    assert client.wait("p1", timeout=30)["status"] == "canceled"
    thread.join()


def test_wait_times_out_when_no_worker_takes_the_prediction(client: QueueClient) -> None:
    prediction_id = client.submit({})
    with pytest.raises(QueueTimeout) as raised:
        client.wait(prediction_id, timeout=0.3)
    message = str(raised.value)
    assert f"prediction {prediction_id} on queue 'my-model'" in message
    assert "no worker has taken it yet" in message
    assert "--queue my-model" in message


def test_wait_times_out_on_a_prediction_still_running(
    client: QueueClient, raw: redis.Redis
) -> None:
    respond(raw, "p1", "processing")
    with pytest.raises(QueueTimeout, match="it is still processing"):
        client.wait("p1", timeout=0.3)


def test_wait_outlives_a_redis_restart(
    client: QueueClient, raw: redis.Redis, redis_server: RedisServer
) -> None:
    def restart_then_succeed() -> None:
        redis_server.restart(down_for=1.0)
        respond(raw, "p1", "succeeded", output=42)

    respond(raw, "p1", "processing")
    thread = when_subscribed(raw, "p1", restart_then_succeed)
    assert client.wait("p1", timeout=60) == {"id": "p1", "status": "succeeded", "output": 42}
    thread.join()


# cancel


def test_cancel_sets_the_cancel_key_with_a_ttl(redis_server: RedisServer, raw: redis.Redis) -> None:
    with QueueClient(redis_server.url, QUEUE, cancel_ttl=600) as client:
        client.cancel("p1")
    assert raw.exists(f"{QUEUE}:cancel:p1")
    assert 0 < raw.ttl(f"{QUEUE}:cancel:p1") <= 600


# Redis itself


def test_an_unreachable_redis_is_named_without_its_password() -> None:
    url = f"redis://user:s3cret@127.0.0.1:{free_port()}/0"
    with QueueClient(url, QUEUE) as client, pytest.raises(QueueUnavailable) as raised:
        client.submit({})
    assert "cannot reach Redis at redis://***@127.0.0.1:" in str(raised.value)
    assert "s3cret" not in str(raised.value)


def test_a_url_that_is_not_redis_is_refused() -> None:
    with pytest.raises(QueueError, match="not a Redis URL.*redis://HOST:PORT/DB"):
        QueueClient("http://127.0.0.1:6379", QUEUE)
