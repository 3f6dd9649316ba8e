"""Metrics and request context through `current_scope()`, isolated per prediction."""

import asyncio
import threading

import pytest

from cog import BaseRunner, current_scope
from cog.scope import Scope, prediction_scope


def recording_scope(context=None):
    events = []
    return Scope(lambda name, value, mode: events.append((name, value, mode)), context), events


def test_outside_a_prediction_metrics_are_validated_but_go_nowhere():
    scope = current_scope()
    scope.record_metric("tokens", 3)
    scope.metrics["tokens"] = "changed type is fine here"
    assert scope.context == {}
    with pytest.raises(ValueError, match="reserved"):
        scope.record_metric("predict_time", 1.0)


def test_metric_operations_reach_the_sink():
    scope, events = recording_scope()
    with prediction_scope(scope):
        runner = BaseRunner()
        runner.record_metric("timing.inference", 0.25)
        current_scope().metrics.record("tokens", 1, mode="incr")
        current_scope().metrics["logprobs"] = [-1.0]
        current_scope().metrics.record("steps", 2, mode="append")
        del current_scope().metrics["tokens"]
        runner.scope.metrics.record("gone", None)
    assert events == [
        ("timing.inference", 0.25, "replace"),
        ("tokens", 1, "incr"),
        ("logprobs", [-1.0], "replace"),
        ("steps", 2, "append"),
        ("tokens", None, "replace"),
        ("gone", None, "replace"),
    ]
    assert current_scope() is not scope


@pytest.mark.parametrize(
    "name",
    ["", "1abc", "a__b", "_a", "a_", "a.b.c.d.e", "cog.internal", "a-b", "x" * 129, "a..b"],
)
def test_invalid_metric_names_are_refused(name):
    scope, _ = recording_scope()
    with pytest.raises(ValueError):
        scope.record_metric(name, 1)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("_invalid", "segment '_invalid' must start with a letter"),
        ("foo__bar", "must not contain consecutive underscores"),
        ("invalid_", "must end with a letter or digit"),
        (".invalid", "must not start with a dot"),
        ("invalid.", "must not end with a dot"),
        ("foo..bar", "must not contain empty segments"),
        ("predict_time", "'predict_time' is reserved by the runtime"),
        ("cog.system", "the 'cog.' prefix is reserved"),
        ("a.b.c.d.e", "at most 4 dot-separated segments (got 5)"),
        ("a" * 129, "128 characters or fewer (got 129 characters)"),
        ("a-b", "contains invalid character '-'"),
    ],
)
def test_metric_name_errors_are_cogs_words(name, words):
    scope, _ = recording_scope()
    with pytest.raises(ValueError) as caught:
        scope.record_metric(name, 1)
    assert words in str(caught.value)


def test_deleting_a_reserved_name_is_harmless():
    scope, events = recording_scope()
    scope.record_metric("predict_time", None)
    del scope.metrics["cog.system"]
    assert events == [("predict_time", None, "replace"), ("cog.system", None, "replace")]


def test_mode_and_value_rules():
    scope, _ = recording_scope()
    with pytest.raises(ValueError, match="mode must be one of"):
        scope.record_metric("a", 1, mode="add")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be bool, int, float, str, list or dict"):
        scope.record_metric("a", object())
    scope.record_metric("a", 1)
    with pytest.raises(TypeError, match="delete it before"):
        scope.record_metric("a", "text")
    scope.metrics.delete("a")
    scope.record_metric("a", "text")


def test_context_is_per_prediction_across_threads_and_tasks():
    seen = {}

    def in_thread(label):
        scope, _ = recording_scope({"user": label})
        with prediction_scope(scope):
            seen[label] = current_scope().context["user"]

    threads = [threading.Thread(target=in_thread, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {f"t{i}": f"t{i}" for i in range(4)}

    async def task(label):
        scope, _ = recording_scope({"user": label})
        with prediction_scope(scope):
            await asyncio.sleep(0.01)
            return current_scope().context["user"]

    async def main():
        return await asyncio.gather(*(task(f"a{i}") for i in range(5)))

    assert asyncio.run(main()) == [f"a{i}" for i in range(5)]
