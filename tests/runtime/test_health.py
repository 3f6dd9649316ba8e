"""Health checks in process: one loop, one executor, one timeout."""

from __future__ import annotations

import asyncio
import sys
import threading

import pytest

from cog.runtime import health
from cog.runtime.events import Healthcheck, HealthcheckResult
from cog.runtime.health import HealthChecks

from .support import Sent, running_loop


def _answer(check, loop=None) -> HealthcheckResult:
    sent = Sent()
    HealthChecks(check, sent, loop).request(Healthcheck("h"))
    result = sent.wait(lambda m: isinstance(m, HealthcheckResult))
    assert isinstance(result, HealthcheckResult)
    return result


def _raises(exc: BaseException):
    def check() -> bool:
        raise exc

    return check


@pytest.mark.parametrize(
    ("check", "healthy", "error"),
    [
        (None, True, None),
        (lambda: True, True, None),
        (lambda: False, False, "user-defined healthcheck returned False"),
        (_raises(RuntimeError("disk full")), False, "RuntimeError: disk full"),
        (_raises(SystemExit(2)), False, "SystemExit: 2"),
    ],
)
def test_a_sync_check_answers(check, healthy, error):
    assert _answer(check) == HealthcheckResult("h", healthy, error)


async def _async_exit() -> bool:
    await asyncio.sleep(0)
    sys.exit(2)


async def _async_false() -> bool:
    await asyncio.sleep(0)
    return False


def test_an_async_check_of_a_sync_predictor_runs_on_the_health_loop():
    assert _answer(_async_false) == HealthcheckResult(
        "h", False, "user-defined healthcheck returned False"
    )


def test_system_exit_in_an_async_check_leaves_the_predictor_loop_running():
    with running_loop() as loop:
        assert _answer(_async_exit, loop) == HealthcheckResult("h", False, "SystemExit: 2")
        assert loop.is_running()


def test_every_probe_runs_the_check_afresh():
    calls: list[int] = []

    def check() -> bool:
        calls.append(1)
        return True

    sent = Sent()
    checks = HealthChecks(check, sent, None)
    for n in range(3):
        checks.request(Healthcheck(f"h{n}"))
        sent.wait(lambda m, n=n: isinstance(m, HealthcheckResult) and m.id == f"h{n}")
    assert len(calls) == 3


def test_a_check_over_the_timeout_is_answered_in_cogs_words(monkeypatch):
    monkeypatch.setattr(health, "HEALTHCHECK_TIMEOUT", 0.2)
    release = threading.Event()
    never = asyncio.Event()

    async def hangs() -> bool:
        await never.wait()
        return True

    late = "user-defined healthcheck timed out after 0.2 seconds"
    try:
        assert _answer(lambda: release.wait() or True) == HealthcheckResult("h", False, late)
        with running_loop() as loop:
            assert _answer(hangs, loop) == HealthcheckResult("h", False, late)
    finally:
        release.set()
