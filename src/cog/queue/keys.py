"""The names a queue uses on Redis (the wire format producers and clients rely on).

- `NAME`: the stream of requests; each entry has one field, `value`, a Cog PredictionRequest
  as JSON.
- `NAME:response:ID`: the prediction's latest PredictionResponse JSON (a string key with a
  TTL); every write is also PUBLISHed on the channel of the same name.
- `NAME:cancel:ID`: the prediction is canceled once this key exists (or the request's own
  `cancel_key`).
- `NAME:dead`: the stream of dead-lettered entries (`id`, `reason`, `deliveries`, `value`).
"""

from __future__ import annotations


def response_key(queue: str, prediction_id: str) -> str:
    return f"{queue}:response:{prediction_id}"


def cancel_key(queue: str, prediction_id: str) -> str:
    return f"{queue}:cancel:{prediction_id}"


def dead_letter_stream(queue: str) -> str:
    return f"{queue}:dead"
