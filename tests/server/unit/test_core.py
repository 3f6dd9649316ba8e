"""The prediction core in-process, without HTTP: a real supervisor and a real worker process
serving fixture predictors; orders in, verdicts and Cog's JSON out."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from cog.server.prediction import Status
from cog.server.predictions import HEARTBEAT, Envelope, Kind, Mode, Order, Predictions, Verdict
from cog.server.settings import resolve_settings
from cog.server.supervisor import Health, Supervisor

FIXTURES = Path(__file__).parents[1] / "fixtures"
SETUP_BOUND = 600  # turns of 0.05 s: a bound for a stuck setup, not a timing claim


def with_core(
    name: str, tmp_path: Path, body: Callable[[Predictions], Awaitable[None]], **changes: Any
) -> None:
    project = tmp_path / name
    shutil.copytree(FIXTURES / name, project)
    settings = dataclasses.replace(resolve_settings(project), **changes)

    async def scenario() -> None:
        supervisor = Supervisor(settings)
        await supervisor.start()
        try:
            for _ in range(SETUP_BOUND):
                if supervisor.state is not Health.STARTING:
                    break
                await asyncio.sleep(0.05)
            assert supervisor.state is Health.READY, supervisor.setup.as_json()
            await body(Predictions(supervisor))
        finally:
            await supervisor.stop()

    asyncio.run(scenario())


def order(mode: Mode = "sync", kind: Kind = "prediction", **envelope: Any) -> Order:
    return Order(kind, mode, Envelope(**envelope))


async def processing(core: Predictions, prediction_id: str) -> None:
    while (found := core.find(prediction_id)) is None or (found.status is not Status.PROCESSING):
        await asyncio.sleep(0.01)


def test_a_sync_order_answers_the_terminal_state_with_the_slot_free(tmp_path: Path) -> None:
    async def body(core: Predictions) -> None:
        answer = await core.create(order(input={"text": "hi", "repeat": 2}))
        assert answer.verdict is Verdict.COMPLETED
        assert answer.body is not None
        assert (answer.body["status"], answer.body["output"]) == ("succeeded", "hi hi")
        assert "echoing hi" in answer.body["logs"]
        assert core.supervisor.health() is Health.READY
        health = await core.health()
        assert health["status"] == "READY" and health["setup"]["status"] == "succeeded"

    with_core("echo", tmp_path, body)


def test_invalid_inputs_and_streams_the_model_cannot_make_are_refused(tmp_path: Path) -> None:
    async def body(core: Predictions) -> None:
        invalid = await core.create(order(input={"text": "hi", "repeat": 9}))
        assert invalid.verdict is Verdict.INVALID
        assert invalid.body is not None and invalid.body["detail"][0]["loc"][-1] == "repeat"
        assert (await core.create(order(input="str"))).verdict is Verdict.INVALID
        stream = await core.create(order("sse", input={"text": "hi"}))
        assert stream.verdict is Verdict.CANNOT_STREAM
        assert core.supervisor.health() is Health.READY  # nothing took a slot

    with_core("echo", tmp_path, body)


def test_an_async_order_runs_and_is_joined_busy_and_canceled_by_id(tmp_path: Path) -> None:
    async def body(core: Predictions) -> None:
        accepted = await core.create(order("async", id="a1", input={"seconds": 30}))
        assert accepted.verdict is Verdict.ACCEPTED
        assert accepted.body == {"id": "a1", "status": "starting"}
        await processing(core, "a1")
        joined = await core.create(dataclasses.replace(order(id="a1"), idempotent=True))
        assert joined.verdict is Verdict.ACCEPTED
        assert joined.body is not None and joined.body["status"] == "processing"
        assert (await core.create(order("async", id="a2"))).verdict is Verdict.BUSY
        assert core.cancel("nope") is False
        waiting = asyncio.ensure_future(core.create(order(id="a1")))
        assert core.cancel("a1") is True
        ended = await waiting
        assert ended.verdict is Verdict.COMPLETED
        assert ended.body is not None and ended.body["status"] == "canceled"

    with_core("slow", tmp_path, body)


def test_a_waiting_client_that_goes_away_cancels_its_prediction(tmp_path: Path) -> None:
    async def body(core: Predictions) -> None:
        gone = asyncio.Event()
        waiting = asyncio.ensure_future(core.create(order(id="w1"), gone.wait))
        await processing(core, "w1")
        prediction = core.find("w1")
        assert prediction is not None
        gone.set()
        assert (await waiting).verdict is Verdict.ABANDONED
        await asyncio.shield(prediction.ended())
        assert prediction.status is Status.CANCELED

    with_core("slow", tmp_path, body)


def test_a_stream_follows_a_prediction_from_start_to_completed(tmp_path: Path) -> None:
    async def body(core: Predictions) -> None:
        answer = await core.create(order("sse", input={"count": 3}))
        assert answer.verdict is Verdict.STREAM and answer.prediction is not None
        names, chunks = [], []
        async for event in core.stream(answer.prediction, heartbeat=60):
            assert event is not HEARTBEAT
            names.append(event.name)
            if event.name == "output":
                chunks.append(event.data["chunk"])
        assert names[0] == "start" and names[-1] == "completed"
        assert chunks == ["t0 ", "t1 ", "t2 "]
        assert names.count("log") == 3
        training = await core.create(order("sse", kind="training"))
        assert training.verdict is Verdict.CANNOT_STREAM

    with_core("stream", tmp_path, body)


def test_a_stream_left_early_cancels_the_prediction_it_made(tmp_path: Path) -> None:
    async def body(core: Predictions) -> None:
        answer = await core.create(order("sse", input={"count": 1000, "delay": 0.05}))
        assert answer.prediction is not None
        events = core.stream(answer.prediction, heartbeat=60)
        async for event in events:
            if event.name == "output":
                break
        await events.aclose()
        await asyncio.shield(answer.prediction.ended())
        assert answer.prediction.status is Status.CANCELED

    with_core("stream", tmp_path, body)


def test_the_first_ready_health_check_writes_the_ready_file(tmp_path: Path) -> None:
    ready = tmp_path / "run" / "ready"

    async def body(core: Predictions) -> None:
        assert not ready.exists()
        assert (await core.health())["status"] == "READY"
        assert ready.exists()

    with_core("echo", tmp_path, body, ready_file=ready)


def test_the_core_imports_no_web_framework() -> None:
    """Other entry points (a queue consumer) use the core without the HTTP stack."""
    script = (
        "import sys, cog.server.predictions\n"
        "web = sorted(m for m in sys.modules if m.split('.')[0] in ('starlette', 'uvicorn'))\n"
        "print(','.join(web))\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert found == ""
