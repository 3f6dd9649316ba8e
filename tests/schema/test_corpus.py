"""Every fixture predictor: the runtime and static readings agree, and both give the expected
components (written as data in each fixture's expected.json, checked against Cog's rules)."""

import json
from pathlib import Path

import pytest

from cog.config import load_config
from cog.schema import dumps, generate_schema

FIXTURES = sorted(p for p in (Path(__file__).parent / "fixtures").iterdir() if p.is_dir())
ENVELOPE = (
    "PredictionRequest",
    "PredictionResponse",
    "Status",
    "HTTPValidationError",
    "ValidationError",
)


def model_components(document):
    schemas = document["components"]["schemas"]
    found = {name: value for name, value in schemas.items() if name not in ENVELOPE}
    found["x-cog-streaming"] = bool(
        document["paths"]["/predictions"]["post"].get("x-cog-streaming")
    )
    return found


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.name)
def test_static_and_runtime_readings_agree_and_match_the_expected_schema(fixture):
    config = load_config(fixture)
    static = generate_schema(fixture, config, static=True)
    runtime = generate_schema(fixture, config, static=False)
    assert dumps(static) == dumps(runtime)
    expected = json.loads((fixture / "expected.json").read_text())
    assert model_components(static) == expected
    # Key order is part of the format: components, paths and properties keep theirs.
    assert list(model_components(static)) == list(expected)
    for name, component in expected.items():
        if isinstance(component, dict) and "properties" in component:
            assert list(static["components"]["schemas"][name]["properties"]) == list(
                component["properties"]
            )
