"""A graceful shutdown (SIGTERM) ends every prediction in flight with one terminal webhook,
delivered (retries included) before the server exits, however the grace runs out."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from .receiver import Receiver
from .test_webhooks import ASYNC, TERMINAL, assert_one_terminal_last, wait_until


@pytest.mark.every_python
@pytest.mark.parametrize("mode", ["async", "sync"])
def test_sigterm_fails_a_prediction_that_outlives_the_grace_and_delivers_its_webhook(serve, mode):
    """1. A 60 s prediction blocked in one C call (a cancel cannot stop it), its receiver
       refusing the terminal webhook twice with 503.
    2. SIGTERM with a 1 s grace: the server exits with status 0, long before the 60 s; a
       sync client gets the failed prediction.
    3. The receiver got exactly one terminal webhook, the last: failed, saying why."""
    refusals = []

    def answer(webhook: dict) -> tuple[int, float]:
        if webhook["status"] in TERMINAL and len(refusals) < 2:
            refusals.append(webhook)
            return 503, 0.0
        return 200, 0.0

    env = {"PYCOG_SHUTDOWN_GRACE": "4"}  # also bounds the terminal webhook's 3rd try
    answers: list[dict] = []
    with Receiver(answer=answer) as receiver, serve("stubborn", env=env) as server:
        with server.client() as client:
            body = {"input": {"seconds": 60}, "webhook": receiver.url}
            if mode == "async":
                assert client.post("/predictions", json=body, headers=ASYNC).status_code == 202
            thread = threading.Thread(
                target=lambda: answers.append(client.post("/predictions", json=body).json())
            )
            if mode == "sync":
                thread.start()
            wait_until(lambda: receiver.webhooks)  # it runs
            started = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            returncode = server.process.wait(timeout=30)
            took = time.monotonic() - started
            if mode == "sync":
                thread.join(timeout=5)
        output = server.process.stdout.read() if server.process.stdout else ""
    assert returncode == 0, output
    assert took < 30
    assert len(refusals) == 2
    assert_one_terminal_last(receiver.webhooks)
    final = receiver.webhooks[-1]
    assert final["status"] == "failed"
    assert "shut down" in final["error"] and "PYCOG_SHUTDOWN_GRACE" in final["error"]
    assert "sleeping in one C call" in final["logs"]
    if mode == "sync":
        assert [answer["status"] for answer in answers] == ["failed"]
        assert answers[0]["error"] == final["error"]


def test_sigterm_cancels_a_prediction_that_stops_and_answers_its_sync_client(serve):
    """1. A sync prediction of 30 s that stops when canceled, with a webhook.
    2. SIGTERM: its client gets the canceled prediction, its receiver one terminal webhook
       saying canceled, and the server exits with status 0."""
    with Receiver() as receiver, serve("slow") as server:
        with server.client() as client:
            body = {"input": {"seconds": 30}, "webhook": receiver.url}
            answers: list[dict] = []
            thread = threading.Thread(
                target=lambda: answers.append(client.post("/predictions", json=body).json())
            )
            thread.start()
            wait_until(lambda: receiver.webhooks)
            server.process.send_signal(signal.SIGTERM)
            thread.join(timeout=30)
        returncode = server.process.wait(timeout=30)
    assert returncode == 0
    assert [answer["status"] for answer in answers] == ["canceled"]
    assert_one_terminal_last(receiver.webhooks)
    assert receiver.webhooks[-1]["status"] == "canceled"
