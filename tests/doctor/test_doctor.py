"""`cog doctor` finds each rule's problem at its file:line, and `--fix` mends the safe ones."""

import shutil
import subprocess
import sys
from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "bad"


def doctor(*args, cwd):
    return subprocess.run(
        [sys.executable, "-c", "from cog.cli.main import main; main()", "doctor", *args],
        cwd=cwd, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def findings(output: str) -> set[tuple[str, str]]:
    """(location, check) for each finding `cog doctor` printed under its check's heading."""
    found, check = set(), ""
    for line in output.splitlines():
        if line[:2] in ("✓ ", "⚠ ", "✗ ", "ℹ "):
            check = line[2:].removeprefix("Fixed: ")
        elif line.startswith("  ") and " — " in line:
            found.add((line.strip().split(" — ", 1)[0], check))
    return found


def test_every_rule_is_found_at_its_line(tmp_path):
    project = tmp_path / "bad"
    shutil.copytree(FIXTURE, project)
    result = doctor(cwd=project)
    assert result.returncode == 0  # warnings only: Cog exits 1 for errors
    assert findings(result.stderr) == {
        ("cog.yaml:3", "CUDA for torch"),
        ("cog.yaml:4", "Python version"),
        ("cog.yaml:7", "pget release"),
        ("cog.yaml:8", "Deprecated predict interface names"),
        ("predict.py:6", "Deprecated predict interface names"),
        ("requirements.txt:1", "NumPy for torch"),
        ("requirements.txt:2", "Pinned requirements"),
        ("requirements.txt:2", "Hugging Face downloads"),
        ("requirements.txt:3", "Pinned requirements"),
        ("predict.py:10", "Predictor schema"),
        ("predict.py:11", "Inputs and outputs"),
        ("predict.py:12", "Inputs and outputs"),
        ("predict.py:13", "Inputs and outputs"),
        ("predict.py:14", "Inputs and outputs"),
        ("predict.py:7", "Inputs and outputs"),
        ("predict.py:16", "Inputs and outputs"),
    }
    assert 'Remediation: set build.cuda: "11.8"' in result.stderr
    assert "the default 'turbo' is not one of the choices ['fast', 'slow']" in result.stderr
    assert "Found 11 warnings." in result.stderr


def test_fix_applies_only_the_safe_fixes(tmp_path):
    project = tmp_path / "bad"
    shutil.copytree(FIXTURE, project)
    result = doctor("--fix", cwd=project)
    assert result.returncode == 0, result.stderr
    fixed = {line[len("✓ Fixed: ") :] for line in result.stderr.splitlines() if "Fixed: " in line}
    assert fixed == {
        "Deprecated predict interface names", "Python version", "CUDA for torch", "NumPy for torch"
    }  # fmt: skip
    assert (
        "Pinned requirements" in result.stderr
        and "Remediation: type it as cog.Secret" in result.stderr
    )
    text = (project / "cog.yaml").read_text()
    assert "python_version: '3.11'" in text and "cuda: '11.8'" in text
    assert "run: run.py:Runner" in text and "predict" not in text
    assert (project / "requirements.txt").read_text().endswith("numpy<2\n")
    assert not (project / "predict.py").exists()
    original = (FIXTURE / "predict.py").read_text()
    assert (project / "run.py").read_text() == original.replace(
        "BasePredictor", "BaseRunner"
    ).replace("class Predictor", "class Runner").replace("def predict(", "def run(")
    again = doctor(cwd=project)
    assert "Deprecated predict interface names" in again.stderr.replace("✓ ", "")
    assert ("cog.yaml:3", "CUDA for torch") not in findings(again.stderr)


def test_python_packages_move_to_a_requirements_file(tmp_path):
    (tmp_path / "predict.py").write_text("")
    packages = "".join(f"    - pkg{i}==1.0\n" for i in range(7))
    (tmp_path / "cog.yaml").write_text(
        f'build:\n  python_version: "3.11"\n  python_packages:\n{packages}predict: predict.py:P\n'
    )
    assert "ℹ Requirements file" in doctor(cwd=tmp_path).stderr
    doctor("--fix", cwd=tmp_path)
    assert (tmp_path / "requirements.txt").read_text().splitlines() == [
        f"pkg{i}==1.0" for i in range(7)
    ]
    assert "✓ Requirements file" in doctor(cwd=tmp_path).stderr


def test_init_then_doctor_is_clean_and_the_model_predicts(tmp_path):
    init = subprocess.run(
        [sys.executable, "-c", "from cog.cli.main import main; main()", "init"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    for name in ("cog.yaml", "run.py", "requirements.txt", ".dockerignore", "script/lint", "script/test",
                 "script/push", ".github/workflows/ci.yaml", "cog-safe-push-configs/default.yaml", "README.md"):  # fmt: skip
        assert (tmp_path / name).exists(), name
        assert f"Created {name}" in init.stderr
    assert (tmp_path / "script/test").stat().st_mode & 0o111
    result = doctor(cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "no issues found" in result.stderr and "⚠" not in result.stderr, result.stderr
    (tmp_path / "run.py").write_text("# mine\n")
    again = subprocess.run(
        [sys.executable, "-c", "from cog.cli.main import main; main()", "init"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "Skipped existing run.py" in again.stderr
    assert (tmp_path / "run.py").read_text() == "# mine\n"
    from cog.predictor import entry_function, load_predictor

    scaffolded = tmp_path / "fresh"
    subprocess.run(
        [sys.executable, "-c", "from cog.cli.main import main; main()", "init", str(scaffolded)],
        check=True,
        timeout=60,
    )
    predictor = load_predictor("run.py:Runner", scaffolded)
    predictor.setup()
    assert entry_function(predictor)(prompt="hi", repeat=2) == "You said: hi You said: hi"
