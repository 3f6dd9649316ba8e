"""The attempt context in process: its states, and a cancel that comes as the call ends."""

from __future__ import annotations

import sys
import threading
import time

from cog.runtime.attempt import Attempt, AttemptState
from cog.runtime.cancel import ThreadInterrupt, raise_in_thread
from cog.runtime.events import Done
from cog.runtime.logs import LogCapture

from .support import WAIT, Sent, predict


def _attempt(sent: Sent, prediction_id: str = "p") -> Attempt:
    return Attempt(predict(prediction_id), sent, LogCapture(sent))


def test_a_cancel_before_the_start_skips_the_call():
    sent = Sent()
    attempt = _attempt(sent)
    attempt.begin()
    attempt.cancel()
    assert not attempt.start(ThreadInterrupt(threading.get_ident()))
    attempt.end()
    assert sent.messages == [Done("p", canceled=True)]


def test_a_cancel_after_the_end_is_a_no_op_and_done_goes_once():
    sent = Sent()
    attempt = _attempt(sent)
    attempt.begin()
    assert attempt.start(ThreadInterrupt(threading.get_ident()))
    attempt.take_result("value")
    attempt.end()
    attempt.cancel()  # would raise CancelationException in this thread if it were not a no-op
    attempt.end()
    assert attempt.state is AttemptState.FINISHED
    assert sent.of("p") == ["Started", "Done"]
    assert sent.done("p") == Done("p", output="value", final=True)


def test_an_interrupt_landing_as_the_attempt_finishes_is_absorbed():
    """The race: a cancel takes the lock while the attempt still runs, after predict() has
    returned; its exception must not cost the Done, nor escape into the runner."""
    sent = Sent()
    attempt = _attempt(sent)
    returned, raised = threading.Event(), []

    def prediction_thread() -> None:
        attempt.begin()
        attempt.start(ThreadInterrupt(threading.get_ident()))
        attempt.take_result("result")  # predict() has returned
        returned.wait()
        try:
            attempt.end()
            for _ in range(10_000):  # bytecode, where a still pending exception would land
                pass
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=prediction_thread)
    thread.start()
    with attempt.lock:  # as cancel() holds it, while the thread reaches finish()
        returned.set()
        deadline = time.monotonic() + WAIT
        while sys._current_frames()[thread.ident].f_code.co_name != "finish":
            assert time.monotonic() < deadline, "the thread never reached finish()"
            time.sleep(0.001)
        raise_in_thread(thread.ident)  # what cancel() does to a running sync attempt
    thread.join(WAIT)
    assert raised == []
    assert sent.done("p") == Done("p", output="result", final=True)
