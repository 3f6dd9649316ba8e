"""Queue mode: the KEDA ScaledObject that sizes the Deployment on the Redis stream's work.

Two `redis-streams` triggers on the consumer group: its pending entries (delivered, not yet
acknowledged: the predictions running) and its lag (entries no worker has read yet). Pending
entries alone could never wake a Deployment scaled to zero, since nothing is delivered without
a consumer; the lag trigger does (KEDA counts the stream's length while the group does not exist
yet). KEDA scales to the larger of the two. Lag needs Redis 7 or later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from .errors import ManifestError

PASSWORD_ENV = "KEDA_REDIS_PASSWORD"
"""The container variable KEDA reads the Redis password from (`passwordFromEnv`): pycog itself
reads the password from COG_REDIS_URL."""
USERNAME_ENV = "KEDA_REDIS_USERNAME"


@dataclass(frozen=True)
class RedisTarget:
    """What KEDA needs of a `redis://` URL, which it does not take whole."""

    address: str
    database: int
    tls: bool
    username: str | None
    password: str | None


def parse_redis_url(url: str) -> RedisTarget:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ManifestError(
            f"--redis-url {url!r} is not a Redis URL: write redis://HOST:PORT/DB "
            "(rediss:// for TLS)"
        )
    try:
        port = parts.port or 6379
        database = int(parts.path.strip("/") or "0")
    except ValueError:
        raise ManifestError(
            f"--redis-url {url!r}: the port and the database must be numbers (redis://HOST:PORT/DB)"
        ) from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return RedisTarget(
        address=f"{host}:{port}",
        database=database,
        tls=parts.scheme == "rediss",
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def scaled_object(
    *,
    name: str,
    labels: dict[str, str],
    queue: str,
    group: str,
    redis: RedisTarget,
    min_replicas: int,
    max_replicas: int,
    entries_per_replica: int,
) -> dict[str, Any]:
    connection = {"address": redis.address, "stream": queue, "consumerGroup": group}
    if redis.database:
        connection["databaseIndex"] = str(redis.database)
    if redis.tls:
        connection["enableTLS"] = "true"
    if redis.username:
        connection["usernameFromEnv"] = USERNAME_ENV
    if redis.password:
        connection["passwordFromEnv"] = PASSWORD_ENV
    per_replica = str(entries_per_replica)
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicaCount": min_replicas,
            "maxReplicaCount": max_replicas,
            "triggers": [
                {
                    "type": "redis-streams",
                    "name": "running",
                    "metadata": {**connection, "pendingEntriesCount": per_replica},
                },
                {
                    "type": "redis-streams",
                    "name": "waiting",
                    "metadata": {**connection, "lagCount": per_replica},
                },
            ],
        },
    }
