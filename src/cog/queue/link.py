"""The worker's connection to Redis: one client (a pool of connections), whether it answers,
and retrying with backoff while it does not.

Every Redis call of the worker goes through `retry`, so a Redis that goes away (restarted,
failed over) only delays the work: the calls wait and are made again once it answers, the
health check says `connected: false` meanwhile, and predictions in flight go on running.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger("cog.queue")
T = TypeVar("T")

LOST = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)
"""What a Redis that does not answer raises (redis-py's errors, and the socket's)."""
FIRST_BACKOFF = 0.05
MAX_BACKOFF = 2.0
SOCKET_TIMEOUT = 10.0
"""Longer than any blocking read the worker makes (see consumer.READ_BLOCK_MS)."""


class Link:
    def __init__(self, url: str) -> None:
        self.url = _shown(url)
        """The URL as logs show it (without its password)."""
        pool = aioredis.ConnectionPool.from_url(
            url,
            socket_connect_timeout=2.0,
            socket_timeout=SOCKET_TIMEOUT,
            health_check_interval=15,
        )
        # No retries of redis-py's own: `retry` is the one place that retries, so that the
        # health check knows when Redis is away.
        self.redis = aioredis.Redis(connection_pool=pool, retry=Retry(NoBackoff(), 0))
        self.connected = False
        self.last_error: str | None = None
        self.closing = False

    async def retry(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """`call()`'s result, calling it again (with backoff) for as long as Redis does not
        answer. Errors Redis answers with (a wrong command, a wrong type) are raised."""
        backoff = FIRST_BACKOFF
        while True:
            try:
                result = await call()
            except LOST as exc:
                self.lost(what, exc)
                if self.closing:
                    raise
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            self.answered()
            return result

    def lost(self, what: str, exc: BaseException) -> None:
        error = f"{type(exc).__name__}: {exc}"
        if self.connected or self.last_error is None:
            log.warning("lost Redis at %s (%s): %s; retrying", self.url, what, error)
        self.connected = False
        self.last_error = error

    def answered(self) -> None:
        if not self.connected and self.last_error is not None:
            log.info("Redis at %s answers again", self.url)
        self.connected = True

    async def close(self) -> None:
        self.closing = True
        await self.redis.aclose()


def _shown(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:" if parts.username else ":"
    host = parts.netloc.rsplit("@", 1)[-1]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}***@{host}"))
