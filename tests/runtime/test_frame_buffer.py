"""The frame buffer in process: bytes as they arrive, in any split, give back every message."""

from __future__ import annotations

import logging

import pytest

from cog.runtime import events
from cog.runtime.errors import FrameTooLarge
from cog.runtime.transport import _HEADER, MAX_FRAME, FrameBuffer, FrameProtocol, encode

MESSAGES = [
    events.Log("p1", "stdout", "hello\n"),
    events.Log(None, "stderr", "é ✓ and a long line " * 50),
    events.Log("p2", "stdout", ""),
]


def _stream() -> bytes:
    return b"".join(encode(message) for message in MESSAGES)


@pytest.mark.parametrize("step", [1, 3, 7, 64, 10_000])
def test_any_split_of_the_stream_gives_every_message_once_in_order(step: int) -> None:
    buffer, found = FrameBuffer(), []
    stream = _stream()
    for start in range(0, len(stream), step):
        found += buffer.feed(stream[start : start + step])
    assert found == MESSAGES
    assert buffer.data == bytearray()  # nothing held back once the last frame is complete


def test_a_partial_frame_is_held_until_it_is_complete() -> None:
    buffer = FrameBuffer()
    frame = encode(MESSAGES[0])
    assert buffer.feed(frame[:-1]) == []
    assert buffer.feed(frame[-1:]) == [MESSAGES[0]]


def test_a_frame_longer_than_any_sender_makes_is_refused() -> None:
    with pytest.raises(FrameTooLarge, match="too large"):
        FrameBuffer().feed(_HEADER.pack(MAX_FRAME + 1))


def test_a_message_that_fails_to_be_handled_is_logged_with_its_prediction_and_the_next_delivered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    delivered = []

    def deliver(message: events.Message) -> None:
        if isinstance(message, events.Started | events.HealthcheckResult):
            raise RuntimeError("cannot handle it")
        delivered.append(message)

    channel = FrameProtocol(deliver)
    check = events.HealthcheckResult("check-1", True)
    with caplog.at_level(logging.ERROR, logger="cog.runtime"):
        channel.data_received(encode(events.Started("p9")) + encode(check) + encode(MESSAGES[0]))
    assert delivered == [MESSAGES[0]]
    started, health = caplog.records
    assert started.getMessage() == "handling worker message Started"
    assert getattr(started, "prediction_id", None) == "p9"
    assert not hasattr(health, "prediction_id")  # a health check's id is no prediction's
