"""The document around the model's components, serialised as Cog's build writes it."""

import json
import textwrap

import pytest

from cog.config import load_config
from cog.schema import SchemaError, dumps, generate_schema


def project(tmp_path, source, yaml="predict: predict.py:Predictor\n", files=None):
    (tmp_path / "predict.py").write_text(textwrap.dedent(source))
    for name, text in (files or {}).items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    (tmp_path / "cog.yaml").write_text(yaml)
    return tmp_path, load_config(tmp_path)


HELLO = """
from cog import BasePredictor, Input

class Predictor(BasePredictor):
    def predict(self, text: str = Input(description="Say <hi> & go", default="a")) -> str:
        return text
"""


def test_compact_json_with_cogs_key_order_and_escaping(tmp_path):
    document = generate_schema(*project(tmp_path, HELLO), static=True)
    text = dumps(document)
    assert text.startswith('{"components":{"schemas":{"Input":{"properties":{"text":{')
    assert '"description":"Say \\u003chi\\u003e \\u0026 go"' in text
    assert text.endswith('"openapi":"3.0.2","paths":' + text.split('"paths":', 1)[1])
    assert list(json.loads(text)["paths"]) == [
        "/",
        "/health-check",
        "/predictions",
        "/predictions/{prediction_id}/cancel",
    ]
    assert list(json.loads(text)["components"]["schemas"]) == [
        "Input",
        "Output",
        "PredictionRequest",
        "PredictionResponse",
        "Status",
        "HTTPValidationError",
        "ValidationError",
    ]
    assert '": ' not in text and '", "' not in text  # compact separators


def test_paths_and_envelope(tmp_path):
    document = generate_schema(*project(tmp_path, HELLO), static=True)
    post = document["paths"]["/predictions"]["post"]
    assert post["operationId"] == "predict_predictions_post"
    assert post["summary"] == "Predict"
    assert post["description"] == "Run a single prediction on the model"
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PredictionRequest"
    }
    cancel = document["paths"]["/predictions/{prediction_id}/cancel"]["post"]
    assert cancel["operationId"] == "cancel_predictions__prediction_id__cancel_post"
    assert cancel["parameters"] == [
        {
            "in": "path",
            "name": "prediction_id",
            "required": True,
            "schema": {"title": "Prediction Id", "type": "string"},
        }
    ]
    assert document["paths"]["/"]["get"]["operationId"] == "root__get"
    assert (
        document["paths"]["/health-check"]["get"]["operationId"] == "healthcheck_health_check_get"
    )
    schemas = document["components"]["schemas"]
    assert schemas["Status"]["enum"] == [
        "starting",
        "processing",
        "succeeded",
        "canceled",
        "failed",
    ]
    assert schemas["PredictionRequest"]["properties"]["input"] == {
        "$ref": "#/components/schemas/Input"
    }
    assert schemas["ValidationError"]["required"] == ["loc", "msg", "type"]
    assert document["info"]["title"] == "Cog"


def test_training_paths_and_merged_document(tmp_path):
    train = """
    from cog import BaseModel, Input, Path

    class TrainingOutput(BaseModel):
        weights: Path

    def train(steps: int = Input(default=10)) -> TrainingOutput:
        raise NotImplementedError
    """
    directory, config = project(
        tmp_path,
        HELLO,
        "predict: predict.py:Predictor\ntrain: train.py:train\n",
        {"train.py": train},
    )
    document = generate_schema(directory, config, static=True)
    assert list(document["paths"]) == [
        "/",
        "/health-check",
        "/predictions",
        "/predictions/{prediction_id}/cancel",
        "/trainings",
        "/trainings/{training_id}/cancel",
    ]
    schemas = document["components"]["schemas"]
    assert schemas["TrainingInput"]["title"] == "TrainingInput"
    assert schemas["TrainingOutput"]["properties"]["weights"] == {
        "format": "uri",
        "title": "Weights",
        "type": "string",
    }
    assert document["paths"]["/trainings"]["post"]["operationId"] == "train_trainings_post"
    assert generate_schema(directory, config) == document


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "def predict(self, x: str = Input(choices=[c.name for c in torch.dtypes])) -> str: ...",
            "choices `[c.name for c in torch.dtypes]` cannot be statically resolved",
        ),
        (
            "def predict(self, x: int = Input(ge=5, le=1)) -> str: ...",
            "ge (5) is greater than le (1)",
        ),
        ("def predict(self, x: bytes) -> str: ...", "bytes is not supported; use cog.Path"),
        (
            "def predict(self, x: str = Input(ge=1)) -> str: ...",
            "ge/le only apply to int and float",
        ),
        ("def predict(self, x: str = Input(choices=[])) -> str: ...", "at least one value"),
        ("def predict(self, x: str = Input(choices=['a', 1])) -> str: ...", "same type"),
        (
            "def predict(self, x: str = Input(accept='image/*')) -> str: ...",
            "accept is only valid on Path or File",
        ),
        ("def predict(self, x) -> str: ...", "input 'x' has no type annotation"),
        ("def predict(self, *args: str) -> str: ...", "*args"),
        (
            "def predict(self, x: str) -> Optional[str]: ...",
            "Optional return types are not supported",
        ),
        (
            "def predict(self, x: str) -> ConcatenateIterator[int]: ...",
            "ConcatenateIterator must yield str",
        ),
        ("def predict(self, x: str): ...", "must have a return type annotation"),
        ("def predict(self, x: Path | Secret) -> str: ...", "cannot be part of a union"),
        ("def predict(self, x: list[list[str]]) -> str: ...", "nested generics"),
        ("def predict(self, x: torch.Tensor) -> str: ...", "cannot resolve type 'Tensor'"),
        ("def predict(self, x: str) -> None: ...", "the return annotation must not be None"),
        ("def predict(self, x: str, **kw: str) -> str: ...", "**kwargs"),
        (
            "def predict(self, x: list[str] = Input(default_factory=list)) -> str: ...",
            "input 'x': default_factory is not supported",
        ),
        (
            "def predict(self, x: int = Input(choices=[1, 2], ge=0)) -> str: ...",
            "input 'x': choices cannot be combined with ge/le",
        ),
        (
            "def predict(self, x: int = Input(min_length=1)) -> str: ...",
            "input 'x': min_length/max_length/regex only apply to str inputs",
        ),
    ],
)
def test_refusals_name_the_parameter_and_why_in_both_readings(tmp_path, source, message):
    module = f"""
from typing import Optional, Union
import torch
from cog import BasePredictor, ConcatenateIterator, Input, Path, Secret

class Predictor(BasePredictor):
    {source}
"""
    directory, config = project(tmp_path, module)
    with pytest.raises(SchemaError, match=_escape(message)):
        generate_schema(directory, config, static=True)
    with pytest.raises((SchemaError, ImportError)):
        generate_schema(directory, config, static=False)


def _escape(text):
    import re

    return re.escape(text)


def test_a_model_with_both_run_and_predict_is_refused(tmp_path):
    source = """
    from cog import BaseRunner
    class Predictor(BaseRunner):
        def run(self) -> str: ...
        def predict(self) -> str: ...
    """
    with pytest.raises(SchemaError, match="either run\\(\\) or predict\\(\\)"):
        generate_schema(*project(tmp_path, source), static=True)


def test_a_name_the_sdk_does_not_export_is_refused_at_its_line(tmp_path):
    source = """
    from cog import BasePredictor
    from cog.types import Weights
    class Predictor(BasePredictor):
        def predict(self) -> str: ...
    """
    with pytest.raises(SchemaError, match=r"predict.py:3: `Weights` cannot be imported"):
        generate_schema(*project(tmp_path, source), static=True)


def test_only_what_needs_running_code_is_refused_naming_parameter_and_expression(tmp_path):
    source = """
    from cog import BasePredictor, Input
    import torch
    MODES = {"fast": torch.float16}
    class Predictor(BasePredictor):
        def predict(self, mode: str = Input(choices=list(MODES.keys()), default=str(MODES["fast"]))) -> str: ...
    """
    with pytest.raises(SchemaError, match=r"input 'mode': the default `str\(MODES\['fast'\]\)`"):
        generate_schema(*project(tmp_path, source), static=True)


def test_a_type_a_package_init_exports_is_refused_by_cog_schema(tmp_path):
    """Cog's static reader follows types into module files, not into `pkg/__init__.py`."""
    import subprocess
    import sys

    (tmp_path / "mypackage").mkdir()
    (tmp_path / "mypackage" / "__init__.py").write_text(
        "from cog import BaseModel\n\n\nclass Output(BaseModel):\n    text: str\n"
    )
    (tmp_path / "mypackage" / "types.py").write_text(
        "from cog import BaseModel\n\n\nclass Typed(BaseModel):\n    text: str\n"
    )
    (tmp_path / "cog.yaml").write_text('build:\n  python_version: "3.12"\nrun: predict.py:Runner\n')
    predictor = "from cog import BaseRunner\nfrom {module} import {name}\n\n\nclass Runner(BaseRunner):\n    def run(self, prompt: str) -> {name}:\n        return {name}(text=prompt)\n"
    schema = [sys.executable, "-c", "from cog.cli.main import main; main()", "schema", "--static"]
    (tmp_path / "predict.py").write_text(predictor.format(module="mypackage", name="Output"))
    refused = subprocess.run(schema, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1
    assert "cannot resolve type 'Output' (imported from 'mypackage')" in refused.stderr
    (tmp_path / "predict.py").write_text(predictor.format(module="mypackage.types", name="Typed"))
    read = subprocess.run(schema, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert read.returncode == 0, read.stderr
    assert '"Output":{"properties":{"text"' in read.stdout.replace(" ", "")
