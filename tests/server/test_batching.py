"""`@cog.batch` through a real server: clients send one request each, the model sees batches
(it records each call's prompts in batches.jsonl), each request gets its own result."""

from __future__ import annotations

import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..cli.conftest import cog_executable
from .receiver import Receiver

WAIT = 30.0  # a bound on a hang, not a measurement
TERMINAL = ("succeeded", "failed", "canceled")


def _batches(project: Path) -> list[list[str]]:
    log = project / "batches.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def _until(condition, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


def _put(server, prediction_id: str, **inputs) -> dict:  # type: ignore[no-untyped-def]
    with server.client() as client:
        response = client.put(f"/predictions/{prediction_id}", json={"input": inputs})
    assert response.status_code == 200, response.text
    return response.json()


def test_sixteen_concurrent_requests_are_served_in_batches_each_with_its_own_result(serve):
    with serve("batched") as server, ThreadPoolExecutor(16) as pool:
        prompts = [f"bad-{i}" if i == 3 else f"p{i}" for i in range(16)]
        bodies = list(pool.map(lambda i: _put(server, f"r{i}", prompt=prompts[i]), range(16)))
        batches = _batches(server.project)
    assert max(len(batch) for batch in batches) > 1
    assert sorted(p for batch in batches for p in batch) == sorted(prompts)  # each once
    for i, body in enumerate(bodies):
        assert body["id"] == f"r{i}" and body["input"] == {"prompt": prompts[i]}
        size = next(len(b) for b in batches if prompts[i] in b)
        assert body["metrics"]["batch_size"] == size
        assert body["metrics"]["calls"] == 1  # a metric recorded in the call, on each
        assert body["logs"] == f"batch of {size}\n"  # the call's output, on each
        assert body["metrics"]["predict_time"] > 0
        if i == 3:
            assert body["status"] == "failed" and body["error"] == "bad item bad-3"
        else:
            assert body["status"] == "succeeded" and body["output"] == prompts[i].upper()


def test_a_raise_fails_every_request_of_its_batch(serve):
    with serve("batched") as server, ThreadPoolExecutor(4) as pool:
        prompts = ["a", "raise", "b", "c"]
        bodies = dict(zip(prompts, pool.map(lambda p: _put(server, p, prompt=p), prompts)))
        failed_batch = next(b for b in _batches(server.project) if "raise" in b)
    for prompt, body in bodies.items():
        if prompt in failed_batch:
            assert body["status"] == "failed" and body["error"] == "the whole batch failed"
        else:
            assert body["status"] == "succeeded"


def test_cancel_during_the_call_drops_a_request_and_before_it_one_never_runs(serve):
    with serve("batched") as server, ThreadPoolExecutor(4) as pool, server.client() as client:
        running = {i: pool.submit(_put, server, i, prompt=i, sleep=1.5) for i in ("one", "two")}
        first = _until(lambda: _batches(server.project), "a batch ran")[0]
        # The call holds the only slot: this one waits for the next batch.
        late = pool.submit(_put, server, "late", prompt="late")
        # A cancel of an id the server does not hold (yet) is a 404.
        _until(lambda: client.post("/predictions/late/cancel").status_code == 200, "late held")
        assert late.result(WAIT)["status"] == "canceled"
        assert client.post(f"/predictions/{first[0]}/cancel").status_code == 200
        canceled = running[first[0]].result(WAIT)
        others = [f.result(WAIT) for name, f in running.items() if name != first[0]]
        after = _put(server, "after", prompt="after")
        batches = _batches(server.project)
    assert canceled["status"] == "canceled"
    assert all(body["status"] == "succeeded" for body in others)
    assert after["output"] == "AFTER"
    assert not any("late" in batch for batch in batches)  # it left before any call


def test_capacity_is_max_size_requests_per_slot(serve):
    with serve("batched") as server, ThreadPoolExecutor(16) as pool:
        held = [pool.submit(_put, server, f"h{i}", prompt=f"h{i}", sleep=1.0) for i in range(16)]
        _until(lambda: server.health()["status"] == "BUSY", "16 requests in flight")
        with server.client() as client:
            refused = client.post("/predictions", json={"input": {"prompt": "one too many"}})
        assert refused.status_code == 409
        assert all(f.result(WAIT)["status"] == "succeeded" for f in held)


def test_an_async_batched_model_serves_batches_on_two_slots(serve):
    with serve("batched_async") as server, ThreadPoolExecutor(8) as pool:
        prompts = [f"q{i}x" for i in range(8)]
        bodies = list(pool.map(lambda i: _put(server, f"a{i}", prompt=prompts[i]), range(8)))
        batches = _batches(server.project)
        health = server.health()
    assert max(len(batch) for batch in batches) > 1
    assert [body["output"] for body in bodies] == [p[::-1] for p in prompts]
    assert health["status"] == "READY"


def test_the_served_schema_is_per_item_and_equals_the_static_reading(serve):
    with serve("batched") as server, server.client() as client:
        served = client.get("/openapi.json").json()
    static = subprocess.run(
        [cog_executable(), "schema", "--static"],
        cwd=server.project,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(static.stdout) == served
    properties = served["components"]["schemas"]["Input"]["properties"]
    assert properties["prompt"]["type"] == "string"
    assert properties["sleep"] == {
        "default": 0.0,
        "description": "Seconds to hold the call",
        "title": "Sleep",
        "type": "number",
        "x-order": 1,
    }
    assert served["components"]["schemas"]["Output"] == {"title": "Output", "type": "string"}


def test_each_request_of_a_batch_gets_its_own_webhooks(serve):
    with Receiver() as receiver, serve("batched") as server, server.client() as client:
        prompts = ["w1", "bad-w2", "w3"]
        for prompt in prompts:
            body = {"id": prompt, "input": {"prompt": prompt}, "webhook": receiver.url}
            accepted = client.post("/predictions", json=body, headers={"Prefer": "respond-async"})
            assert accepted.status_code == 202
        _until(lambda: sum(w["status"] in TERMINAL for w in receiver.webhooks) == 3, "3 ends")
        batches = _batches(server.project)
    for prompt in prompts:
        mine = [w for w in receiver.webhooks if w["id"] == prompt]
        assert [w["status"] for w in mine if w["status"] in TERMINAL] == [mine[-1]["status"]]
        last = mine[-1]
        assert last["input"] == {"prompt": prompt}
        size = next(len(b) for b in batches if prompt in b)
        assert last["metrics"]["batch_size"] == size and last["logs"] == f"batch of {size}\n"
        if prompt.startswith("bad"):
            assert last["status"] == "failed" and last["error"] == f"bad item {prompt}"
        else:
            assert last["status"] == "succeeded" and last["output"] == prompt.upper()
