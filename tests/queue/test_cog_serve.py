"""`cog serve --redis-url ... --queue ...`: the CLI passes the queue flags to the server it runs
(local runtime), which then answers the stream as well as HTTP."""

from __future__ import annotations

from pathlib import Path

from ..cli.processes import cog_process
from .conftest import RedisServer, free_port
from .workers import QUEUE, Producer, make_project


def test_cog_serve_takes_predictions_from_the_queue(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    project = make_project(tmp_path)
    producer = Producer(redis_server.url)
    producer.submit({"id": "via-cli", "input": {"tag": "via-cli"}})
    port = free_port()
    args = ["serve", "-p", str(port), "--runtime", "local"]
    args += ["--redis-url", redis_server.url, "--queue", QUEUE, "--queue-group", "cli-group"]
    with cog_process(*args, cwd=project.directory) as cli:
        assert cli.read_until("Serving at", timeout=300), cli.stderr
        response = producer.wait("via-cli", timeout=30)
        assert response["output"] == "done via-cli"
        groups = producer.redis.xinfo_groups(QUEUE)
        assert [group["name"] for group in groups] == [b"cli-group"]


def test_cog_serve_refuses_half_a_queue(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    with cog_process("serve", "--queue", QUEUE, "--runtime", "local", cwd=project.directory) as cli:
        status, _, err = cli.finish()
    assert status == 2
    assert "--redis-url" in err
