"""What a queue worker reads, and how: resolved once from the command line and environment.

The flags (on `python -m cog.server.http` and `cog serve`):

  --redis-url URL          the Redis server, `redis://HOST:PORT/DB` (env COG_REDIS_URL)
  --queue NAME             the stream predictions are taken from (env COG_QUEUE); both are
                           needed for queue mode, neither gives a plain HTTP server
  --queue-group NAME       the consumer group (default: the queue's name); created if missing
  --queue-consumer NAME    this worker's name in the group (default: HOST-PID)
  --queue-result-ttl S     seconds a response key lives (default 86400, a day)
  --queue-claim-after S    seconds an entry of another consumer may stay idle before this one
                           takes it over (default 30; env COG_QUEUE_CLAIM_AFTER)
  --queue-max-deliveries N deliveries of one entry before it is dead-lettered (default 3)

Imports nothing of redis: the server resolves these settings whether or not it is in queue mode.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from .. import envvars
from ..errors import CogError

DEFAULT_RESULT_TTL = 86400
DEFAULT_CLAIM_AFTER = 30.0
DEFAULT_MAX_DELIVERIES = 3


class QueueSettingsError(CogError):
    """A queue flag or variable that cannot work."""


@dataclass(frozen=True)
class QueueSettings:
    """One worker's place on one queue."""

    redis_url: str
    name: str
    group: str
    consumer: str
    result_ttl: int = DEFAULT_RESULT_TTL
    claim_after: float = DEFAULT_CLAIM_AFTER
    max_deliveries: int = DEFAULT_MAX_DELIVERIES

    @property
    def keepalive_every(self) -> float:
        """How often the claims on running entries are renewed: well below `claim_after`, so
        that a live worker's entries never look abandoned."""
        return max(0.05, min(self.claim_after / 4, 5.0))

    @property
    def reclaim_every(self) -> float:
        """How often entries idle for `claim_after` are looked for."""
        return max(0.1, min(self.claim_after / 2, 10.0))


def resolve_queue_settings(
    *,
    redis_url: str | None = None,
    queue: str | None = None,
    group: str | None = None,
    consumer: str | None = None,
    result_ttl: int | None = None,
    claim_after: float | None = None,
    max_deliveries: int | None = None,
) -> QueueSettings | None:
    """The queue to serve, flags over environment; None when neither names one."""
    redis_url = redis_url or envvars.REDIS_URL.get()
    queue = queue or envvars.QUEUE.get()
    if not redis_url and not queue:
        return None
    if not redis_url or not queue:
        raise QueueSettingsError(
            "queue mode needs both a queue and its Redis server: give --queue NAME and "
            f"--redis-url redis://HOST:PORT/DB (or {envvars.QUEUE.name} and "
            f"{envvars.REDIS_URL.name})"
        )
    if not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise QueueSettingsError(
            f"--redis-url {redis_url!r} is not a Redis URL: write redis://HOST:PORT/DB "
            "(rediss:// for TLS)"
        )
    if claim_after is None:
        claim_after = envvars.QUEUE_CLAIM_AFTER.get_float() or DEFAULT_CLAIM_AFTER
    settings = QueueSettings(
        redis_url=redis_url,
        name=queue,
        group=group or queue,
        consumer=consumer or f"{socket.gethostname()}-{os.getpid()}",
        result_ttl=DEFAULT_RESULT_TTL if result_ttl is None else result_ttl,
        claim_after=claim_after,
        max_deliveries=DEFAULT_MAX_DELIVERIES if max_deliveries is None else max_deliveries,
    )
    _check(settings)
    return settings


def _check(settings: QueueSettings) -> None:
    if settings.result_ttl <= 0:
        raise QueueSettingsError("--queue-result-ttl must be a positive number of seconds")
    if settings.claim_after <= 0:
        raise QueueSettingsError("--queue-claim-after must be a positive number of seconds")
    if settings.max_deliveries < 1:
        raise QueueSettingsError("--queue-max-deliveries must be at least 1")
