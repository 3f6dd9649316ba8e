"""Real servers on free loopback ports, serving fixture predictors picked by name.

Tests marked `every_python` run on the Python running the tests, on a real Python 3.10 (Cog's
minimum) environment that the local runtime builds, and on Debian 12's own Python 3.11.2
(`/usr/bin/python3.11`, in a plain venv), each skipped where the machine has none.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from cog.config import load_config
from cog.localenv import LocalEnvironmentError, prepare_environment
from cog.localenv.interpreter import find_interpreter

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[2]
ENV_CACHE = Path(os.environ.get("PYCOG_TEST_CACHE", ROOT / ".cache" / "test-envs"))
OLDEST_PYTHON = "3.10"
SYSTEM_PYTHON = Path("/usr/bin/python3.11")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen[str]
    project: Path

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=kwargs.pop("timeout", 30), **kwargs)

    def health(self) -> dict:
        with self.client() as client:
            return client.get("/health-check").json()

    def wait_for(self, *statuses: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        health: dict = {}
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                health = self.health()
                if health["status"] in statuses:
                    return health
            time.sleep(0.05)
        raise AssertionError(f"server never reached {statuses}: {health}")


@contextlib.contextmanager
def run_server(
    name: str,
    tmp_path: Path,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    wait: bool = True,
    python: str = sys.executable,
) -> Iterator[RunningServer]:
    project = tmp_path / name
    shutil.copytree(FIXTURES / name, project, dirs_exist_ok=True)
    port = free_port()
    process = subprocess.Popen(
        [python, "-m", "cog.server.http", "--host", "127.0.0.1", *args],
        cwd=project,
        env={**os.environ, "PORT": str(port), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = RunningServer(f"http://127.0.0.1:{port}", process, project)
    try:
        if wait:
            server.wait_for("READY", "SETUP_FAILED", "BUSY", "UNHEALTHY")
        else:
            server.wait_for("STARTING")
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("every_python"):
        metafunc.parametrize("model_python", ["running", OLDEST_PYTHON, "system"], indirect=True)


@pytest.fixture(scope="session")
def oldest_python_environment(tmp_path_factory) -> str:
    """The `python` of a local-runtime environment on Python 3.10, with this pycog in it."""
    try:
        find_interpreter(OLDEST_PYTHON)
    except LocalEnvironmentError:
        pytest.skip(f"no Python {OLDEST_PYTHON} on this machine")
    project = tmp_path_factory.mktemp("oldest-python")
    (project / "cog.yaml").write_text(f'build:\n  python_version: "{OLDEST_PYTHON}"\n')
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COG_CACHE_DIR", str(ENV_CACHE))
        environment = prepare_environment(load_config(project))
    return str(environment.python)


@pytest.fixture(scope="session")
def system_python_environment() -> str:
    """The `python` of a venv on the distribution's own Python, with this pycog installed
    (editable, with the server's dependencies), kept between runs while pyproject is unchanged."""
    if not SYSTEM_PYTHON.is_file():
        pytest.skip(f"no {SYSTEM_PYTHON} on this machine")
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:12]
    venv = ENV_CACHE / f"system-python-{digest}"
    python = venv / "bin" / "python"
    if not (venv / ".complete").exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", str(venv)], check=True, timeout=120)
        install = [str(python), "-m", "pip", "install", "-q", "-e", f"{ROOT}[server]"]
        subprocess.run(install, check=True, timeout=600)
        (venv / ".complete").touch()
    return str(python)


@pytest.fixture
def model_python(request) -> str:
    """The interpreter the server runs on: this one, 3.10, or the system's for `every_python`."""
    match getattr(request, "param", "running"):
        case "running":
            return sys.executable
        case "system":
            return str(request.getfixturevalue("system_python_environment"))
        case _:
            return str(request.getfixturevalue("oldest_python_environment"))


@pytest.fixture
def serve(tmp_path, model_python):
    """`with serve("echo") as server:` starts the named fixture's server."""

    def start(name: str, **kwargs):
        return run_server(name, tmp_path, python=model_python, **kwargs)

    return start
