"""Batched predictors in process: the batch runners with real threads and a real event loop,
the dispatch policies by their rules."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cog import CancelationException, current_scope
from cog import Path as CogPath
from cog.batching import BatchSpec
from cog.runtime.batches import (
    AdaptiveWait,
    AsyncBatchRunner,
    FixedWait,
    LatencyFit,
    SyncBatchRunner,
)
from cog.runtime.events import Done, Log, Metric, Predict, Ready, SetupFailed, Shutdown, Started
from cog.runtime.inputs import InputCoercer
from cog.runtime.logs import LogCapture
from cog.runtime.transport import BlockingChannel, encode

from .support import WAIT, Sent, on_loop, predict, running_loop

FOREVER_MS = 60_000  # a wait no test reaches: batches go because they are full


class BatchEntry:
    """A batched entry function with the coercion a LoadedPredictor would give it."""

    def __init__(self, function) -> None:  # type: ignore[no-untyped-def]
        self.function = function
        self.coercer = InputCoercer(function, batched=True)


@pytest.fixture
def sent() -> Sent:
    return Sent()


def _sync(  # type: ignore[no-untyped-def]
    function, sent: Sent, max_size: int, max_wait_ms: float = FOREVER_MS, capture=None
):
    capture = capture or LogCapture(sent)
    runner = SyncBatchRunner(BatchEntry(function), BatchSpec(max_size, max_wait_ms), sent, capture)
    runner.start()
    return runner


def _sizes(sent: Sent, prediction_id: str) -> list[object]:
    return [
        m.value
        for m in sent.messages
        if isinstance(m, Metric) and m.id == prediction_id and m.name == "batch_size"
    ]


def test_a_full_batch_is_one_call_with_results_in_order(sent):
    calls: list[list[str]] = []
    capture = LogCapture(sent)  # not installed in process: the model writes to its writer

    def run(name: list[str], times: list[int]) -> list[str]:
        calls.append(list(name))
        capture.stdout.write("one call\n")
        current_scope().record_metric("tokens", len(name))
        return [n * t for n, t in zip(name, times, strict=True)]

    runner = _sync(run, sent, max_size=3, capture=capture)
    for i, name in enumerate("abc"):
        runner.submit(predict(f"p{i}", name=name, times=i + 1))
    done = [sent.done(f"p{i}") for i in range(3)]
    runner.stop()
    assert calls == [["a", "b", "c"]]
    assert [d.output for d in done] == ["a", "bb", "ccc"]
    for i in range(3):
        assert _sizes(sent, f"p{i}") == [3]
        logs = [m.data for m in sent.messages if isinstance(m, Log) and m.id == f"p{i}"]
        assert logs == ["one call\n"]
        tokens = [m.value for m in sent.messages if isinstance(m, Metric) and m.name == "tokens"]
        assert tokens == [3, 3, 3]
        assert sent.of(f"p{i}")[0] == "Started" and sent.of(f"p{i}")[-1] == "Done"


def test_a_batch_not_full_goes_when_its_oldest_has_waited(sent):
    def run(name: list[str]) -> list[str]:
        return name

    runner = _sync(run, sent, max_size=100, max_wait_ms=20)
    runner.submit(predict("a", name="a"))
    runner.submit(predict("b", name="b"))
    assert sent.done("a").output == "a" and sent.done("b").output == "b"
    runner.stop()
    assert sum(_sizes(sent, "a") + _sizes(sent, "b")) in (2, 4)  # one batch of 2, or two of 1


def test_an_exception_item_fails_its_request_only(sent):
    def run(name: list[str]) -> list[object]:
        return [ValueError(f"bad {n}") if n == "x" else n for n in name]

    runner = _sync(run, sent, max_size=3)
    for name in "axb":
        runner.submit(predict(name, name=name))
    results = {name: sent.done(name) for name in "axb"}
    runner.stop()
    assert results["a"] == Done("a", output="a", final=True)
    assert results["x"] == Done("x", error="bad x")
    assert results["b"] == Done("b", output="b", final=True)


def test_a_raise_fails_every_request_of_the_batch(sent):
    def run(name: list[str]) -> list[str]:
        raise RuntimeError("the model broke")

    runner = _sync(run, sent, max_size=2)
    runner.submit(predict("a", name="a"))
    runner.submit(predict("b", name="b"))
    assert sent.done("a").error == "the model broke"
    assert sent.done("b").error == "the model broke"
    runner.stop()


def test_a_list_of_the_wrong_length_fails_every_request_clearly(sent):
    def run(name: list[str]) -> list[str]:
        return name[:1]

    runner = _sync(run, sent, max_size=2)
    runner.submit(predict("a", name="a"))
    runner.submit(predict("b", name="b"))
    error = sent.done("a").error
    assert sent.done("b").error == error
    runner.stop()
    assert error is not None and "the batch had 2 requests and it returned a list of 1" in error


def test_a_bad_input_fails_its_request_and_the_others_run(sent):
    calls: list[list[int]] = []

    def run(n: list[int]) -> list[int]:
        calls.append(n)
        return [i * 10 for i in n]

    runner = _sync(run, sent, max_size=3)
    runner.submit(predict("a", n=1))
    runner.submit(predict("missing"))
    runner.submit(predict("c", n=3))
    assert sent.done("missing").error == "n: required input is missing"
    assert sent.done("a").output == 10 and sent.done("c").output == 30
    runner.stop()
    assert calls == [[1, 3]]
    assert _sizes(sent, "a") == [2] and _sizes(sent, "missing") == []


def test_a_request_canceled_while_waiting_leaves_before_the_batch_runs(sent):
    calls: list[list[str]] = []

    def run(name: list[str]) -> list[str]:
        calls.append(name)
        return name

    runner = _sync(run, sent, max_size=3)
    runner.submit(predict("gone", name="gone"))
    runner.submit(predict("b", name="b"))
    runner.cancel("gone")
    assert sent.done("gone") == Done("gone", canceled=True)
    runner.submit(predict("c", name="c"))
    runner.submit(predict("d", name="d"))
    assert [sent.done(i).output for i in "bcd"] == ["b", "c", "d"]
    runner.stop()
    assert calls == [["b", "c", "d"]]
    assert sent.of("gone") == ["Done"]


def test_a_request_canceled_during_the_call_ends_at_once_and_the_others_go_on(sent):
    entered, release = threading.Event(), threading.Event()
    capture = LogCapture(sent)

    def run(name: list[str]) -> list[str]:
        entered.set()
        assert release.wait(WAIT)
        capture.stdout.write("after the cancel\n")
        return name

    runner = _sync(run, sent, max_size=2, capture=capture)
    runner.submit(predict("a", name="a"))
    runner.submit(predict("b", name="b"))
    assert entered.wait(WAIT)
    runner.cancel("a")
    assert sent.done("a") == Done("a", canceled=True)  # while the call still runs
    release.set()
    assert sent.done("b") == Done("b", output="b", final=True)
    runner.stop()
    assert sent.of("a") == ["Started", "Metric", "Done"]  # no log, no second Done
    assert [m.data for m in sent.messages if isinstance(m, Log)] == ["after the cancel\n"]


def test_a_call_whose_requests_are_all_canceled_is_interrupted_and_the_next_runs(sent):
    entered, interrupted = threading.Event(), threading.Event()

    def run(name: list[str]) -> list[str]:
        if name == ["next", "then"]:
            return ["ran", "ran too"]
        entered.set()
        try:
            while True:  # Python bytecode: where a cancel lands
                time.sleep(0.001)
        except CancelationException:
            interrupted.set()
            raise

    runner = _sync(run, sent, max_size=2)
    runner.submit(predict("a", name="a"))
    runner.submit(predict("b", name="b"))
    assert entered.wait(WAIT)
    runner.cancel("a")
    assert sent.done("a").canceled and not interrupted.is_set()  # b still waits for it
    runner.cancel("b")
    assert sent.done("b").canceled and interrupted.wait(WAIT)
    runner.submit(predict("next", name="next"))  # the prediction thread lives on
    runner.submit(predict("then", name="then"))
    assert sent.done("next").output == "ran" and sent.done("then").output == "ran too"
    runner.stop()


# -- async def ----------------------------------------------------------------------------------


def _async(function, sent: Sent, loop, max_size: int, slots: int = 1):  # type: ignore[no-untyped-def]
    return AsyncBatchRunner(
        BatchEntry(function), BatchSpec(max_size, FOREVER_MS), slots, sent, LogCapture(sent), loop
    )


def test_an_async_batch_is_one_awaited_call(sent):
    calls: list[list[str]] = []

    async def run(name: list[str]) -> list[str]:
        calls.append(name)
        await asyncio.sleep(0)
        return [n.upper() for n in name]

    with running_loop() as loop:
        runner = _async(run, sent, loop, max_size=2)
        on_loop(loop, lambda: runner.submit(predict("a", name="a")))
        on_loop(loop, lambda: runner.submit(predict("b", name="b")))
        assert sent.done("a").output == "A" and sent.done("b").output == "B"
    assert calls == [["a", "b"]]


def test_async_slots_run_batches_side_by_side_and_a_cancel_drops_one(sent):
    started = 0
    both = asyncio.Event()

    async def run(name: list[str]) -> list[str]:
        nonlocal started
        started += 1
        if started == 2:
            both.set()
        await asyncio.wait_for(both.wait(), WAIT)  # only returns once two batches run at once
        await asyncio.sleep(0.01)
        return name

    with running_loop() as loop:
        runner = _async(run, sent, loop, max_size=2, slots=2)
        for i in "abcd":
            on_loop(loop, lambda i=i: runner.submit(predict(i, name=i)))
        sent.wait(lambda m: isinstance(m, Started) and m.id == "d")
        on_loop(loop, lambda: runner.cancel("c"))
        assert sent.done("c") == Done("c", canceled=True)
        assert [sent.done(i).output for i in "abd"] == ["a", "b", "d"]


# -- the dispatch rules -------------------------------------------------------------------------


def test_the_latency_fit_finds_the_fixed_cost():
    fit = LatencyFit()
    assert fit.fixed() is None
    fit.add(4, 0.020 + 4 * 0.001)
    assert fit.fixed() == pytest.approx(0.024)  # one size seen: all of it, for now
    for size in (1, 8, 16, 2, 32):
        fit.add(size, 0.020 + size * 0.001)
    assert fit.fixed() == pytest.approx(0.020)


def test_the_fixed_wait_goes_at_the_oldest_plus_the_wait():
    assert FixedWait(0.01).deadline(oldest=5.0, waiting=3) == pytest.approx(5.01)


def test_auto_waits_while_the_next_request_pays_for_its_wait():
    policy = AdaptiveWait()
    assert policy.deadline(oldest=1.0, waiting=1) == 1.0  # nothing known: go at once
    policy.observed(1, 0.020, ended=0.5)  # a call costs 20 ms
    for at in (1.000, 1.001, 1.002, 1.003):  # a request every millisecond
        policy.arrived(at)
    # 4 waiting × 1 ms < 20 ms: wait, until arrivals stop (3 gaps) or at most 20 ms.
    assert policy.deadline(oldest=1.000, waiting=4) == pytest.approx(1.006)
    # 25 waiting × 1 ms ≥ 20 ms: go now.
    assert policy.deadline(oldest=1.000, waiting=25) == 1.000
    # A slot busy until 1.010: the wait for more starts again there.
    policy.observed(4, 0.020, ended=1.010)
    assert policy.deadline(oldest=1.000, waiting=4) == pytest.approx(1.013)
    burst = AdaptiveWait()
    burst.observed(1, 0.020, ended=0.5)
    for _ in range(9):  # read at once: no gap at all
        burst.arrived(1.0)
    # Arrivals have stopped only after a tenth of the fixed cost, however short the gaps.
    assert burst.deadline(oldest=1.0, waiting=9) == pytest.approx(1.002)
    slow = AdaptiveWait()
    slow.observed(1, 0.020, ended=0.5)
    for at in (1.0, 1.05, 1.10):  # one request every 50 ms: waiting would not pay
        slow.arrived(at)
    assert slow.deadline(oldest=1.10, waiting=1) == 1.10


# -- the worker process ---------------------------------------------------------------------------

BATCHED = Path(__file__).parents[1] / "server" / "fixtures" / "batched"


def _spawn(project: Path) -> tuple[subprocess.Popen[bytes], BlockingChannel]:
    parent, child = socket.socketpair()
    process = subprocess.Popen(
        [sys.executable, "-m", "cog.runtime.worker", "--fd", str(child.fileno())]
        + ["--ref", "predict.py:Runner"],
        cwd=project,
        pass_fds=(child.fileno(),),
    )
    child.close()
    parent.settimeout(WAIT)
    return process, BlockingChannel(parent)


def test_the_worker_reports_its_batch_size_and_batches_what_it_reads(tmp_path):
    shutil.copytree(BATCHED, tmp_path, dirs_exist_ok=True)
    process, channel = _spawn(tmp_path)
    try:
        ready = channel.receive()
        assert isinstance(ready, Ready) and ready.batch_size == 16
        channel.sock.sendall(
            b"".join(encode(Predict(i, {"prompt": i})) for i in ("a", "b", "c"))
        )  # one write: read at once, one batch
        messages = []
        while sum(isinstance(m, Done) for m in messages) < 3:
            message = channel.receive()
            assert message is not None
            messages.append(message)
    finally:
        channel.sock.sendall(encode(Shutdown()))
        process.wait(timeout=WAIT)
        channel.sock.close()
    dones = {m.id: m for m in messages if isinstance(m, Done)}
    assert {i: d.output for i, d in dones.items()} == {"a": "A", "b": "B", "c": "C"}
    logs = sorted((m.id, m.data) for m in messages if isinstance(m, Log))
    assert logs == [(i, "batch of 3\n") for i in "abc"]


def test_a_batched_streaming_model_fails_setup_saying_why(tmp_path):
    (tmp_path / "predict.py").write_text(
        "import cog\n\n"
        "class Runner(cog.BaseRunner):\n"
        "    @cog.streaming\n"
        "    @cog.batch(max_size=2)\n"
        "    def run(self, prompt: list[str]) -> list[str]:\n"
        "        return prompt\n"
    )
    process, channel = _spawn(tmp_path)
    try:
        failed = channel.receive()
    finally:
        process.wait(timeout=WAIT)
        channel.sock.close()
    assert isinstance(failed, SetupFailed)
    assert "@cog.batch does not combine with @cog.streaming" in failed.error


def test_file_inputs_are_coerced_per_item_into_each_requests_directory(sent, tmp_path):
    seen: list[object] = []

    def run(image: list[CogPath], label: list[str]) -> list[str]:
        seen.extend(image)
        return [f"{n}:{p.read_text()}" for n, p in zip(label, image, strict=True)]

    runner = _sync(run, sent, max_size=2)
    for name, text in (("a", "b2s="), ("b", "aGk=")):  # "ok", "hi"
        workdir = str(tmp_path / name)
        runner.submit(
            Predict(name, {"image": f"data:text/plain;base64,{text}", "label": name}, {}, workdir)
        )
    assert sent.done("a").output == "a:ok" and sent.done("b").output == "b:hi"
    runner.stop()
    assert [str(p).startswith(str(tmp_path / n)) for p, n in zip(seen, "ab", strict=True)] == [
        True,
        True,
    ]
