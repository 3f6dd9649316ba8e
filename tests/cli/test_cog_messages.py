"""What the CLI prints, in the words of Cog's CLI (scripts match them), through real `cog`
subprocesses on the local runtime: input validation before anything starts, `--json` output,
empty outputs, failures, deprecation notices, cog.yaml found from a subdirectory."""

import json
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import run_cog

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"

VALIDATED = """
from typing import Optional

from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(
        self,
        prompt: str,
        count: int = Input(default=5, ge=1, le=10),
        size: str = Input(default="small", choices=["small", "medium", "large"]),
        title: str = Input(default="ok", max_length=5),
        slug: str = Input(default="ok", regex="^[a-z]+$"),
        note: Optional[str] = Input(default=None),
    ) -> str:
        return prompt
"""

METRICS = """
from cog import BasePredictor, current_scope


class Predictor(BasePredictor):
    def predict(self, prompt: str = "hello", fail: bool = False) -> str:
        if fail:
            raise RuntimeError("the model gave up")
        current_scope().record_metric("token_count", 10)
        current_scope().record_metric("temperature", 0.7)
        return "world " + prompt
"""

NONE_OUTPUT = """
from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self) -> int:
        return None
"""

NO_INPUTS = """
from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self) -> str:
        return "hi"
"""


FILE_OUTPUT = """
import tempfile

from cog import BasePredictor, Path


class Predictor(BasePredictor):
    def predict(self, text: str = "hello") -> Path:
        target = Path(tempfile.mkdtemp()) / "out.txt"
        target.write_text(text)
        return target
"""


def project(root: Path, predictor: str, key: str = "run", extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "predict.py").write_text(textwrap.dedent(predictor))
    (root / "cog.yaml").write_text(
        f'build:\n  python_version: "{PYTHON}"\n{key}: "predict.py:Predictor"\n{extra}'
    )
    return root


def cog(command: str, *args: str, cwd: Path, stdin: str | None = None):
    """`cog COMMAND --runtime local --progress quiet ARGS...` (options first: `exec` passes
    whatever follows its command on)."""
    options = ("--runtime", "local", "--progress", "quiet")
    return run_cog(command, *options, *args, cwd=cwd, stdin=stdin)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-i", "prompt=hi", "-i", "nope=1"], 'unknown input "nope"; valid inputs are: count, '),
        (["-i", "nope=1", "-i", "also=2"], 'unknown inputs "also", "nope"; valid inputs are: '),
        (["--json", '{"prompt": "hi", "nope": 1}'], 'unknown input "nope"'),
        ([], 'missing required input "prompt"'),
        (["-i", "prompt=hi", "-i", "count=0"], 'invalid input "count": number must be at least 1'),
        (["-i", "prompt=hi", "-i", "count=99"], 'invalid input "count"'),
        (["-i", "prompt=hi", "-i", "count=lots"], 'invalid input "count": expected integer, got'),
        (["-i", "prompt=hi", "-i", "size=huge"], "must be one of: small, medium, large"),
        (["-i", "prompt=hi", "-i", "title=toolong"], 'invalid input "title"'),
        (["-i", "prompt=hi", "-i", "slug=BAD"], 'invalid input "slug"'),
        (["--json", '{"prompt": "hi", "note": null}'], "must not be null (omit the input"),
        (["-i", "prompt=hi", "--json", '{"prompt": "hi"}'], "Must use one of --json or --input"),
    ],
)
def test_inputs_are_refused_in_cogs_words_before_anything_starts(tmp_path, args, words):
    result = cog("run", *args, cwd=project(tmp_path / "model", VALIDATED))
    assert result.returncode == 1
    assert words in result.stderr
    assert "Runtime:" not in result.stderr  # nothing was built or started


def test_several_problems_are_listed_under_one_line(tmp_path):
    model = project(tmp_path / "model", VALIDATED)
    result = cog("run", "-i", "count=lots", "-i", "size=huge", cwd=model)
    assert result.returncode == 1
    assert "input validation failed:\n- " in result.stderr
    assert '- missing required input "prompt"' in result.stderr
    assert '- invalid input "size": must be one of: small, medium, large' in result.stderr


def test_a_model_without_inputs_says_so(tmp_path):
    result = cog("run", "-i", "x=1", cwd=project(tmp_path / "model", NO_INPUTS))
    assert result.returncode == 1
    assert 'unknown input "x"; model does not accept inputs' in result.stderr


def test_training_inputs_are_validated_before_anything_starts(tmp_path):
    model = project(tmp_path / "model", NO_INPUTS, extra='train: "train.py:train"\n')
    (model / "train.py").write_text(
        "from cog import Input\n\n\ndef train(epochs: int = Input(ge=1)) -> str:\n    return 'ok'\n"
    )
    result = cog("train", "-i", "epochs=0", cwd=model)
    assert result.returncode == 1
    assert 'invalid input "epochs"' in result.stderr
    assert 'Command "train" is deprecated' in result.stderr
    assert "Runtime:" not in result.stderr


def test_json_mode_prints_the_whole_response_with_metrics(tmp_path):
    model = project(tmp_path / "model", METRICS)
    result = cog("run", "--json", '{"prompt": "there"}', cwd=model)
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    assert list(response) == ["status", "output", "error", "metrics"]
    assert response["status"] == "succeeded"
    assert response["output"] == "world there"
    assert response["error"] == ""
    assert response["metrics"]["token_count"] == 10
    assert response["metrics"]["temperature"] == 0.7
    assert "predict_time" in response["metrics"]
    assert '\n  "status": "succeeded",\n' in result.stdout  # indented as Cog's


@pytest.mark.parametrize("argument", ["-", "@-", "@inputs.json"])
def test_json_inputs_from_stdin_or_a_file(tmp_path, argument):
    model = project(tmp_path / "model", METRICS)
    (model / "inputs.json").write_text('{"prompt": "from a file"}')
    stdin = '{"prompt": "from stdin"}'
    result = cog("run", "--json", argument, cwd=model, stdin=stdin)
    assert result.returncode == 0, result.stderr
    expected = "world from a file" if argument.endswith(".json") else "world from stdin"
    assert json.loads(result.stdout)["output"] == expected


def test_json_mode_writes_the_response_to_output_and_fails_with_status_1(tmp_path):
    model = project(tmp_path / "model", METRICS)
    written = cog("run", "--json", '{"prompt": "x"}', "-o", "result.json", cwd=model)
    assert written.returncode == 0, written.stderr
    assert written.stdout == ""
    assert json.loads((model / "result.json").read_text())["output"] == "world x"
    assert "Written output to: result.json" in written.stderr
    failed = cog("run", "--json", '{"fail": true}', cwd=model)
    assert failed.returncode == 1
    response = json.loads(failed.stdout)
    assert response["status"] == "failed"
    assert "the model gave up" in response["error"]


def test_a_failed_prediction_says_its_status_and_error(tmp_path):
    result = cog("run", "-i", "fail=true", cwd=project(tmp_path / "model", METRICS))
    assert result.returncode == 1
    assert 'Prediction failed with status "failed": the model gave up' in result.stderr


def test_no_output_is_said_on_stderr(tmp_path):
    result = cog("run", cwd=project(tmp_path / "model", NONE_OUTPUT))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "No output generated" in result.stderr


def test_deprecation_notices_are_cogs(tmp_path):
    legacy = project(tmp_path / "legacy", METRICS, key="predict")
    predicted = cog("predict", "-i", "prompt=a", cwd=legacy)
    assert predicted.returncode == 0, predicted.stderr
    assert predicted.stdout == "world a\n"
    assert '"cog predict" is deprecated, use "cog run"' in predicted.stderr
    assert 'deprecated field "predict": use "run" instead' in predicted.stderr
    current = cog("run", "-i", "prompt=a", cwd=project(tmp_path / "current", METRICS))
    assert current.returncode == 0, current.stderr
    assert "deprecated" not in current.stderr


def test_train_is_deprecated_even_without_cog_yaml(tmp_path):
    result = cog("train", cwd=tmp_path)
    assert result.returncode == 1
    assert 'Command "train" is deprecated' in result.stderr
    assert "will be removed in a future version of Cog" in result.stderr


def test_commands_find_cog_yaml_in_parent_directories(tmp_path):
    model = project(tmp_path / "model", METRICS)
    deep = model / "some" / "sub" / "dir"
    deep.mkdir(parents=True)
    executed = cog("exec", "python", "-c", "import os; print(os.getcwd())", cwd=deep)
    assert executed.returncode == 0, executed.stderr
    assert executed.stdout.strip() == str(model)  # run in the project directory
    ran = cog("run", "-i", "prompt=deep", cwd=deep)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "world deep\n"


def test_a_missing_predictor_names_predict(tmp_path):
    (tmp_path / "cog.yaml").write_text(f'build:\n  python_version: "{PYTHON}"\n')
    result = cog("build", cwd=tmp_path)
    assert result.returncode == 1
    assert "no predict or train reference found in cog.yaml" in result.stderr


def test_a_gpu_build_with_an_unpinned_torch_is_refused(tmp_path):
    model = project(tmp_path / "model", NO_INPUTS)
    (model / "cog.yaml").write_text(
        "build:\n  gpu: true\n"
        f'  python_version: "{PYTHON}"\n  python_requirements: requirements.txt\n'
        'run: "predict.py:Predictor"\n'
    )
    (model / "requirements.txt").write_text("torch\n")
    result = cog("build", cwd=model)
    assert result.returncode == 1
    assert "torch version must be specified when using CUDA" in result.stderr


def test_json_mode_writes_file_outputs_and_shows_their_paths(tmp_path):
    model = project(tmp_path / "model", FILE_OUTPUT)
    printed = cog("run", "--json", '{"text": "file body"}', cwd=model)
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout)["output"] == "output.txt"
    assert (model / "output.txt").read_text() == "file body"
    written = cog("run", "--json", '{"text": "again"}', "-o", "result.json", cwd=model)
    assert written.returncode == 0, written.stderr
    assert json.loads((model / "result.json").read_text())["output"] == "result.txt"
    assert (model / "result.txt").read_text() == "again"
