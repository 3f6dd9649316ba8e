"""The two runners in process: real threads, a real event loop, no server and no worker."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from cog import Path, current_scope
from cog.runtime.events import Done, Metric, Output, Started
from cog.runtime.logs import LogCapture, current_prediction
from cog.runtime.runners import AsyncRunner, SyncRunner

from .support import WAIT, Entry, Sent, on_loop, predict, running_loop


@pytest.fixture
def sent() -> Sent:
    return Sent()


def _sync_runner(function, sent: Sent) -> SyncRunner:
    runner = SyncRunner(Entry(function), sent, LogCapture(sent))
    runner.start()
    return runner


def _blocking(release: threading.Event, entered: threading.Event):
    def run(name: str = "x") -> str:
        entered.set()
        while not release.is_set():  # Python bytecode: where a cancel lands
            time.sleep(0.001)
        return name

    return run


# -- the sync runner ----------------------------------------------------------------------------


def test_a_sync_prediction_runs_in_its_attempt_context(sent, tmp_path):
    seen: dict[str, object] = {}

    def run(image: Path, times: int = 2) -> str:
        seen["prediction"] = current_prediction.get()
        seen["image"] = image
        current_scope().record_metric("times", times)
        return image.read_text() * times

    runner = _sync_runner(run, sent)
    runner.submit(predict("p1", image="data:text/plain;base64,b2s=", times=3))
    done = sent.done("p1")
    runner.stop()
    assert done == Done("p1", output="okokok", final=True)
    assert seen["prediction"] == "p1" and isinstance(seen["image"], Path)
    assert sent.of("p1") == ["Started", "Metric", "Done"]
    assert Metric("p1", "times", 3, "replace") in sent.messages
    assert current_prediction.get() is None  # the context is the attempt's, not the test's


def test_a_sync_generator_streams_then_reports_an_iterator(sent):
    def run() -> Iterator[str]:
        yield "a"
        yield "b"

    runner = _sync_runner(run, sent)
    runner.submit(predict("g"))
    assert sent.done("g") == Done("g", iterator=True)
    runner.stop()
    assert [m for m in sent.messages if isinstance(m, Output)] == [
        Output("g", "a"),
        Output("g", "b"),
    ]


def test_cancel_interrupts_a_running_sync_prediction_and_the_next_one_runs(sent):
    release, entered = threading.Event(), threading.Event()
    runner = _sync_runner(_blocking(release, entered), sent)
    runner.submit(predict("long"))
    assert entered.wait(WAIT)
    runner.cancel("long")
    assert sent.done("long") == Done("long", canceled=True)
    release.set()
    runner.submit(predict("next", name="after"))
    assert sent.done("next").output == "after"
    runner.stop()


def test_a_queued_sync_prediction_canceled_never_starts(sent):
    release, entered = threading.Event(), threading.Event()
    runner = _sync_runner(_blocking(release, entered), sent)
    runner.submit(predict("first"))
    runner.submit(predict("queued"))
    assert entered.wait(WAIT)
    runner.cancel("queued")
    release.set()
    assert sent.done("first").output == "x"
    assert sent.done("queued") == Done("queued", canceled=True)
    runner.stop()
    assert sent.of("queued") == ["Done"]  # no Started: it never ran


def test_cancel_after_a_sync_prediction_ended_changes_nothing(sent):
    runner = _sync_runner(lambda: "fine", sent)
    runner.submit(predict("p"))
    assert sent.done("p").output == "fine"
    runner.cancel("p")  # too late: a no-op, nothing raised anywhere
    runner.submit(predict("q"))
    assert sent.done("q").output == "fine"
    runner.stop()
    assert [m.id for m in sent.messages if isinstance(m, Done)] == ["p", "q"]


@pytest.mark.parametrize(
    ("raised", "error"),
    [
        (ValueError("bad input"), "bad input"),
        (SystemExit(3), "SystemExit: 3"),
        (KeyboardInterrupt(), "KeyboardInterrupt"),
    ],
)
def test_a_sync_prediction_that_raises_fails_alone(sent, raised, error):
    def run(fail: bool = True) -> str:
        if fail:
            raise raised
        return "still serving"

    runner = _sync_runner(run, sent)
    runner.submit(predict("bad"))
    assert sent.done("bad") == Done("bad", error=error)
    runner.submit(predict("good", fail=False))
    assert sent.done("good").output == "still serving"
    runner.stop()


def test_a_missing_input_fails_the_prediction_after_started(sent):
    def run(needed: str) -> str:
        return needed

    runner = _sync_runner(run, sent)
    runner.submit(predict("p"))
    assert sent.done("p").error == "needed: required input is missing"
    runner.stop()
    assert sent.of("p") == ["Started", "Done"]


# -- the async runner ---------------------------------------------------------------------------


def test_an_async_prediction_runs_as_a_task_in_its_context(sent):
    async def run(name: str = "x") -> str:
        await asyncio.sleep(0)
        current_scope().record_metric("seen", current_prediction.get())
        return name.upper()

    with running_loop() as loop:
        runner = AsyncRunner(Entry(run), sent, LogCapture(sent), loop)
        on_loop(loop, lambda: runner.submit(predict("a", name="hi")))
        assert sent.done("a") == Done("a", output="HI", final=True)
    assert Metric("a", "seen", "a", "replace") in sent.messages
    assert runner.attempts == {}


def test_an_async_generator_streams_as_it_produces(sent):
    async def run() -> AsyncIterator[int]:
        for item in range(3):
            yield item

    with running_loop() as loop:
        runner = AsyncRunner(Entry(run), sent, LogCapture(sent), loop)
        on_loop(loop, lambda: runner.submit(predict("s")))
        assert sent.done("s") == Done("s", iterator=True)
    assert [m.value for m in sent.messages if isinstance(m, Output)] == [0, 1, 2]


def test_cancel_cancels_the_running_task_and_others_go_on(sent):
    release = asyncio.Event()

    async def run(name: str) -> str:
        if name == "slow":
            await release.wait()
        return name

    with running_loop() as loop:
        runner = AsyncRunner(Entry(run), sent, LogCapture(sent), loop)
        on_loop(loop, lambda: runner.submit(predict("slow", name="slow")))
        sent.wait(lambda m: m == Started("slow"))
        on_loop(loop, lambda: runner.cancel("slow"))
        assert sent.done("slow") == Done("slow", canceled=True)
        on_loop(loop, lambda: runner.submit(predict("quick", name="quick")))
        assert sent.done("quick").output == "quick"


def test_an_async_prediction_canceled_before_its_first_step_sends_done(sent):
    async def run() -> str:
        return "ran"

    def submit_and_cancel() -> None:  # one turn of the loop: the task has not started
        runner.submit(predict("early"))
        runner.cancel("early")

    with running_loop() as loop:
        runner = AsyncRunner(Entry(run), sent, LogCapture(sent), loop)
        on_loop(loop, submit_and_cancel)
        assert sent.done("early") == Done("early", canceled=True)
    assert sent.of("early") == ["Done"]


def test_system_exit_in_an_async_prediction_fails_it_and_the_loop_lives(sent):
    async def run(exit: bool = True) -> str:
        if exit:
            sys.exit(2)
        return "alive"

    with running_loop() as loop:
        runner = AsyncRunner(Entry(run), sent, LogCapture(sent), loop)
        on_loop(loop, lambda: runner.submit(predict("exit")))
        assert sent.done("exit").error == "SystemExit: 2"
        on_loop(loop, lambda: runner.submit(predict("after", exit=False)))
        assert sent.done("after").output == "alive"
        assert loop.is_running()
