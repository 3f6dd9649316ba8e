"""`@cog.batch` in the schema: both readings describe a batched predictor per item and refuse
the same things with the same message."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from cog.batching import BatchingError, BatchSpec
from cog.predictor import load_predictor_class
from cog.schema import SchemaError, document_for, read_predictor
from cog.schema.static import read_reference


def _project(tmp_path: Path, source: str) -> Path:
    (tmp_path / "predict.py").write_text(textwrap.dedent(source))
    return tmp_path


def _both(project: Path) -> list[object]:
    """The static reading and the runtime reading, or the error each gives."""
    readings: list[object] = []
    for read in (
        lambda: read_reference(project, "predict.py:Predictor", "predict"),
        lambda: read_predictor(load_predictor_class("predict.py:Predictor", project), "predict"),
    ):
        try:
            readings.append(read())
        except SchemaError as exc:
            readings.append(str(exc))
    return readings


def test_both_readings_carry_the_batch_spec(tmp_path):
    project = _project(
        tmp_path,
        """
        import cog

        class Predictor(cog.BasePredictor):
            @cog.batch(max_size=4, max_wait_ms="auto")
            def predict(self, prompt: list[str]) -> list[str]:
                return prompt
        """,
    )
    static, runtime = _both(project)
    assert static == runtime
    assert getattr(static, "batch") == BatchSpec(4, None)


@pytest.mark.parametrize(
    ("returns", "output"),
    [
        ("list[str | Exception]", {"title": "Output", "type": "string"}),
        ("list[Union[int, BaseException]]", {"title": "Output", "type": "integer"}),
        ("list[Union[str, Exception, BaseException]]", {"title": "Output", "type": "string"}),
    ],
)
def test_an_output_item_may_be_declared_an_exception_too(tmp_path, returns, output):
    project = _project(
        tmp_path,
        f"""
        from typing import Union

        import cog

        class Predictor(cog.BasePredictor):
            @cog.batch()
            def predict(self, prompt: list[str]) -> {returns}:
                return []
        """,
    )
    static, runtime = _both(project)
    assert static == runtime and not isinstance(static, str)
    document = document_for(static, None)  # type: ignore[arg-type]
    assert document["components"]["schemas"]["Output"] == output


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        ("self, prompt: str) -> list[str]", "input 'prompt': a batched method"),
        ("self, prompt: list[str]) -> str", "its output: a batched method"),
        ("self, prompt: list) -> list[str]", "input 'prompt': a batched method"),
    ],
)
def test_both_readings_refuse_what_is_not_a_list_alike(tmp_path, signature, message):
    project = _project(
        tmp_path,
        f"""
        import cog

        class Predictor(cog.BasePredictor):
            @cog.batch()
            def predict({signature}:
                return []
        """,
    )
    static, runtime = _both(project)
    assert static == runtime
    assert isinstance(static, str) and static.startswith(message)


def test_both_readings_refuse_batch_with_streaming(tmp_path):
    project = _project(
        tmp_path,
        """
        import cog

        class Predictor(cog.BasePredictor):
            @cog.streaming
            @cog.batch(max_size=2)
            def predict(self, prompt: list[str]) -> list[str]:
                return prompt
        """,
    )
    static, runtime = _both(project)
    assert static == runtime
    assert isinstance(static, str) and "does not combine with @cog.streaming" in static


def test_the_static_reading_refuses_what_the_decorator_refuses(tmp_path):
    project = _project(
        tmp_path,
        """
        import cog

        class Predictor(cog.BasePredictor):
            @cog.batch(max_size=0)
            def predict(self, prompt: list[str]) -> list[str]:
                return prompt
        """,
    )
    with pytest.raises(SchemaError, match="max_size must be an integer of at least 1"):
        read_reference(project, "predict.py:Predictor", "predict")
    with pytest.raises(BatchingError, match="max_size must be an integer of at least 1"):
        load_predictor_class("predict.py:Predictor", project)


def test_the_decorator_refuses_generators_and_bad_arguments():
    import cog

    with pytest.raises(BatchingError, match="does not combine with a generator"):

        @cog.batch()
        def gen(prompt: list[str]):  # type: ignore[no-untyped-def]
            yield prompt

    with pytest.raises(BatchingError, match="max_wait_ms must be a number"):
        cog.batch(max_wait_ms="soon")  # type: ignore[arg-type]
    with pytest.raises(BatchingError, match="with parentheses|write @cog.batch()"):
        cog.batch(lambda: None)  # type: ignore[arg-type]
