"""The Redis the queue tests run on is a real server that keeps its streams across a restart."""

from __future__ import annotations

import redis

from .conftest import RedisServer


def test_a_stream_survives_a_restart(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    client.xadd("q", {"value": "{}"})
    redis_server.restart()
    client = redis.Redis.from_url(redis_server.url)
    assert client.xlen("q") == 1
