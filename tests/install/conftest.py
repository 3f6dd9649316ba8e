"""pycog as users get it: its wheel installed into a fresh virtualenv outside the checkout.

One wheel and one virtualenv per session (building and installing them is most of the
module's time); each test runs the installed `cog`/`pget` executables from a directory
outside the checkout, with an environment that names nothing of the source tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What could make the checkout importable, or point pycog at a wheel of its own choosing.
LEAKY_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "COG_SDK_WHEEL")
SYSTEM_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


@dataclass(frozen=True)
class Installation:
    """A fresh virtualenv with pycog's wheel installed, and the cache its commands use."""

    venv: Path
    cache: Path
    wheel: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The process environment of a user who installed the wheel: the venv's bin and the
        system's folders on PATH, nothing of the checkout."""
        env = {name: value for name, value in os.environ.items() if name not in LEAKY_VARIABLES}
        env["PATH"] = os.pathsep.join([str(self.bin), *SYSTEM_PATH])
        env["COG_CACHE_DIR"] = str(self.cache)
        env["NO_COLOR"] = "1"
        env.update(extra or {})
        return env

    def run(
        self,
        program: str,
        *args: str,
        cwd: Path,
        timeout: float = 300,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run one of the venv's executables (`cog`, `pget`, `python`) to completion."""
        assert not cwd.resolve().is_relative_to(ROOT), f"{cwd} is inside the checkout"
        return subprocess.run(
            [str(self.bin / program), *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(env),
            stdin=subprocess.DEVNULL,
        )


def _checked(command: list[str], cwd: Path, timeout: float) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stderr[-3000:]}"


@pytest.fixture(scope="session")
def pycog_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pycog's wheel, built from the checkout as a release would be."""
    dist = tmp_path_factory.mktemp("dist")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)]
    _checked(command, cwd=dist, timeout=300)
    (wheel,) = dist.glob("pycog-*.whl")
    return wheel


@pytest.fixture(scope="session")
def installed(
    tmp_path_factory: pytest.TempPathFactory, pycog_wheel: Path
) -> Iterator[Installation]:
    """A fresh virtualenv outside the checkout with the wheel (and its dependencies) in it."""
    home = tmp_path_factory.mktemp("installed")
    venv = home / "venv"
    # The interpreter itself, not a venv's: a venv made from a venv's python still works, but
    # the base interpreter is what a user has.
    base_python = getattr(sys, "_base_executable", sys.executable)
    _checked([base_python, "-m", "venv", str(venv)], cwd=home, timeout=120)
    clean = {name: value for name, value in os.environ.items() if name not in LEAKY_VARIABLES}
    result = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(pycog_wheel)],
        cwd=home,
        capture_output=True,
        text=True,
        timeout=600,
        env=clean,
    )
    assert result.returncode == 0, f"pip install of the wheel failed:\n{result.stderr[-3000:]}"
    yield Installation(venv=venv, cache=home / "cache", wheel=pycog_wheel)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def project(installed: Installation, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model made by the installed `cog init`, outside the checkout."""
    directory = tmp_path_factory.mktemp("project")
    result = installed.run("cog", "init", cwd=directory)
    assert result.returncode == 0, result.stderr
    return directory
