"""The environment-variable registry and the docs rendered from it."""

import pathlib

from cog import envvars

DOCS = pathlib.Path(__file__).parents[2] / "docs" / "environment.md"


def test_docs_are_rendered_from_the_registry():
    assert DOCS.read_text() == envvars.render_markdown(), (
        "docs/environment.md is stale: regenerate it with "
        "python -c 'import cog.envvars as e; print(e.render_markdown(), end=\"\")' "
        "> docs/environment.md"
    )


def test_names_are_unique():
    names = [var.name for var in envvars.ALL]
    assert len(names) == len(set(names))


def test_typed_reads_fall_back_to_the_default(monkeypatch):
    monkeypatch.setenv("COG_THROTTLE_RESPONSE_INTERVAL", "0.25")
    assert envvars.THROTTLE_RESPONSE_INTERVAL.get_float() == 0.25
    monkeypatch.setenv("COG_THROTTLE_RESPONSE_INTERVAL", "soon")
    assert envvars.THROTTLE_RESPONSE_INTERVAL.get_float() == 0.5
    monkeypatch.delenv("COG_SETUP_TIMEOUT", raising=False)
    assert envvars.SETUP_TIMEOUT.get_int() is None
    monkeypatch.setenv("PORT", "")
    assert envvars.PORT.get_int() == 5000
