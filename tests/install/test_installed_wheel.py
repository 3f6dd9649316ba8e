"""Every command of pycog installed from its wheel, run from a project outside the checkout."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from packaging.requirements import Requirement

from tests.weights.origin import Origin, OriginServer, OriginSettings

from .conftest import ROOT, Installation

pytestmark = pytest.mark.install

TRAINER = """\
from cog import Input


def train(word: str = Input(description="What to learn"), times: int = 2) -> str:
    print("training", flush=True)
    return "-".join([word] * times)
"""

# Where a module is loaded from, and every sys.path entry, as JSON.
WHERE_IS_COG = (
    "import cog, json, sys, sysconfig; "
    "print(json.dumps({'cog': cog.__file__, 'path': sys.path, "
    "'purelib': sysconfig.get_path('purelib')}))"
)


def _inside(path: str | Path, root: Path) -> bool:
    return Path(path).resolve().is_relative_to(root.resolve())


def test_cog_is_imported_from_the_venv_and_nothing_of_the_checkout_is_importable(
    installed: Installation, tmp_path: Path
) -> None:
    result = installed.run("python", "-c", WHERE_IS_COG, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    where = json.loads(result.stdout)
    assert _inside(where["cog"], installed.venv)
    assert not [entry for entry in where["path"] if entry and _inside(entry, ROOT)]
    site_packages = Path(where["purelib"])
    for pth in site_packages.glob("*.pth"):
        assert str(ROOT) not in pth.read_text(), f"{pth} points into the checkout"
    (dist_info,) = site_packages.glob("pycog-*.dist-info")
    # pip records where a file install came from (PEP 610): a wheel archive, not a directory.
    origin = json.loads((dist_info / "direct_url.json").read_text())
    assert "archive_info" in origin and "dir_info" not in origin, origin


def _requirements(installed: Installation, cwd: Path) -> list[Requirement]:
    script = (
        "import importlib.metadata, json; print(json.dumps(importlib.metadata.requires('pycog')))"
    )
    result = installed.run("python", "-c", script, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return [Requirement(line) for line in json.loads(result.stdout)]


def _wanted(requirements: list[Requirement], extra: str, platform: str) -> set[str]:
    environment = {"extra": extra, "sys_platform": platform}
    return {
        f"{req.name.lower()}{req.specifier}"
        for req in requirements
        if req.marker is None or req.marker.evaluate(environment)
    }


@pytest.mark.parametrize("platform", ["linux", "darwin", "win32"])
def test_the_server_extra_is_a_subset_of_the_dependencies(
    installed: Installation, tmp_path: Path, platform: str
) -> None:
    requirements = _requirements(installed, tmp_path)
    server_only = [
        req
        for req in requirements
        if req.marker is not None
        and req.marker.evaluate({"extra": "server"})
        and not req.marker.evaluate({"extra": ""})
    ]
    assert server_only, "the installed pycog has no `server` extra"
    everything = _wanted(requirements, "", platform)
    assert _wanted(requirements, "server", platform) - everything == set()


def test_init_makes_a_project_that_doctor_accepts(installed: Installation, project: Path) -> None:
    assert (project / "cog.yaml").is_file() and (project / "run.py").is_file()
    result = installed.run("cog", "doctor", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues found" in result.stdout + result.stderr


@pytest.mark.parametrize("command", ["predict", "run"])
def test_predict_and_run_on_the_local_runtime(
    installed: Installation, project: Path, command: str
) -> None:
    result = installed.run(
        "cog", command, "-i", "prompt=hi", "-i", "repeat=2", "--runtime", "local", cwd=project
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "You said: hi You said: hi\n"


def test_the_local_environment_gets_the_installed_pycog(
    installed: Installation, project: Path
) -> None:
    result = installed.run(
        "cog", "exec", "--runtime", "local", "python", "-c", WHERE_IS_COG, cwd=project
    )
    assert result.returncode == 0, result.stderr
    where = json.loads(result.stdout.strip().splitlines()[-1])
    # The model's own environment (under the cache), with the wheel's copy of cog in it.
    assert _inside(where["cog"], installed.cache / "envs")
    assert not [entry for entry in where["path"] if entry and _inside(entry, ROOT)]
    # That copy came from the wheel rebuilt out of the installed distribution (no checkout).
    assert list((installed.cache / "sdk-wheels").rglob("pycog-*.whl"))


@pytest.mark.parametrize("static", [False, True], ids=["import", "static"])
def test_schema(installed: Installation, project: Path, static: bool) -> None:
    result = installed.run("cog", "schema", *(["--static"] if static else []), cwd=project)
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    inputs = schema["components"]["schemas"]["Input"]
    assert list(inputs["properties"]) == ["prompt", "repeat"]
    assert inputs["required"] == ["prompt"]


def test_train_on_the_local_runtime(installed: Installation, tmp_path: Path) -> None:
    trainer = tmp_path / "trainer"
    trainer.mkdir()
    python = installed.run(
        "python",
        "-c",
        "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')",
        cwd=tmp_path,
    ).stdout.strip()
    (trainer / "cog.yaml").write_text(
        f'build:\n  python_version: "{python}"\ntrain: "train.py:train"\n'
    )
    (trainer / "train.py").write_text(TRAINER)
    result = installed.run(
        "cog", "train", "-i", "word=ok", "-i", "times=3", "--runtime", "local", cwd=trainer
    )
    assert result.returncode == 0, result.stderr
    # As in Cog, a trainer's output is written to ./weights.
    assert (trainer / "weights").read_text() == "ok-ok-ok"
    assert "training" in result.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(installed: Installation, project: Path) -> Iterator[str]:
    """`cog serve` on a free loopback port, stopped (and its process group reaped) after."""
    port = _free_port()
    process = subprocess.Popen(
        [str(installed.bin / "cog"), "serve", "-p", str(port), "--runtime", "local"],
        cwd=project,
        env=installed.env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # so everything it started can be reaped at the end
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{url}/health-check", timeout=2).json()["status"] == "READY":
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        assert process.poll() is None, process.communicate()[1]
        yield url
    finally:
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def test_serve_answers_a_prediction(served: str) -> None:
    response = httpx.post(f"{served}/predictions", json={"input": {"prompt": "yo"}}, timeout=60)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "succeeded"
    assert body["output"] == "You said: yo"


def test_pget_downloads_and_extracts_from_a_loopback_server(
    installed: Installation, tmp_path: Path
) -> None:
    payload = os.urandom(300_000)
    archive = tmp_path / "weights.tar"
    source = tmp_path / "source"
    source.mkdir()
    (source / "model.bin").write_bytes(payload)
    subprocess.run(["tar", "-C", str(source), "-cf", str(archive), "model.bin"], check=True)
    files = {"model.bin": payload, "weights.tar": archive.read_bytes()}
    with OriginServer(Origin(files, OriginSettings(fail_first=0))) as origin:
        fetched = installed.run(
            "pget", f"{origin.url}/f/model.bin", str(tmp_path / "got.bin"), cwd=tmp_path
        )
        extracted = installed.run(
            "pget", "-x", f"{origin.url}/f/weights.tar", str(tmp_path / "weights"), cwd=tmp_path
        )
    assert fetched.returncode == 0, fetched.stderr
    assert (tmp_path / "got.bin").read_bytes() == payload
    assert extracted.returncode == 0, extracted.stderr
    assert (tmp_path / "weights" / "model.bin").read_bytes() == payload


TEST_BASE_IMAGE = "pycog-test-base:bookworm"


@pytest.fixture
def docker_cli() -> str:
    """The docker CLI of the test engine (DOCKER_HOST), or a skip naming why there is none."""
    if os.environ.get("PYCOG_SKIP_DOCKER") == "1":
        pytest.skip("PYCOG_SKIP_DOCKER=1")
    docker = os.environ.get("PYCOG_DOCKER_CLI") or shutil.which("docker")
    if "DOCKER_HOST" not in os.environ or docker is None:
        pytest.skip("no test Docker engine (DOCKER_HOST unset; script/test starts one)")
    probe = subprocess.run(
        [docker, "image", "inspect", TEST_BASE_IMAGE], capture_output=True, timeout=60
    )
    if probe.returncode != 0:
        pytest.skip(
            f"the test engine does not answer or has no {TEST_BASE_IMAGE} (script/lib/base-images)"
        )
    # cog predict's image starts from Cog's default base for 3.11, which base-images tags too.
    if subprocess.run(
        [docker, "image", "inspect", "python:3.11-slim"], capture_output=True, timeout=60
    ).returncode:
        pytest.skip("the test engine has no python:3.11-slim (script/lib/base-images tags it)")
    return docker


@pytest.mark.docker
def test_build_and_predict_in_docker(
    docker_cli: str, installed: Installation, tmp_path: Path
) -> None:
    docker_env = {"DOCKER_HOST": os.environ["DOCKER_HOST"], "PYCOG_DOCKER_CLI": docker_cli}
    project = tmp_path / "model"
    shutil.copytree(ROOT / "examples" / "hello-world", project)
    tag = f"pycog-install-test/hello:{os.getpid()}"
    built = installed.run(
        "cog", "build", "-t", tag, "--base-image", TEST_BASE_IMAGE, "--progress", "quiet",
        cwd=project, env=docker_env, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    predicted = installed.run(
        "cog", "predict", "--runtime", "docker", "-i", "name=Docker", "--progress", "quiet",
        cwd=project, env=docker_env, timeout=600,
    )  # fmt: skip
    assert predicted.returncode == 0, predicted.stderr
    assert predicted.stdout == "Hello, Docker!\n"
    subprocess.run([docker_cli, "rmi", "-f", tag], capture_output=True, timeout=120)
