"""Cog's doctor checks, through the real CLI on real project folders: findings, remediations,
exit status (1 only for errors) and what `--fix` writes."""

import subprocess
import sys
import textwrap

import pytest

CLI = [sys.executable, "-c", "from cog.cli.main import main; main()"]
PREDICTOR = """\
from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, s: str) -> str:
        return "hello " + s
"""


def run(*args, cwd):
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def project(tmp_path, config: str, **files: str):
    (tmp_path / "cog.yaml").write_text('build:\n  python_version: "3.12"\n' + config)
    for name, text in files.items():
        (tmp_path / name.replace("__", "/").replace("_py", ".py")).write_text(textwrap.dedent(text))
    return tmp_path


def test_a_clean_project_has_no_issues(tmp_path):
    runner = PREDICTOR.replace("Predictor", "Runner").replace("predict(", "run(")
    result = run("doctor", cwd=project(tmp_path, 'run: "run.py:Runner"\n', run_py=runner))
    assert result.returncode == 0, result.stderr
    assert "experimental" in result.stderr
    assert result.stderr.rstrip().endswith("no issues found")


def test_a_missing_predictor_file_is_an_error_with_its_remediation(tmp_path):
    folder = project(tmp_path, 'predict: "predict.py:Predictor"\n')
    for args in (("doctor",), ("doctor", "--fix")):
        result = run(*args, cwd=folder)
        assert result.returncode == 1
        assert "✗ Predict reference\n  cog.yaml:3 — predict.py not found\n" in result.stderr
        assert (
            "Remediation: Create predict.py or update the predict field in cog.yaml"
            in result.stderr
        )
        assert "does not exist in" not in result.stderr  # said once, in Cog's words


def test_a_missing_class_names_the_classes_there_are(tmp_path):
    result = run(
        "doctor", cwd=project(tmp_path, 'predict: "predict.py:Nope"\n', predict_py=PREDICTOR)
    )
    assert result.returncode == 1
    assert "predict.py — class 'Nope' not found in predict.py; found: Predictor" in result.stderr


def test_deprecated_fields_are_warnings(tmp_path):
    config = '  python_packages:\n    - requests==2.31.0\nrun: "run.py:Runner"\n'
    runner = "from cog import BaseRunner\n\nclass Runner(BaseRunner):\n    def run(self) -> str:\n        return ''\n"
    result = run("doctor", cwd=project(tmp_path, config, run_py=runner))
    assert result.returncode == 0, result.stderr
    assert (
        "⚠ Deprecated fields\n  cog.yaml:3 — build.python_packages: is deprecated" in result.stderr
    )
    assert "Remediation: Use `python_requirements`" in result.stderr
    assert "Found 1 warning." in result.stderr


REMOVED = """\
import warnings
import os
from cog import BaseRunner
from cog.types import ExperimentalFeatureWarning, Path

warnings.filterwarnings("ignore", category=ExperimentalFeatureWarning)
HOME = os.environ.get("HOME")


class Runner(BaseRunner):
    def run(self, text: str) -> Path:
        return Path(text)
"""


def test_removed_imports_are_errors_and_fix_drops_them_and_their_uses(tmp_path):
    folder = project(tmp_path, 'run: "run.py:Runner"\n', run_py=REMOVED)
    found = run("doctor", cwd=folder)
    assert found.returncode == 1
    assert "run.py:4 — ExperimentalFeatureWarning was removed" in found.stderr
    fixed = run("doctor", "--fix", cwd=folder)
    assert "✓ Fixed: Deprecated imports" in fixed.stderr, fixed.stderr
    assert fixed.returncode == 0
    text = (folder / "run.py").read_text()
    assert text.startswith("import os\nfrom cog import BaseRunner\nfrom cog.types import Path\n\n")
    assert "warnings" not in text and 'HOME = os.environ.get("HOME")' in text
    assert run("doctor", cwd=folder).stderr.rstrip().endswith("no issues found")


WORKAROUND = """\
\"\"\"Outputs.\"\"\"
from pydantic import BaseModel as PBM, ConfigDict, Field
from cog import BaseRunner, Path


class Outputs(PBM):
    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)
    audio: Path
    score: float = Field(default=0.0)


class Runner(BaseRunner):
    def run(self, text: str) -> Outputs:
        return Outputs(audio=Path(text))
"""


def test_the_pydantic_workaround_is_an_error_and_fix_uses_cog_basemodel(tmp_path):
    folder = project(tmp_path, 'run: "run.py:Runner"\n', run_py=WORKAROUND)
    found = run("doctor", cwd=folder)
    assert found.returncode == 1
    assert "run.py:6 — Outputs subclasses pydantic.BaseModel" in found.stderr
    assert "cog.BaseModel" in found.stderr
    fixed = run("doctor", "--fix", cwd=folder)
    assert "✓ Fixed: Pydantic BaseModel workaround" in fixed.stderr, fixed.stderr
    text = (folder / "run.py").read_text()
    assert "from pydantic import ConfigDict, Field\n" in text  # still used: kept
    assert "from cog import BaseRunner, Path, BaseModel as PBM\n" in text
    assert "model_config = ConfigDict(frozen=True)" in text
    assert "arbitrary_types_allowed" not in text
    assert run("doctor", cwd=folder).returncode == 0


def test_predict_names_migrate_to_run(tmp_path):
    predictor = PREDICTOR + "\n\nclass Helper(BasePredictor):\n    pass\n"
    folder = project(
        tmp_path, "predict: 'predict.py:Predictor'  # the model\n", predict_py=predictor
    )
    found = run("doctor", cwd=folder)
    assert found.returncode == 0  # warnings
    assert "⚠ Deprecated predict interface names" in found.stderr
    assert "predict in cog.yaml is deprecated" in found.stderr
    fixed = run("doctor", "--fix", cwd=folder)
    assert "✓ Fixed: Deprecated predict interface names" in fixed.stderr, fixed.stderr
    assert "✓ Predict reference" in fixed.stderr  # the next checks read the migrated files
    assert not (folder / "predict.py").exists()
    assert (folder / "cog.yaml").read_text().endswith('run: "run.py:Runner"\n')
    text = (folder / "run.py").read_text()
    assert text.startswith("from cog import BasePredictor, BaseRunner\n")  # Helper still uses it
    assert "class Runner(BaseRunner):\n    def run(self, s: str) -> str:" in text


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ('predict: "predict.py:Predictor"\nrun: "predict.py:Predictor"\n', "cannot migrate"),
        ('predict: "model.py:Predictor"\n', None),
    ],
)
def test_a_migration_fix_cannot_make_is_refused_or_left_to_a_person(tmp_path, config, message):
    folder = project(tmp_path, config, predict_py=PREDICTOR, model_py=PREDICTOR)
    result = run("doctor", "--fix", cwd=folder)
    if message:
        assert f"✗ Deprecated predict interface names: {message}" in result.stderr
    else:
        assert "Remediation: rename predict: to run: in cog.yaml" in result.stderr
    assert (folder / "predict.py").read_text() == PREDICTOR
    assert not (folder / "run.py").exists()


def test_the_migration_never_overwrites_run_py(tmp_path):
    folder = project(
        tmp_path, 'predict: "predict.py:Predictor"\n', predict_py=PREDICTOR, run_py="# mine\n"
    )
    result = run("doctor", "--fix", cwd=folder)
    assert result.returncode == 1
    assert "run.py already exists" in result.stderr
    assert (folder / "run.py").read_text() == "# mine\n"
    assert (folder / "predict.py").read_text() == PREDICTOR


@pytest.mark.parametrize(
    ("config", "source"),
    [
        ("run: 12\n", PREDICTOR),
        ('run: "predict.py:Predictor"\n', PREDICTOR.replace("s: str", "s: list[list[str]]")),
        ('run: "predict.py:Predictor"\n', PREDICTOR.replace("-> str", "-> bytes")),
    ],
)
def test_doctor_reports_what_cog_schema_refuses(tmp_path, config, source):
    folder = project(tmp_path, config, predict_py=source)
    schema = run("schema", "--static", cwd=folder)
    assert schema.returncode == 1
    problem = schema.stderr.strip().removeprefix("Error: ").splitlines()[-1].strip()
    problem = problem.removeprefix("cog.yaml:3: ")
    result = run("doctor", cwd=folder)
    assert result.returncode == 1
    if problem.endswith(")"):  # cog.yaml's "(what to write)": doctor's remediation line
        problem, _, fix = problem[:-1].partition(" (")
        assert f"  Remediation: {fix}\n" in result.stderr
    assert problem in result.stderr, (problem, result.stderr)


def test_input_defaults_outside_their_constraints_are_warnings(tmp_path):
    source = PREDICTOR.replace(
        "from cog import BasePredictor", "from cog import BasePredictor, Input"
    ).replace(
        "s: str", 's: str = Input(description="s", default="x", min_length=2),\n'
        '        n: int = Input(description="n", default=100, le=50)'
    )  # fmt: skip
    result = run(
        "doctor", cwd=project(tmp_path, 'run: "predict.py:Predictor"\n', predict_py=source)
    )
    assert result.returncode == 0, result.stderr
    assert "predict.py:5 — input 's': the default is shorter than min_length=2" in result.stderr
    assert "predict.py:6 — input 'n': the default 100 is greater than le=50" in result.stderr
