"""Differential: our reading of every fixture's inputs matches the reference Cog's inspector
(types, defaults, choices, bounds, descriptions, order)."""

import json
import subprocess
from pathlib import Path

import pytest

from cog.config import load_config
from cog.predictor import load_predictor_class, split_reference
from cog.schema import read_predictor
from cog.schema.render import _input_json
from cog.schema.types import MISSING

from ..reference import reference_python

# A fixture with a `reference-differs` file holds what Cog's build accepts and 0.23.1's Python
# inspector refuses (one-element choices); the file says which; docs/compatibility.md too.
FIXTURES = sorted(
    p
    for p in (Path(__file__).parent / "fixtures").iterdir()
    if p.is_dir() and not (p / "reference-differs").exists()
)
READER = Path(__file__).parent / "reference_reader.py"


def without_nullable(node):
    if isinstance(node, dict):
        return {k: without_nullable(v) for k, v in node.items() if k != "nullable"}
    if isinstance(node, list):
        return [without_nullable(v) for v in node]
    return node


def reference_reading(fixture: Path, ref: str) -> dict:
    path, name = split_reference(ref)
    result = subprocess.run(
        [str(reference_python()), "-W", "ignore", str(READER), str(fixture), Path(path).stem, name],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=fixture,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


# The reference's runtime inspector cannot read these at all (Cog's Go build can, and so do we):
# the difference is recorded in docs/compatibility.md.
REFERENCE_CANNOT_READ = {"outputs_models": "unsupported Cog type Box"}


@pytest.mark.reference
@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.name)
def test_inputs_read_as_the_reference_reads_them(fixture):
    config = load_config(fixture)
    ours = read_predictor(load_predictor_class(config.predict, fixture))
    if fixture.name in REFERENCE_CANNOT_READ:
        with pytest.raises(AssertionError, match=REFERENCE_CANNOT_READ[fixture.name]):
            reference_reading(fixture, config.predict)
        return
    theirs = reference_reading(fixture, config.predict)["inputs"]
    assert list(theirs) == [field.name for field in ours.inputs]
    for field in ours.inputs:
        reference = theirs[field.name]
        assert reference["order"] == field.order
        assert without_nullable(reference["type"]) == without_nullable(_input_json(field.type)), (
            field.name
        )
        if field.default is not MISSING:
            assert reference["default"] == field.default, field.name
        assert reference["choices"] == (list(field.choices) if field.choices else None)
        for key in ("ge", "le", "min_length", "max_length", "regex", "description"):
            assert reference[key] == getattr(field, key), (field.name, key)
