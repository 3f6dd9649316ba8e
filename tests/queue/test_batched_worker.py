"""A batched model (`@cog.batch`) behind the queue: clients submit one item each, the worker
gathers what the stream holds into batches, each request gets its own response; `/metrics` of
the worker counts each of them."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from cog.queue import QueueClient

from ..server.conftest import run_server
from ..server.scrape import ended, scrape
from .conftest import RedisServer

QUEUE = "batched"


def test_queued_requests_run_in_batches_and_each_gets_its_own_response(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    prompts = [f"p{n}" for n in range(12)] + ["bad-one"]
    with QueueClient(redis_server.url, QUEUE) as client:
        # On the stream before the worker starts: it reads them together, as free slots allow.
        ids = {prompt: client.submit({"prompt": prompt}) for prompt in prompts}
        args = ("--redis-url", redis_server.url, "--queue", QUEUE)
        with run_server("batched", tmp_path, args=args) as server:
            responses = {prompt: client.wait(ids[prompt], timeout=60) for prompt in prompts}
            with httpx.Client(base_url=server.url, timeout=10) as http:
                samples = scrape(http)
            batches = [
                json.loads(line)
                for line in (server.project / "batches.jsonl").read_text().splitlines()
            ]

    for prompt in prompts[:-1]:
        response = responses[prompt]
        assert (response["id"], response["status"]) == (ids[prompt], "succeeded")
        assert response["output"] == prompt.upper()
        assert response["input"]["prompt"] == prompt  # per item, as the schema shows it
    bad = responses["bad-one"]
    assert bad["status"] == "failed"
    assert "bad item bad-one" in bad["error"]

    assert sorted(p for batch in batches for p in batch) == sorted(prompts)  # each ran once
    assert max(len(batch) for batch in batches) > 1, batches
    sizes = {response["metrics"]["batch_size"] for response in responses.values()}
    assert max(sizes) > 1
    assert ended(samples, "succeeded") == len(prompts) - 1
    assert ended(samples, "failed") == 1
