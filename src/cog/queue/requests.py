"""What a stream entry asks for: its one field `value`, a Cog PredictionRequest as JSON
(`id`, `input`, `webhook`, `webhook_events_filter`, `context`, and optionally `cancel_key` and
`response_queue`), the format of Cog's former queue worker. Its `response_queue`, a key name,
gets each response too (as `NAME:response:ID` does), so producers written for that worker work.

An entry without `id` is given its stream entry id as its prediction id: the producer knows it
(XADD answers it), and a redelivered entry keeps its id, so it is never run twice after success.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..server import envelope_errors
from ..server.errors import BadRequest
from ..server.prediction import Status, now
from ..server.predictions import Envelope
from ..server.requests import decode_json


@dataclass(frozen=True)
class QueuedRequest:
    """A readable entry: the prediction it asks for."""

    entry_id: str
    prediction_id: str
    envelope: Envelope
    cancel_key: str | None
    """The key whose existence cancels it, when the request names its own."""
    response_queue: str | None = None
    """One more key its responses are written to, when the request names one."""


@dataclass(frozen=True)
class Unreadable:
    """An entry that asks for nothing that can run: it is answered `failed` with `error`."""

    entry_id: str
    prediction_id: str
    error: str

    def response(self) -> dict[str, Any]:
        """The failed PredictionResponse that answers it."""
        at = now()
        return {
            "id": self.prediction_id,
            "input": None,  # not shown: unchecked, it may hold secrets the schema would mask
            "status": Status.FAILED.value,
            "created_at": at,
            "started_at": None,
            "completed_at": at,
            "logs": "",
            "metrics": {},
            "error": self.error,
        }


def read_entry(
    entry_id: str, fields: dict[bytes, bytes] | None, limit: int
) -> QueuedRequest | Unreadable:
    """The request of an entry whose `value` holds at most `limit` bytes (the limit on HTTP
    request bodies), read by the same strict parser as an HTTP body."""
    if fields is None:  # XAUTOCLAIM of an entry deleted since
        return Unreadable(entry_id, entry_id, "the stream entry was deleted before it ran")
    raw = fields.get(b"value")
    if raw is None:
        return Unreadable(
            entry_id, entry_id, "the stream entry has no `value` field (a PredictionRequest JSON)"
        )
    if len(raw) > limit:
        error = (
            f"the entry's value is {len(raw)} bytes, over the limit of {limit} "
            "(PYCOG_MAX_REQUEST_BYTES): send large files as URLs"
        )
        return Unreadable(entry_id, entry_id, error)
    try:
        data = decode_json(raw)
    except BadRequest as bad:
        error = f"the entry's value is not JSON: {bad.text.removeprefix(envelope_errors.PARSE)}"
        return Unreadable(entry_id, entry_id, error)
    if not isinstance(data, dict):
        return Unreadable(
            entry_id, entry_id, "the entry's value must be a JSON object (a PredictionRequest)"
        )
    given_id = data.get("id")
    prediction_id = given_id if isinstance(given_id, str) and given_id else entry_id
    misfit = envelope_errors.envelope_misfit(data)
    if misfit is not None:
        error = envelope_errors.describe(raw.decode("utf-8"), misfit)
        return Unreadable(entry_id, prediction_id, error)
    cancel_key = data.get("cancel_key")
    if cancel_key is not None and (not isinstance(cancel_key, str) or not cancel_key):
        error = "`cancel_key` must be a non-empty string (the key whose existence cancels it)"
        return Unreadable(entry_id, prediction_id, error)
    response_queue = data.get("response_queue")
    if response_queue is not None and (not isinstance(response_queue, str) or not response_queue):
        error = "`response_queue` must be a non-empty string (a key to write responses to)"
        return Unreadable(entry_id, prediction_id, error)
    envelope = Envelope.of_request(data, prediction_id)
    return QueuedRequest(entry_id, prediction_id, envelope, cancel_key, response_queue)
