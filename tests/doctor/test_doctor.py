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
    found = set()
    for line in output.splitlines():
        if not line.startswith(" ") and ": [" in line:
            location, rest = line.split(": [", 1)
            found.add((location, rest.split("]", 1)[0]))
    return found


def test_every_rule_is_found_at_its_line(tmp_path):
    project = tmp_path / "bad"
    shutil.copytree(FIXTURE, project)
    result = doctor(cwd=project)
    assert result.returncode == 1
    assert findings(result.stdout) == {
        ("cog.yaml:3", "cuda-torch"),
        ("cog.yaml:4", "python-version"),
        ("cog.yaml:7", "pget-pinned"),
        ("requirements.txt:1", "numpy-torch"),
        ("requirements.txt:2", "pinned-requirements"),
        ("requirements.txt:2", "hf-transfer"),
        ("requirements.txt:3", "pinned-requirements"),
        ("predict.py:10", "choices-default"),
        ("predict.py:11", "secret-inputs"),
        ("predict.py:12", "path-types"),
        ("predict.py:13", "input-description"),
        ("predict.py:14", "path-types"),
        ("predict.py:7", "path-types"),
        ("predict.py:16", "setup-loading"),
    }
    assert 'fix: set build.cuda: "11.8"' in result.stdout


def test_fix_applies_only_the_safe_fixes(tmp_path):
    project = tmp_path / "bad"
    shutil.copytree(FIXTURE, project)
    result = doctor("--fix", cwd=project)
    assert result.returncode == 1  # the rest needs a person
    remaining = {check for _, check in findings(result.stdout)}
    assert not remaining & {"cuda-torch", "python-version", "numpy-torch"}
    assert {"pinned-requirements", "secret-inputs", "setup-loading"} <= remaining
    text = (project / "cog.yaml").read_text()
    assert "python_version: '3.11'" in text and "cuda: '11.8'" in text
    assert (project / "requirements.txt").read_text().endswith("numpy<2\n")
    assert (project / "predict.py").read_text() == (FIXTURE / "predict.py").read_text()


def test_python_packages_move_to_a_requirements_file(tmp_path):
    (tmp_path / "predict.py").write_text("")
    packages = "".join(f"    - pkg{i}==1.0\n" for i in range(7))
    (tmp_path / "cog.yaml").write_text(
        f'build:\n  python_version: "3.11"\n  python_packages:\n{packages}predict: predict.py:P\n'
    )
    assert "python-requirements" in doctor(cwd=tmp_path).stdout
    doctor("--fix", cwd=tmp_path)
    assert (tmp_path / "requirements.txt").read_text().splitlines() == [
        f"pkg{i}==1.0" for i in range(7)
    ]
    assert "python-requirements" not in doctor(cwd=tmp_path).stdout


def test_init_then_doctor_is_clean_and_the_model_predicts(tmp_path):
    init = subprocess.run(
        [sys.executable, "-c", "from cog.cli.main import main; main()", "init"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    for name in ("cog.yaml", "predict.py", "requirements.txt", ".dockerignore", "script/lint", "script/test",
                 "script/push", ".github/workflows/ci.yaml", "cog-safe-push-configs/default.yaml", "README.md"):  # fmt: skip
        assert (tmp_path / name).exists(), name
        assert f"Created {name}" in init.stderr
    assert (tmp_path / "script/test").stat().st_mode & 0o111
    result = doctor(cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    (tmp_path / "predict.py").write_text("# mine\n")
    again = subprocess.run(
        [sys.executable, "-c", "from cog.cli.main import main; main()", "init"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "Skipped existing predict.py" in again.stderr
    assert (tmp_path / "predict.py").read_text() == "# mine\n"
    from cog.predictor import entry_function, load_predictor

    scaffolded = tmp_path / "fresh"
    subprocess.run(
        [sys.executable, "-c", "from cog.cli.main import main; main()", "init", str(scaffolded)],
        check=True,
        timeout=60,
    )
    predictor = load_predictor("predict.py:Predictor", scaffolded)
    predictor.setup()
    assert entry_function(predictor)(prompt="hi", repeat=2) == "You said: hi You said: hi"
