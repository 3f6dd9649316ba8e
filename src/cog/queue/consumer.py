"""One worker's place in the stream's consumer group: reading new entries, taking over those of
dead workers, keeping its claims alive, and acknowledging.

- The group is created (with the stream, MKSTREAM) if missing, from the stream's start, so that
  work added before the first worker came is done; a group that exists (BUSYGROUP) is used.
- `read` takes at most as many new entries as the worker has free slots.
- `reclaim` takes over entries idle for `claim_after` (XAUTOCLAIM), whoever held them, with
  their delivery count (XPENDING): a worker that died holding entries loses them that long
  after its last sign of life.
- `keep_alive` resets the idle time of the entries this worker runs (XCLAIM JUSTID to itself,
  which does not count as a delivery), every `keepalive_every` seconds, so a live worker's
  long predictions are never taken over. (XCLAIM has no "only if still mine": were an entry
  taken over all the same, the next keepalive would take it back; hence the wide margin.)
- `ack` acknowledges and deletes the entry: the stream is the work not done yet.
- `hand_back` makes entries this worker cannot run (its model crashed) look idle for longer
  than `claim_after` at once, so another worker takes them over at its next look.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError

from .link import Link
from .settings import QueueSettings

READ_BLOCK_MS = 1000
"""A read waits this long for new entries at most (the reading loop then looks around)."""


@dataclass(frozen=True)
class Delivery:
    entry_id: str
    fields: dict[bytes, bytes] | None
    """None for an entry deleted from the stream since it was delivered."""
    deliveries: int = 1


class Consumer:
    def __init__(self, link: Link, settings: QueueSettings) -> None:
        self.link = link
        self.settings = settings
        self.stream = settings.name
        self.group = settings.group
        self.name = settings.consumer
        self._cursor = "0-0"

    async def join(self) -> None:
        """Create the consumer group if it does not exist."""

        async def create() -> None:
            try:
                await self.link.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

        await self.link.retry(f"joining group {self.group} of {self.stream}", create)

    async def read(self, count: int, block_ms: int = READ_BLOCK_MS) -> list[Delivery]:
        """Up to `count` new entries, waiting up to `block_ms` for the first."""

        async def call() -> Any:
            return await self.link.redis.xreadgroup(
                self.group, self.name, {self.stream: ">"}, count=count, block=block_ms
            )

        try:
            answer = await self.link.retry(f"reading {self.stream}", call)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self.join()  # the stream or group was deleted (or Redis lost its data)
            return []
        found: list[Delivery] = []
        for _, entries in answer or []:
            for entry_id, fields in entries:
                found.append(Delivery(_text(entry_id), fields or None))
        return found

    async def reclaim(self, count: int) -> list[Delivery]:
        """Up to `count` entries idle for longer than `claim_after`, now this consumer's."""
        min_idle = int(self.settings.claim_after * 1000)

        async def call() -> Any:
            return await self.link.redis.xautoclaim(
                self.stream, self.group, self.name, min_idle, self._cursor, count=count
            )

        try:
            answer = await self.link.retry(f"claiming idle entries of {self.stream}", call)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self.join()
            return []
        cursor, entries = answer[0], answer[1]
        self._cursor = _text(cursor)  # "0-0" once the scan went round the whole list
        claimed = [(_text(entry_id), fields) for entry_id, fields in entries]
        if not claimed:
            return []
        counts = await self.delivery_counts([entry_id for entry_id, _ in claimed])
        return [
            Delivery(entry_id, fields or None, counts.get(entry_id, 1))
            for entry_id, fields in claimed
        ]

    async def delivery_counts(self, entry_ids: list[str]) -> dict[str, int]:
        async def call() -> Any:
            pipe = self.link.redis.pipeline(transaction=False)
            for entry_id in entry_ids:
                pipe.xpending_range(self.stream, self.group, entry_id, entry_id, 1)
            return await pipe.execute()

        answers = await self.link.retry("counting deliveries", call)
        counts: dict[str, int] = {}
        for rows in answers:
            for row in rows:
                counts[_text(row["message_id"])] = int(row["times_delivered"])
        return counts

    async def keep_alive(self, entry_ids: list[str]) -> None:
        ids: list[Any] = list(entry_ids)
        await self.link.redis.xclaim(self.stream, self.group, self.name, 0, ids, justid=True)

    async def hand_back(self, entry_ids: list[str]) -> None:
        idle = int(self.settings.claim_after * 1000) + 1
        ids: list[Any] = list(entry_ids)

        async def call() -> Any:
            return await self.link.redis.xclaim(
                self.stream, self.group, self.name, 0, ids, idle=idle, justid=True
            )

        await self.link.retry("handing entries back", call)

    async def ack(self, entry_ids: list[str]) -> None:
        """Acknowledge and delete (as Cog's former worker did): the stream holds only the work
        not done yet, and does not grow without bound."""

        async def call() -> Any:
            pipe = self.link.redis.pipeline(transaction=True)
            pipe.xack(self.stream, self.group, *entry_ids)
            pipe.xdel(self.stream, *entry_ids)
            return await pipe.execute()

        await self.link.retry("acknowledging", call)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
