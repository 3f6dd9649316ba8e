"""The CLI's Docker runtime. No container outlives the CLI: `cog serve`, `cog predict` and
`cog exec`, stopped by a signal or killed by SIGKILL, leave no container, no process of the
CLI's tree and a free port. `cog schema` imports the model in the container."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cog.build.engine import Docker
from tests.cli.conftest import EXAMPLES, run_cog
from tests.cli.processes import Cli, Proc, cog_process, wait_gone

from .conftest import free_port

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(600)]

GONE_TIMEOUT = 30.0
ALL_SIGNALS = [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP, signal.SIGINT]
# Leaves marks in the project (mounted at /src): when it started, and how it ended. Says where
# it is imported (Docker creates /.dockerenv in every container).
SLOW_MODEL = """\
import os
import time
from pathlib import Path
from cog import BasePredictor

print("in a container:", os.path.exists("/.dockerenv"))

class Predictor(BasePredictor):
    def predict(self, seconds: float = 60) -> str:
        Path("started.txt").write_text("yes")
        try:
            for _ in range(int(seconds * 10)):
                time.sleep(0.1)
        except BaseException as exc:
            Path("ended.txt").write_text(type(exc).__name__)
            raise
        return "done"
"""


@pytest.fixture(scope="module")
def project(docker: Docker, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A slow model under a name of its own (its image is `cog-sig-slow-dev`), built once."""
    project = tmp_path_factory.mktemp("signals") / "sig-slow"
    project.mkdir()
    (project / "cog.yaml").write_text((EXAMPLES / "hello-world" / "cog.yaml").read_text())
    (project / "predict.py").write_text(SLOW_MODEL)
    built = run_cog("exec", "--runtime", "docker", "true", cwd=project, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    return project


@pytest.fixture(autouse=True)
def fresh_marks(project: Path) -> Iterator[None]:
    for name in ("started.txt", "ended.txt"):
        (project / name).unlink(missing_ok=True)
    yield


def _container_name(tree: list[Proc]) -> str:
    """The name the CLI gave its container, read from its `docker run` client's arguments."""
    for process in tree:
        try:
            argv = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"run" in argv and b"--name" in argv:
            return argv[argv.index(b"--name") + 1].decode()
    raise AssertionError(f"no `docker run --name` among {tree}")


def _container_exists(docker: Docker, name: str) -> bool:
    listed = docker.run("ps", "--all", "--quiet", "--filter", f"name=^{name}$", check=False)
    return bool(listed.stdout.strip())


def _wait_container_gone(docker: Docker, name: str) -> bool:
    deadline = time.monotonic() + GONE_TIMEOUT
    while _container_exists(docker, name):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _wait_for(path: Path, cli: Cli, timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while not path.exists() and cli.process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return path.exists()


def _remove(docker: Docker, name: str | None) -> None:
    if name is not None:
        docker.run("rm", "--force", name, check=False)


@pytest.mark.parametrize("sig", ALL_SIGNALS, ids=lambda s: s.name)
def test_serve_in_a_container_leaves_nothing(docker: Docker, project: Path, sig) -> None:
    port = free_port()
    name = None
    args = ("serve", "--runtime", "docker", "-p", str(port))
    try:
        with cog_process(*args, cwd=project) as cli:
            assert cli.read_until("Serving at", timeout=300), cli.stderr
            tree = cli.remember_tree()
            name = _container_name(tree)
            assert _container_exists(docker, name)
            cli.process.send_signal(sig)
            status, _, err = cli.finish()
            assert status == (0 if sig == signal.SIGINT else -sig), err  # Ctrl-C: serve's stop
            assert _wait_container_gone(docker, name)
            assert wait_gone(tree, {port}) == []
    finally:
        _remove(docker, name)


@pytest.mark.parametrize("sig", ALL_SIGNALS, ids=lambda s: s.name)
def test_predict_in_a_container_leaves_nothing(docker: Docker, project: Path, sig) -> None:
    name = None
    try:
        with cog_process("predict", "--runtime", "docker", cwd=project) as cli:
            assert _wait_for(project / "started.txt", cli), cli.finish()
            tree = cli.remember_tree()
            name = _container_name(tree)
            cli.process.send_signal(sig)
            status, out, err = cli.finish()
            assert status == (1 if sig == signal.SIGINT else -sig), err  # Ctrl-C: Click's Abort
            assert _wait_container_gone(docker, name)
            assert wait_gone(tree, set()) == []
        if sig != signal.SIGKILL:
            assert "Canceling the prediction" in err
            assert (project / "ended.txt").read_text() == "CancelationException"
    finally:
        _remove(docker, name)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=lambda s: s.name)
def test_exec_in_a_container_leaves_nothing(docker: Docker, project: Path, sig) -> None:
    name = None
    script = "touch started.txt && sleep 60"
    try:
        with cog_process("exec", "--runtime", "docker", "sh", "-c", script, cwd=project) as cli:
            assert _wait_for(project / "started.txt", cli), cli.finish()
            tree = cli.remember_tree()
            name = _container_name(tree)
            cli.process.send_signal(sig)
            status, _, err = cli.finish()
            assert status == -sig, err
            assert _wait_container_gone(docker, name)
            assert wait_gone(tree, set()) == []
    finally:
        _remove(docker, name)


def test_schema_imports_the_model_in_the_container(project: Path) -> None:
    result = run_cog("schema", "--runtime", "docker", cwd=project, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "in a container: True" in result.stderr
    static = run_cog("schema", "--static", cwd=project)
    assert result.stdout == static.stdout
    assert "seconds" in json.loads(result.stdout)["components"]["schemas"]["Input"]["properties"]
