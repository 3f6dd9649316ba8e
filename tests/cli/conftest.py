"""Drive the real `cog` executable in subprocesses, with environments cached across runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
CACHE = Path(os.environ.get("PYCOG_TEST_CACHE", ROOT / ".cache" / "test-envs"))


def cog_executable() -> str:
    """The `cog` console script of the Python running the tests (not whatever is on PATH)."""
    script = Path(sysconfig.get_path("scripts")) / "cog"
    return str(script) if script.exists() else (shutil.which("cog") or "cog")


def run_cog(
    *args: str,
    cwd: Path,
    timeout: float = 900,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
):
    command = [cog_executable(), *args]
    return subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
        env={**os.environ, "COG_CACHE_DIR": str(CACHE), "NO_COLOR": "1", **(env or {})},
    )


@pytest.fixture
def example(tmp_path):
    """A copy of an example project in a temp dir (outputs land there, not in the repo)."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns(".cog", "output*"))
        return target

    return copy
