"""`cog schema` without --static imports the model in its own environment, as `cog predict`
runs it; `--static` needs nothing but the CLI's Python."""

import importlib.util
import json
import os

from .conftest import run_cog
from .test_local_runtime import _wheel

# Needs a package only the model's environment has; prints while it is imported.
MODEL = """\
import pycog_probe
from cog import BasePredictor, Input

print("probe", pycog_probe.VALUE)


class Predictor(BasePredictor):
    def predict(self, text: str = Input(description="words", default="hi")) -> str:
        return text * pycog_probe.VALUE
"""


def test_the_runtime_reading_imports_the_model_in_its_environment(example, tmp_path):
    assert importlib.util.find_spec("pycog_probe") is None  # the CLI's Python lacks it
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels, "pycog_probe", "1.0", "VALUE = 3\n")
    project = example("hello-world")
    (project / "predict.py").write_text(MODEL)
    (project / "requirements.txt").write_text("pycog-probe==1.0\n")
    (project / "cog.yaml").write_text(
        'build:\n  python_version: "3.11"\n  python_requirements: requirements.txt\n'
        "predict: predict.py:Predictor\n"
    )
    find_links = f"{wheels} {os.environ.get('PIP_FIND_LINKS', '')}".strip()
    env = {"PIP_FIND_LINKS": find_links}
    runtime = run_cog("schema", "--runtime", "local", cwd=project, env=env)
    assert runtime.returncode == 0, runtime.stderr
    static = run_cog("schema", "--static", cwd=project, env=env)
    assert static.returncode == 0, static.stderr
    assert runtime.stdout == static.stdout  # the model's print went to stderr, not the document
    assert "probe 3" in runtime.stderr
    text = json.loads(runtime.stdout)["components"]["schemas"]["Input"]["properties"]["text"]
    assert text["description"] == "words"


def test_an_import_error_in_the_environment_names_the_fix(example):
    project = example("hello-world")
    (project / "predict.py").write_text(MODEL)  # pycog_probe is not in the requirements
    result = run_cog("schema", "--runtime", "local", cwd=project)
    assert result.returncode == 1
    assert "No module named 'pycog_probe'" in result.stderr
    assert "python_requirements" in result.stderr and "--static" in result.stderr
    assert result.stdout == ""


def test_image_filter_gives_its_schema(example):
    project = example("image-filter")
    result = run_cog("schema", "--runtime", "local", cwd=project)
    assert result.returncode == 0, result.stderr
    properties = json.loads(result.stdout)["components"]["schemas"]["Input"]["properties"]
    assert "image" in properties
