"""The local runtime through the real CLI: live logs, interpreters, pip settings (signals are in
test_signals.py)."""

import os
import sys
import zipfile
from pathlib import Path

import pytest

from cog.localenv import LocalEnvironmentError
from cog.localenv.interpreter import find_interpreter
from cog.localenv.pip_settings import parse_pip_config_list

from .conftest import cog_executable, run_cog
from .processes import cog_process

SLOW_MODEL = """\
import time
from cog import BasePredictor

class Predictor(BasePredictor):
    def predict(self, seconds: float = 60) -> str:
        print("started", flush=True)
        time.sleep(seconds)
        print("finished", flush=True)
        return "done"
"""


def test_logs_show_while_the_prediction_runs(example):
    project = example("hello-world")
    (project / "predict.py").write_text(SLOW_MODEL)
    with cog_process("predict", "-i", "seconds=3", "--runtime", "local", cwd=project) as cli:
        assert cli.read_until("started"), cli.stderr
        assert cli.process.poll() is None  # still predicting: the log came live, not at the end
        status, out, err = cli.finish()
    assert status == 0, err
    assert out == "done\n"
    assert "finished" in err and err.count("started") == 1  # each line once


def test_a_python_that_is_not_installed_is_downloaded_by_uv_or_named(example, tmp_path):
    # PATH with only `cog` and the system folders, and a supported version none of them has.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "cog").symlink_to(cog_executable())
    system = ("/usr/bin", "/bin")
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    missing = [
        version
        for version in ("3.13", "3.12", "3.11")
        if version != running and not any(Path(d, f"python{version}").exists() for d in system)
    ]
    assert missing, "every supported Python is installed: this test needs one that is not"
    project = example("hello-world")
    (project / "cog.yaml").write_text(
        f'build:\n  python_version: "{missing[0]}"\npredict: predict.py:Predictor\n'
    )
    path = os.pathsep.join([str(bin_dir), *system])
    forbidden = {"PATH": path, "UV_PYTHON_DOWNLOADS": "never"}
    result = run_cog("predict", "--runtime", "local", cwd=project, timeout=120, env=forbidden)
    assert result.returncode == 1
    assert f"Python {missing[0]} (build.python_version in cog.yaml) is not installed" in (
        result.stderr
    )
    assert "UV_PYTHON_DOWNLOADS forbids downloads" in result.stderr
    # Allowed, uv tries to download one (here from a mirror that refuses: hermetic, and fast).
    unreachable = {"PATH": path, "UV_PYTHON_INSTALL_MIRROR": "http://127.0.0.1:9/"}
    result = run_cog("predict", "--runtime", "local", cwd=project, timeout=300, env=unreachable)
    assert result.returncode == 1
    assert f"could not be downloaded (uv python install {missing[0]}: " in result.stderr


def test_pyenv_installs_behind_its_shims_are_found(tmp_path, monkeypatch):
    # A pyenv layout (of a version nothing else provides, not even the running Python): a shim that fails (the version is not active), installs of two patches.
    root = tmp_path / "pyenv"
    (root / "shims").mkdir(parents=True)
    (root / "shims" / "python3.99").write_text("#!/bin/sh\nexit 127\n")
    for name, reports in (("3.99.2", "3.99"), ("3.99.13", "3.99"), ("3.99-dev", "3.99")):
        python = root / "versions" / name / "bin" / "python3.99"
        python.parent.mkdir(parents=True)
        python.write_text(f"#!/bin/sh\necho {reports}\n")
    for path in root.rglob("python3.99"):
        path.chmod(0o755)
    monkeypatch.setenv("PATH", str(root / "shims"))
    found = find_interpreter("3.99")
    assert found == root / "versions" / "3.99.13" / "bin" / "python3.99"
    (found.parent / "python3.99").write_text("#!/bin/sh\necho 3.98\n")  # lies: the next one
    assert find_interpreter("3.99") == root / "versions" / "3.99.2" / "bin" / "python3.99"


OLDEST_MODEL = """\
import sys
from typing import Iterator, Optional

from cog import BasePredictor, Input, Path


class Predictor(BasePredictor):
    def setup(self) -> None:
        self.python = "%d.%d" % sys.version_info[:2]

    def predict(
        self,
        text: Path = Input(description="a text file"),
        times: int = Input(default=2, ge=1, le=5),
        suffix: Optional[str] = None,
        note: str | None = None,
    ) -> Iterator[Path]:
        body = text.read_text().strip()
        for index in range(times):
            out = Path(f"part-{index}.txt")
            out.write_text(f"{self.python} {index} {body}{suffix or ''}{note or ''}\\n")
            yield out
"""


def test_a_model_runs_on_python_3_10(example):
    try:
        find_interpreter("3.10")  # pyenv's, here: its `python3.10` shim fails while 3.11 is active
    except LocalEnvironmentError:
        pytest.skip("no Python 3.10 on this machine")
    project = example("hello-world")
    (project / "cog.yaml").write_text(
        'build:\n  python_version: "3.10"\npredict: predict.py:Predictor\n'
    )
    (project / "predict.py").write_text(OLDEST_MODEL)
    (project / "in.txt").write_text("hello\n")
    result = run_cog(
        "predict", "--runtime", "local", "-i", "text=@in.txt", "-i", "times=3", "-i", "suffix=!",
        cwd=project,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    outputs = sorted(project.glob("output.*.txt"))
    assert [path.read_text() for path in outputs] == [f"3.10 {i} hello!\n" for i in range(3)]


def test_python_3_9_is_refused_as_cog_refuses_it(example):
    project = example("hello-world")
    (project / "cog.yaml").write_text(
        'build:\n  python_version: "3.9"\npredict: predict.py:Predictor\n'
    )
    result = run_cog("predict", "--runtime", "local", cwd=project, timeout=120)
    assert result.returncode == 1
    message = 'invalid build.python_version "3.9": minimum supported Python version is 3.10'
    assert message in result.stderr
    assert "Building the environment" not in result.stderr


def _wheel(folder: Path, name: str, version: str, source: str) -> None:
    """A minimal pure-Python wheel (zip with the dist-info pip and uv need)."""
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": source,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{path},,\n" for path in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)


def test_the_environment_honours_pip_find_links(example, tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels, "pycog_probe", "1.0", "VALUE = 42\n")
    project = example("hello-world")
    (project / "requirements.txt").write_text("pycog-probe==1.0\n")
    (project / "cog.yaml").write_text(
        'build:\n  python_version: "3.11"\n  python_requirements: requirements.txt\n'
        "  system_packages: [ffmpeg]\npredict: predict.py:Predictor\n"
    )
    # Only pip's configuration knows this folder; pip reads PIP_* variables as configuration.
    find_links = f"{wheels} {os.environ.get('PIP_FIND_LINKS', '')}".strip()
    result = run_cog(
        "exec", "--runtime", "local", "--progress", "quiet",
        "python", "-c", "import pycog_probe; print(pycog_probe.VALUE)",
        cwd=project, env={"PIP_FIND_LINKS": find_links},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == "42\n"
    # Quiet progress still says what cannot be honoured locally, naming the key.
    assert "build.system_packages" in result.stderr and "ffmpeg" in result.stderr


def test_pip_config_list_becomes_uv_options():
    settings = parse_pip_config_list(
        "global.constraint='/etc/c.txt'\n"
        "global.extra-index-url='file:///a/simple file:///b/simple'\n"
        "global.find-links='/opt/wheels'\n"
        ":env:.find-links='/opt/wheels'\n"
        "global.index-url='https://mirror/simple'\n"
    )
    assert settings.uv_args() == [
        "--index-url", "https://mirror/simple",
        "--extra-index-url", "file:///a/simple",
        "--extra-index-url", "file:///b/simple",
        "--find-links", "/opt/wheels",
        "--constraint", "/etc/c.txt",
        "--index-strategy", "unsafe-best-match",
    ]  # fmt: skip


FAILING_SETUP_MODEL = """\
from cog import BasePredictor

class Predictor(BasePredictor):
    def setup(self) -> None:
        raise RuntimeError("weights are [missing]")

    def predict(self) -> str:
        return "never"
"""


def test_cog_serve_keeps_serving_setup_failed_after_a_failed_setup(example):
    import httpx

    from cog.cli.model import free_port

    project = example("hello-world")
    (project / "predict.py").write_text(FAILING_SETUP_MODEL)
    port = free_port()
    with cog_process("serve", "-p", str(port), "--runtime", "local", cwd=project) as cli:
        served = cli.read_until("Serving at")
        assert served and cli.process.poll() is None, cli.stderr
        health = httpx.get(f"http://127.0.0.1:{port}/health-check", timeout=10).json()
        refused = httpx.post(f"http://127.0.0.1:{port}/predictions", json={"input": {}}, timeout=10)
        assert cli.process.poll() is None  # still serving
    assert "model setup failed" in cli.stderr and "weights are [missing]" in cli.stderr
    assert health["status"] == "SETUP_FAILED"
    assert "weights are [missing]" in health["setup"]["logs"]
    assert refused.status_code == 503
