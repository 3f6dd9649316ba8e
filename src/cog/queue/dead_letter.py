"""Entries that keep failing: one delivered more than `--queue-max-deliveries` times (its
worker died each time, presumably because of it) is not run again but added to the stream
`NAME:dead` with the reason, its delivery count and its original value, for a person to look
at; its response says `failed`, with an error saying so."""

from __future__ import annotations

from .keys import dead_letter_stream
from .link import Link


def reason_for(deliveries: int, max_deliveries: int) -> str:
    return (
        f"the entry was delivered {deliveries} times (--queue-max-deliveries {max_deliveries}) "
        "and its worker stopped each time before answering it: it was moved to the dead-letter "
        "stream, not run again"
    )


async def dead_letter(
    link: Link, queue: str, entry_id: str, value: bytes | None, reason: str, deliveries: int
) -> None:
    stream = dead_letter_stream(queue)
    fields: dict[str | bytes, str | bytes | int] = {
        "id": entry_id,
        "reason": reason,
        "deliveries": deliveries,
        "value": value if value is not None else b"",
    }
    await link.retry(f"adding {entry_id} to {stream}", lambda: link.redis.xadd(stream, fields))  # type: ignore[arg-type]
