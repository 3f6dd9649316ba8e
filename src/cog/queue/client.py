"""A producer's side of a queue of pycog workers: submit, read, wait for and cancel predictions.

The wire is Redis and nothing else (the workers are `python -m cog.server.http --redis-url URL
--queue NAME`):

- a request is an entry of the stream `NAME` with one field, `value`: the JSON of a Cog
  `PredictionRequest` (`id`, `input`, `webhook`, `webhook_events_filter`, `context`);
- every state change of a queued prediction is its whole `PredictionResponse` JSON, stored at
  the key `NAME:response:ID` (with a TTL) and published on the channel of the same name;
- the key `NAME:cancel:ID` existing cancels the prediction.

    from cog.queue import QueueClient

    with QueueClient("redis://localhost:6379/0", "my-model") as queue:
        prediction_id = queue.submit({"prompt": "hi"})
        response = queue.wait(prediction_id, timeout=60)
        print(response["status"], response["output"])
"""

from __future__ import annotations

import json
import os
import time
import urllib.parse
import uuid
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, cast

import redis
from redis.client import PubSub

from ..data_url import encode_file
from ..errors import CogError
from . import keys

# The statuses after which a prediction changes no more (cog.server.prediction.Status, not
# imported: a producer needs no part of the server).
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "canceled"})
EVENTS = ("start", "output", "logs", "completed")
DEFAULT_CANCEL_TTL = 24 * 60 * 60  # as long as a worker keeps responses: a day
# How long `wait` pauses before it tries a Redis that went away again.
RECONNECT_PAUSE = 0.5


class QueueError(CogError):
    """Raised by the queue client; the message says what to do."""


class QueueUnavailable(QueueError):
    """Raised when Redis cannot be reached."""


class QueueTimeout(QueueError):
    """Raised by `QueueClient.wait` when no terminal response came in time."""


class BadResponse(QueueError):
    """Raised when what is stored at a response key is not a prediction response."""


class QueueClient:
    """Submits predictions to the Redis stream `queue` and reads their responses.

    One client holds a pool of connections and can be shared by threads. `wait` takes its own
    connection for as long as it waits.
    """

    def __init__(self, redis_url: str, queue: str, *, cancel_ttl: int = DEFAULT_CANCEL_TTL) -> None:
        if not queue:
            raise QueueError("the queue needs a name: QueueClient(redis_url, 'my-model')")
        self.queue = queue
        self.cancel_ttl = cancel_ttl
        self._where = _without_credentials(redis_url)
        try:
            self._redis: redis.Redis = redis.Redis.from_url(redis_url)
        except ValueError as exc:
            raise QueueError(
                f"{self._where} is not a Redis URL ({exc}): "
                "write redis://HOST:PORT/DB (rediss:// for TLS)"
            ) from None

    def __enter__(self) -> QueueClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._redis.close()

    def response_key(self, prediction_id: str) -> str:
        """The key (and channel) of a prediction's responses."""
        return keys.response_key(self.queue, prediction_id)

    def cancel_key(self, prediction_id: str) -> str:
        return keys.cancel_key(self.queue, prediction_id)

    def submit(
        self,
        input: Mapping[str, Any],
        webhook: str | None = None,
        id: str | None = None,
        *,
        context: Mapping[str, str] | None = None,
        webhook_events_filter: Iterable[str] | None = None,
    ) -> str:
        """Add a prediction to the queue; its id (a new one unless `id` is given).

        Input values are JSON; local files (`pathlib.Path`, `cog.Path`) are sent as data URLs,
        so keep them small (a stream entry lives in Redis's memory) and send big ones as URLs.
        """
        prediction_id = uuid.uuid4().hex if id is None else id
        request: dict[str, Any] = {
            "id": prediction_id,
            "input": dict(input),
            "webhook": webhook,
            "context": dict(context or {}),
        }
        if webhook_events_filter is not None:
            request["webhook_events_filter"] = _known_events(webhook_events_filter)
        try:
            value = json.dumps(request, default=_file_as_data_url)
        except TypeError as exc:
            raise QueueError(
                f"the input cannot be sent as JSON ({exc}): pass strings, numbers, lists, "
                "objects, files as paths or URLs"
            ) from None
        self._call(self._redis.xadd, self.queue, {"value": value})
        return prediction_id

    def get(self, prediction_id: str) -> dict[str, Any] | None:
        """The prediction's latest response, or None when there is none (not yet taken by a
        worker, unknown, or expired)."""
        stored = self._call(self._get, self.response_key(prediction_id))
        return None if stored is None else self._parse(prediction_id, stored)

    def wait(self, prediction_id: str, timeout: float | None = None) -> dict[str, Any]:
        """The prediction's terminal response (succeeded, failed or canceled), waiting for it
        at most `timeout` seconds (None: as long as it takes).

        The client subscribes to the response channel before it reads the key, so a response
        written in between is not missed; when Redis goes away it retries until the deadline,
        reading the key again once back.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                response = self._listen(prediction_id, deadline)
            except redis.ConnectionError:
                if _remaining(deadline) <= RECONNECT_PAUSE:
                    raise QueueTimeout(self._timeout_message(prediction_id, timeout)) from None
                time.sleep(RECONNECT_PAUSE)
                continue
            if response is None:
                raise QueueTimeout(self._timeout_message(prediction_id, timeout))
            return response

    def cancel(self, prediction_id: str) -> None:
        """Ask the worker running the prediction (or the one that will take it) to cancel it.
        Its terminal response says `canceled`, unless it ended first."""
        self._call(self._redis.set, self.cancel_key(prediction_id), b"1", ex=self.cancel_ttl)

    def _listen(self, prediction_id: str, deadline: float | None) -> dict[str, Any] | None:
        """The terminal response, read from the key or its channel; None at the deadline."""
        channel = self.response_key(prediction_id)
        stored = self._get(channel)  # one that has ended already needs no subscription
        if stored is not None and _terminal(response := self._parse(prediction_id, stored)):
            return response
        with PubSub(self._redis.connection_pool) as pubsub:
            pubsub.subscribe(channel)  # type: ignore[no-untyped-call]  # untyped in redis-py
            while (remaining := _remaining(deadline)) > 0:
                message = pubsub.get_message(timeout=min(remaining, 1.0))
                if message is None:
                    continue
                if message["type"] == "subscribe":
                    # Subscribed (again, after redis-py reconnected): whatever was written
                    # before now is in the key, whatever comes after will be published.
                    stored = self._get(channel)
                elif message["type"] == "message":
                    stored = message["data"]
                else:
                    continue
                if stored is not None and _terminal(response := self._parse(prediction_id, stored)):
                    return response
        return None

    def _get(self, key: str) -> bytes | None:
        return cast("bytes | None", self._redis.get(key))

    def _parse(self, prediction_id: str, stored: bytes) -> dict[str, Any]:
        try:
            response = json.loads(stored)
        except ValueError:
            response = None
        if not isinstance(response, dict):
            raise BadResponse(
                f"{self.response_key(prediction_id)} in {self._where} holds {stored[:80]!r}, "
                "not a prediction response: is something other than pycog workers writing "
                "this queue's keys?"
            )
        return response

    def _timeout_message(self, prediction_id: str, timeout: float | None) -> str:
        try:
            latest = self.get(prediction_id)
            state = (
                "no worker has taken it yet"
                if latest is None
                else f"it is still {latest.get('status', 'in an unknown state')}"
            )
        except QueueUnavailable:
            state = "Redis cannot be reached"
        return (
            f"prediction {prediction_id} on queue {self.queue!r} ({self._where}) did not end "
            f"within {timeout} s: {state}. Wait longer, check that workers consume the queue "
            f"(python -m cog.server.http --redis-url URL --queue {self.queue}), or cancel it"
        )

    def _call(self, command: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except redis.ConnectionError as exc:
            raise QueueUnavailable(
                f"cannot reach Redis at {self._where} ({exc}): check the URL and that the "
                "server is running"
            ) from None


def _terminal(response: dict[str, Any]) -> bool:
    return response.get("status") in TERMINAL_STATUSES


def _remaining(deadline: float | None) -> float:
    return float("inf") if deadline is None else deadline - time.monotonic()


def _known_events(events: Iterable[str]) -> list[str]:
    chosen = list(events)
    unknown = [event for event in chosen if event not in EVENTS]
    if unknown:
        raise QueueError(f"unknown webhook events {unknown}: choose among {', '.join(EVENTS)}")
    return chosen


def _file_as_data_url(value: object) -> str:
    if isinstance(value, os.PathLike):
        return encode_file(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _without_credentials(url: str) -> str:
    """The URL as it may be shown: without its user and password."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=f"***@{host}"))
