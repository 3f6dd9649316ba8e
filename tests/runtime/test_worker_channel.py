"""The worker over its socket, spoken to as the server speaks to it."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cog.runtime import events
from cog.runtime.transport import BlockingChannel, encode

ASYNC_SLEEP = Path(__file__).parents[1] / "server" / "fixtures" / "async_sleep"


@pytest.fixture
def worker() -> Iterator[BlockingChannel]:
    parent, child = socket.socketpair()
    process = subprocess.Popen(
        [sys.executable, "-m", "cog.runtime.worker", "--fd", str(child.fileno())]
        + ["--ref", "predict.py:Predictor", "--concurrency", "4"],
        cwd=ASYNC_SLEEP,
        pass_fds=(child.fileno(),),
    )
    child.close()
    parent.settimeout(30)
    channel = BlockingChannel(parent)
    try:
        while not isinstance(channel.receive(), events.Ready):
            pass
        yield channel
    finally:
        parent.sendall(encode(events.Shutdown()))
        process.wait(timeout=10)
        parent.close()


def _dones(channel: BlockingChannel, count: int) -> dict[str, events.Done]:
    dones: dict[str, events.Done] = {}
    while len(dones) < count:
        message = channel.receive()
        assert message is not None
        if isinstance(message, events.Done):
            dones[message.id] = message
    return dones


def test_a_cancel_read_with_its_predict_still_ends_the_prediction(worker):
    # One write: the worker reads both frames at once, before the prediction's task has run.
    worker.sock.sendall(
        encode(events.Predict("slow", {"seconds": 30}))
        + encode(events.Cancel("slow"))
        + encode(events.Predict("quick", {"seconds": 0, "label": "q"}))
    )
    dones = _dones(worker, 2)
    assert dones["slow"].canceled
    assert dones["quick"].final and dones["quick"].output == "slept q"
