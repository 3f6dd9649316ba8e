"""Fixtures for the build tests: a real Docker engine, base image, projects and a registry.

The engine is the private one `script/lib/docker-engine` runs (started here if `script/test`
has not started it, and stopped again at the end). Without an engine these tests fail; set
PYCOG_SKIP_DOCKER=1 to skip them explicitly.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cog.build.base_image import BaseImageChoice
from cog.build.builder import BuildOptions
from cog.build.engine import Docker
from cog.config import Config, load_config

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEST_BASE_IMAGE = "pycog-test-base:bookworm"


def _exports(output: str) -> dict[str, str]:
    env = {}
    for line in output.splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export ") :].partition("=")
            env[name] = value
    return env


@pytest.fixture(scope="session")
def docker() -> Iterator[Docker]:
    """A Docker engine that answers, with the test base image loaded."""
    if os.environ.get("PYCOG_SKIP_DOCKER") == "1":
        pytest.skip("PYCOG_SKIP_DOCKER=1")
    script = REPO / "script" / "lib" / "docker-engine"
    started_here = False
    with pytest.MonkeyPatch.context() as patch:
        if "DOCKER_HOST" not in os.environ:
            # The private engine may already run (an earlier session left it); only an engine
            # started here is stopped here.
            env = subprocess.run([str(script), "env"], capture_output=True, text=True, timeout=30)
            for name, value in _exports(env.stdout).items():
                patch.setenv(name, value)
            if not Docker().available():
                result = subprocess.run(
                    [str(script), "start"], capture_output=True, text=True, timeout=600
                )
                assert result.returncode == 0, f"docker engine did not start:\n{result.stderr}"
                started_here = True
        engine = Docker()
        engine.ping()  # fails the tests (not skips) when no engine answers
        result = subprocess.run(
            [str(REPO / "script" / "lib" / "base-images")],
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert result.returncode == 0, f"base images could not be built:\n{result.stderr}"
        yield engine
    if started_here:
        subprocess.run([str(script), "stop"], timeout=120, check=False)


def copy_fixture(name: str, target: Path) -> Path:
    project = target / name
    shutil.copytree(FIXTURES / name, project)
    return project


def project_config(project_dir: Path) -> Config:
    return load_config(project_dir)


def schema_available() -> bool:
    import cog.schema

    return hasattr(cog.schema, "generate_schema")


def server_available() -> bool:
    return importlib.util.find_spec("cog.server.http") is not None


def server_command() -> list[str] | None:
    """The command model containers run in tests: the image's own CMD, except that while the
    stand-in schema of `build_options` is bundled it is removed first (the server would
    otherwise validate inputs against a schema that declares none)."""
    if schema_available():
        return None
    return ["sh", "-c", "rm -f /src/.cog/openapi_schema.json && exec python -m cog.server.http"]


def build_options(project_dir: Path, tag: str, **kwargs: Any) -> BuildOptions:
    """Options for a test build on the local base image.

    Until the schema generator lands on main a fixed document stands in for it (so the
    label plumbing is still exercised); afterwards the real static schema is used.
    """
    if not schema_available():
        path = project_dir.parent / f"{project_dir.name}-schema.json"
        path.write_text(json.dumps({"openapi": "3.0.2", "info": {"title": "Cog"}, "paths": {}}))
        kwargs.setdefault("openapi_schema", path)
    return BuildOptions(
        tag=tag, base=BaseImageChoice(base_image=TEST_BASE_IMAGE), progress="quiet", **kwargs
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's docker-registry on a loopback port; yields `127.0.0.1:PORT`."""
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    if not Path(binary).exists():
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "docker-registry"],
            check=True,
            capture_output=True,
            timeout=600,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    root = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = (root / "registry.log").open("wb")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://{address}/v2/", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError(
                f"docker-registry did not start: {(root / 'registry.log').read_text()}"
            )
        yield address
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
