"""A queue worker answers each stream entry with its response key, in Cog's JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..server.receiver import Receiver
from ..server.scrape import wait_until
from .conftest import RedisServer
from .workers import QUEUE, Producer, make_project, running_workers


def test_entries_are_answered_at_their_response_keys(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    project = make_project(tmp_path)
    producer = Producer(redis_server.url)
    subscriber = producer.redis.pubsub()
    subscriber.subscribe(f"{QUEUE}:response:p1")
    with running_workers(project, redis_server.url) as (worker,):
        producer.submit({"id": "p1", "input": {"tag": "p1", "token": "s3cret", "logs": 2}})
        response = producer.wait("p1")
        assert response["status"] == "succeeded"
        assert response["output"] == "done p1"
        assert response["input"]["token"] == "**********"
        assert "s3cret" not in json.dumps(response)
        assert response["logs"] == "line 0\nline 1\n"
        assert 0 < producer.redis.ttl(f"{QUEUE}:response:p1") <= 86400
        # Each state was published on the channel of the key's name, the terminal one last.
        published = []
        while (message := subscriber.get_message(timeout=1)) is not None:
            if message["type"] == "message":
                published.append(json.loads(message["data"])["status"])
        assert published[-1] == "succeeded"
        assert set(published) <= {"starting", "processing", "succeeded"}
        producer.wait_all_acked()

        # The worker lets go of an entry once it has read the ack's reply: a moment later.
        wait_until(lambda: worker.health()["in_flight"] == 0, 10)
        health = worker.health()
        assert health["queue"]["name"] == QUEUE
        assert health["queue"]["connected"] is True
    assert project.run_counts() == {"p1": 1}


def test_a_request_without_id_is_named_by_its_entry_id(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    project = make_project(tmp_path)
    producer = Producer(redis_server.url)
    with running_workers(project, redis_server.url):
        # The real client once: a producer written for Cog's queue worker does just this.
        added = subprocess.run(
            [
                "redis-cli",
                "-p",
                str(redis_server.port),
                "XADD",
                QUEUE,
                "*",
                "value",
                '{"input": {"tag": "anonymous"}}',
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        response = producer.wait(added)
        assert response["id"] == added
        assert response["output"] == "done anonymous"


def test_unreadable_and_invalid_entries_fail_with_a_reason_and_are_acked(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    project = make_project(tmp_path)
    producer = Producer(redis_server.url)
    with running_workers(project, redis_server.url) as (worker,):
        not_json = producer.redis.xadd(QUEUE, {"value": "{not json"}).decode()
        no_value = producer.redis.xadd(QUEUE, {"other": "x"}).decode()
        producer.submit({"id": "bad-id-type", "input": [1]})
        producer.submit({"id": "invalid", "input": {"sleep": "long"}})
        producer.submit({"id": 7, "input": {}})
        producer.submit({"id": "after", "input": {"tag": "after"}})
        assert "not JSON" in producer.wait(not_json)["error"]
        assert "`value`" in producer.wait(no_value)["error"]
        invalid = producer.wait("invalid")
        assert invalid["status"] == "failed"
        assert invalid["error"].startswith("invalid input: sleep:")
        assert producer.wait("bad-id-type")["status"] == "failed"
        # The consumer goes on after all of them.
        assert producer.wait("after")["status"] == "succeeded"
        producer.wait_all_acked()
        assert worker.health()["status"] == "READY"
    assert project.run_counts() == {"after": 1}


def test_hostile_entries_fail_at_once_with_the_reason_http_would_give(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Nesting past any stack, NaN, bytes that are not UTF-8, and a value over the request
    limit: each is answered `failed` on its first delivery (not left to be redelivered until
    it is dead-lettered), and the worker goes on serving."""
    project = make_project(tmp_path)
    producer = Producer(redis_server.url)
    with running_workers(
        project, redis_url=redis_server.url, env={"PYCOG_MAX_REQUEST_BYTES": "100000"}
    ) as (worker,):
        entries = {
            "deep": b'{"input": ' + b"[" * 20_000 + b"]" * 20_000 + b"}",
            "nan": b'{"input": {"tag": NaN}}',
            "latin1": b'{"input": {"tag": "caf\xe9"}}',
            "huge": b'{"input": {"tag": "' + b"x" * 200_000 + b'"}}',
        }
        ids = {
            name: producer.redis.xadd(QUEUE, {"value": value}).decode()
            for name, value in entries.items()
        }
        producer.submit({"id": "after", "input": {"tag": "after"}})
        answers = {name: producer.wait(entry_id) for name, entry_id in ids.items()}
        assert {name: a["status"] for name, a in answers.items()} == dict.fromkeys(
            entries, "failed"
        )
        not_json = "the entry's value is not JSON: input"
        assert answers["deep"]["error"].startswith(f"{not_json}[0][0]")
        assert answers["deep"]["error"].endswith("recursion limit exceeded at line 1 column 137")
        assert answers["nan"]["error"] == f"{not_json}.tag: expected value at line 1 column 19"
        assert answers["latin1"]["error"] == (
            f"{not_json}.tag: invalid unicode code point at line 1 column 24"
        )
        assert "over the limit of 100000" in answers["huge"]["error"]
        assert producer.wait("after")["status"] == "succeeded"
        producer.wait_all_acked()
        assert worker.health()["status"] == "READY"
    assert project.run_counts() == {"after": 1}


def test_an_id_already_answered_is_acked_without_running(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    project = make_project(tmp_path)
    producer = Producer(redis_server.url)
    done = {"id": "old", "status": "succeeded", "output": "earlier"}
    producer.redis.set(f"{QUEUE}:response:old", json.dumps(done))
    with running_workers(project, redis_server.url):
        producer.submit({"id": "old", "input": {"tag": "old"}})
        producer.submit({"id": "new", "input": {"tag": "new"}})
        producer.wait("new")
        producer.wait_all_acked()
    assert producer.response("old") == done
    assert project.run_counts() == {"new": 1}


@pytest.mark.parametrize("by", ["queue key", "cancel_key"])
def test_a_cancel_key_cancels_within_a_second(
    redis_server: RedisServer, tmp_path: Path, by: str
) -> None:
    project = make_project(tmp_path)
    producer = Producer(redis_server.url)
    request = {"id": "long", "input": {"tag": "long", "sleep": 30}}
    key = f"{QUEUE}:cancel:long"
    if by == "cancel_key":
        key = "my-own-cancel-key"
        request["cancel_key"] = key
    with running_workers(project, redis_server.url):
        producer.submit(request)
        producer.wait("long", ("processing",))
        producer.redis.set(key, "1")
        asked = time.monotonic()
        response = producer.wait("long", timeout=20)
        # Bounded, not timed: the key is polled every 0.25 s (about 0.3 s end to end here); the
        # bound leaves room for a loaded machine and is still far below the model's 30 s.
        assert time.monotonic() - asked < 5.0
        assert response["status"] == "canceled"
        producer.wait_all_acked()
    assert project.run_counts() == {}


def test_flags_without_their_pair_are_refused(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "cog.server.http", "--queue", QUEUE],
        cwd=project.directory,
        capture_output=True,
        text=True,
        timeout=30,
        env={k: v for k, v in os.environ.items() if k not in ("COG_REDIS_URL", "COG_QUEUE")},
    )
    assert done.returncode == 1
    assert "--redis-url" in done.stderr


def test_webhooks_and_response_queue_are_served_for_queued_requests(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    project = make_project(tmp_path)
    producer = Producer(redis_server.url)
    with Receiver() as receiver, running_workers(project, redis_server.url):
        producer.submit(
            {
                "id": "hooked",
                "input": {"tag": "hooked", "token": "s3cret"},
                "webhook": f"{receiver.url}/hook",
                "webhook_events_filter": ["completed"],
                "response_queue": "legacy-responses:hooked",  # Cog's former worker's key
            }
        )
        response = producer.wait("hooked")
        deadline = time.monotonic() + 10
        while not receiver.webhooks and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [hook["status"] for hook in receiver.webhooks] == ["succeeded"]
        assert receiver.webhooks[0]["input"]["token"] == "**********"
        legacy = producer.redis.get("legacy-responses:hooked")
        assert legacy is not None and json.loads(legacy) == response


def test_many_logs_are_written_coalesced_and_the_end_in_full(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    project = make_project(tmp_path)
    producer = Producer(redis_server.url)
    subscriber = producer.redis.pubsub()
    subscriber.subscribe(f"{QUEUE}:response:chatty")
    with running_workers(project, redis_server.url):
        # A line every 5 ms for a second or more: unthrottled, a write each.
        producer.submit({"id": "chatty", "input": {"logs": 200, "log_gap": 0.005}})
        response = producer.wait("chatty")
        assert response["logs"].count("\n") == 200
    published = []
    while (message := subscriber.get_message(timeout=1)) is not None:
        if message["type"] == "message":
            published.append(json.loads(message["data"]))
    assert published[-1] == response
    assert len(published) < 60  # at most one write per 0.1 s, and the end
    assert [state["status"] for state in published].count("succeeded") == 1


def test_acked_entries_leave_the_stream(redis_server: RedisServer, tmp_path: Path) -> None:
    project = make_project(tmp_path)
    producer = Producer(redis_server.url)
    with running_workers(project, redis_server.url):
        for n in range(5):
            producer.submit({"id": f"e{n}", "input": {}})
        for n in range(5):
            producer.wait(f"e{n}")
        producer.wait_all_acked()
    assert producer.redis.xlen(QUEUE) == 0
