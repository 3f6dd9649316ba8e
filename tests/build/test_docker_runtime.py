"""The container runtime (`cog.build.docker_runtime`) against a real Cog server in an image.

pycog's own server is exercised in test_docker_build.py; here the reference Cog 0.23.1 server
is installed into a pycog-built image by a `build.run` step, so the runtime (port publishing,
health polling, environment, removal) is tested independently of it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from cog.build.base_image import BaseImageChoice
from cog.build.builder import BuiltImage, build_image
from cog.build.docker_runtime import (
    ContainerSpec,
    ModelContainer,
    build_dev_image,
    run_in_container,
)
from cog.build.dockerfile import PIP_CA_SECRET
from cog.build.engine import Docker
from cog.build.errors import ContainerSetupFailed
from cog.config.model import Mount, RunCommand

from .conftest import (
    TEST_BASE_IMAGE,
    build_options,
    copy_fixture,
    project_config,
    schema_available,
)

pytestmark = [pytest.mark.docker, pytest.mark.reference, pytest.mark.slow, pytest.mark.timeout(600)]

SECRET = f"/run/secrets/{PIP_CA_SECRET}"
# The reference server finds its schema itself when the bundled one is absent.
REFERENCE_SERVER = [
    "sh",
    "-c",
    "rm -f /src/.cog/openapi_schema.json && exec python -m cog.server.http",
]


@pytest.fixture(scope="module")
def reference_image(docker: Docker, tmp_path_factory: pytest.TempPathFactory) -> BuiltImage:
    project = copy_fixture("hello-world", tmp_path_factory.mktemp("reference"))
    config = project_config(project)
    install = RunCommand(
        f"PIP_CERT={SECRET} python -m pip install -q --root-user-action=ignore cog==0.23.1",
        (Mount("secret", PIP_CA_SECRET, SECRET),),
    )
    config = replace(config, build=replace(config.build, run=(install,)))
    return build_image(config, build_options(project, "pycog-test/reference:latest"), docker)


def test_model_container_publishes_waits_and_is_removed(
    docker: Docker, reference_image: BuiltImage
) -> None:
    spec = ContainerSpec(image=reference_image.name, command=REFERENCE_SERVER)
    with ModelContainer(spec, docker) as container:
        assert container.url.startswith("http://127.0.0.1:")
        container.wait_ready(timeout=120)
        response = httpx.post(
            f"{container.url}/predictions", json={"input": {"text": "docker"}}, timeout=60
        )
        assert response.json()["output"] == "hello docker"
        container_id = container.id
    assert container_id is not None
    assert container_is_gone(docker, container_id, deadline=60)


def container_is_gone(docker: Docker, container_id: str, deadline: float) -> bool:
    """Whether `docker inspect` stops finding the container within `deadline` seconds: the
    daemon removes a stopped `--rm` container asynchronously, after `docker stop` returns."""
    give_up = time.monotonic() + deadline
    while True:
        inspect = subprocess.run([docker.binary, "inspect", container_id], capture_output=True)
        if inspect.returncode != 0:
            return True
        if time.monotonic() > give_up:
            return False
        time.sleep(0.2)


def test_setup_failure_is_reported_with_the_logs(
    docker: Docker, reference_image: BuiltImage
) -> None:
    spec = ContainerSpec(
        image=reference_image.name,
        command=REFERENCE_SERVER,
        env={"COG_PREDICT_TYPE_STUB": "predict.py:Missing"},
    )
    with ModelContainer(spec, docker) as container, pytest.raises(ContainerSetupFailed) as info:
        container.wait_ready(timeout=120)
    assert "Missing" in str(info.value)


def test_run_in_container_mounts_the_project_and_returns_the_status(
    docker: Docker, reference_image: BuiltImage, tmp_path: Path
) -> None:
    (tmp_path / "marker.txt").write_text("from the host")
    spec = ContainerSpec(image=reference_image.name, project_dir=tmp_path, env={"CODE": "3"})
    status = run_in_container(
        spec,
        ["sh", "-c", 'test "$(cat /src/marker.txt)" = "from the host" && exit $CODE'],
        docker=docker,
    )
    assert status == 3


@pytest.mark.skipif(
    not schema_available(), reason="cog.schema.generate_schema has not landed on this branch yet"
)
def test_build_dev_image_has_schema_but_no_labels(docker: Docker, tmp_path: Path) -> None:
    project = copy_fixture("hello-world", tmp_path)
    name = build_dev_image(
        project_config(project),
        base=BaseImageChoice(base_image=TEST_BASE_IMAGE),
        progress="quiet",
        docker=docker,
    )
    assert name == "cog-hello-world-dev"
    assert "run.cog.openapi_schema" not in docker.labels(name)
    bundled = docker.run("run", "--rm", name, "cat", "/src/.cog/openapi_schema.json").stdout
    assert "paths" in bundled


@pytest.mark.skipif(
    not schema_available(), reason="cog.schema.generate_schema has not landed on this branch yet"
)
def test_cog_predict_with_the_docker_runtime(docker: Docker, tmp_path: Path) -> None:
    project = copy_fixture("hello-world", tmp_path)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from cog.cli.main import main; main()",
            "predict",
            "--runtime",
            "docker",
            "--progress",
            "quiet",
            "-i",
            "text=container",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hello container"
    # It ran in a container built from the project, not in a local environment.
    assert docker.image_exists("cog-hello-world-dev")
