"""Inputs Cog's schema accepts with a generic inside a list: `List[Dict[str, Any]]`."""

import textwrap

import pytest

from cog.config import load_config
from cog.schema import SchemaError, generate_schema

SOURCE = """
from typing import Any, Dict, List

from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, rows: List[Dict[str, Any]], tags: list[dict[str, str]], bare: list[dict]) -> str:
        return str(len(rows))
"""


@pytest.mark.parametrize("static", [True, False])
def test_a_list_of_dicts_is_an_array_of_objects(tmp_path, static):
    (tmp_path / "predict.py").write_text(textwrap.dedent(SOURCE))
    (tmp_path / "cog.yaml").write_text("predict: predict.py:Predictor\n")
    schema = generate_schema(tmp_path, load_config(tmp_path), static=static)
    properties = schema["components"]["schemas"]["Input"]["properties"]
    for name in ("rows", "tags", "bare"):
        assert properties[name]["type"] == "array"
        assert properties[name]["items"] == {"type": "object"}


def test_a_list_of_lists_is_still_refused(tmp_path):
    (tmp_path / "predict.py").write_text(
        "from cog import BasePredictor\n\nclass Predictor(BasePredictor):\n"
        "    def predict(self, grid: list[list[int]]) -> str: ...\n"
    )
    (tmp_path / "cog.yaml").write_text("predict: predict.py:Predictor\n")
    with pytest.raises(SchemaError, match="nested generics"):
        generate_schema(tmp_path, load_config(tmp_path), static=True)
