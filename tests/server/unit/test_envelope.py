"""Envelope parsing in process: what a body becomes, and the status and words of a refusal."""

from __future__ import annotations

import pytest

from cog.server.errors import BadRequest
from cog.server.predictions import Envelope
from cog.server.requests import parse_envelope

JSON = "application/json"


def test_a_full_envelope_is_read_as_sent() -> None:
    body = (
        b'{"id":"p1","input":{"text":"hi"},"context":{"a":"b"},'
        b'"webhook":"http://127.0.0.1:9/hook","webhook_events_filter":["completed"]}'
    )
    assert parse_envelope(body, JSON) == Envelope(
        id="p1",
        input={"text": "hi"},
        context={"a": "b"},
        webhook="http://127.0.0.1:9/hook",
        webhook_events_filter=["completed"],
    )


def test_no_content_type_means_no_envelope_and_a_null_input_means_none() -> None:
    assert parse_envelope(b"whatever", "") == Envelope()
    assert parse_envelope(b'{"input":null}', JSON).input == {}


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{}", "text/plain", 415),
        (b"{bad json", JSON, 400),
        (b"[" * 100_000 + b"]" * 100_000, JSON, 400),  # nesting deeper than Cog's limit
        (b'{"input": NaN}', JSON, 400),
        (b'{"id": 5}', JSON, 422),
        (b'{"context": {"a": 1.5}}', JSON, 422),
        (b'{"webhook_events_filter": ["bogus"]}', JSON, 422),
        (b'"str"', JSON, 422),
    ],
)
def test_refusals_carry_their_status_and_a_message(
    body: bytes, content_type: str, status: int
) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_envelope(body, content_type)
    assert refused.value.status == status
    assert refused.value.text.strip()
