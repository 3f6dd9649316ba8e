"""Queue workers: the prediction server taking work from a Redis stream as well as over HTTP.

`settings` the flags, `keys` the names on Redis, `requests` what an entry asks for, `responses`
writing a prediction's state back, `cancel` watching cancel keys, `dead_letter` entries that
keep failing, `consumer` reading, claiming and acknowledging, `worker` the whole, started by the
server in queue mode. Only `consumer`, `responses`, `cancel`, `dead_letter` and `worker` import
redis (its asyncio client), and only the server in queue mode imports them.

`client`: `QueueClient`, a producer's side (submit, get, wait, cancel) on redis-py's
synchronous client, imported on first use (`from cog.queue import QueueClient`) so that the
server, which imports `settings` in every mode, does not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import QueueClient as QueueClient


def __getattr__(name: str) -> Any:
    if name == "QueueClient":
        from .client import QueueClient

        return QueueClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
