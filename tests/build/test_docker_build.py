"""Real images from the fixture projects, built by a real Docker engine."""

from __future__ import annotations

import base64
import io
import json
import subprocess
from pathlib import Path

import httpx
import pytest

from cog import __version__
from cog.build.base_image import BaseImageChoice
from cog.build.builder import BuiltImage, build_image
from cog.build.docker_runtime import ContainerSpec, ModelContainer
from cog.build.engine import Docker
from cog.build.labels import (
    LABEL_CONFIG,
    LABEL_PIP_FREEZE,
    LABEL_SCHEMA,
    LABEL_VERSION,
    config_document,
)

from .conftest import (
    build_options,
    copy_fixture,
    project_config,
    schema_available,
    server_available,
    server_command,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(600)]

needs_server = pytest.mark.skipif(
    not server_available(), reason="cog.server.http has not landed on this branch yet"
)


@pytest.fixture(scope="session")
def hello_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = copy_fixture("hello-world", tmp_path_factory.mktemp("hello"))
    (project / "scratch").mkdir()
    (project / "scratch" / "junk.txt").write_text("ignored by .dockerignore")
    (project / "notes.tmp").write_text("ignored by .dockerignore")
    (project / ".git").mkdir()
    (project / ".git" / "HEAD").write_text("never in an image")
    (project / "__pycache__").mkdir()
    (project / "__pycache__" / "predict.cpython-311.pyc").write_bytes(b"stale")
    return project


@pytest.fixture(scope="session")
def hello(docker: Docker, hello_project: Path) -> BuiltImage:
    config = project_config(hello_project)
    options = build_options(hello_project, "pycog-test/hello:latest")
    return build_image(config, options, docker)


def run_in_image(docker: Docker, image: str, *command: str) -> str:
    return docker.run("run", "--rm", image, *command).stdout


def test_hello_world_labels(docker: Docker, hello: BuiltImage, hello_project: Path) -> None:
    labels = docker.labels(hello.name)
    config = project_config(hello_project)
    assert labels[LABEL_VERSION] == __version__
    assert "pycog @ file://" in labels[LABEL_PIP_FREEZE] or "pycog==" in labels[LABEL_PIP_FREEZE]
    assert "starlette==" in labels[LABEL_PIP_FREEZE]
    assert json.loads(labels[LABEL_CONFIG]) == json.loads(json.dumps(config_document(config)))
    schema = json.loads(labels[LABEL_SCHEMA])
    assert schema["openapi"].startswith("3.0")
    bundled = run_in_image(docker, hello.name, "cat", "/src/.cog/openapi_schema.json")
    assert json.loads(bundled) == schema
    assert json.loads((hello_project / ".cog" / "openapi_schema.json").read_text()) == schema
    if schema_available():
        from cog.schema import generate_schema

        assert schema == json.loads(json.dumps(generate_schema(hello_project, config, static=True)))


def test_hello_world_image_layout(docker: Docker, hello: BuiltImage) -> None:
    info = docker.inspect_image(hello.name)
    assert info is not None
    assert info["Config"]["Entrypoint"] == ["/sbin/tini", "--"]
    assert info["Config"]["Cmd"] == ["python", "-m", "cog.server.http"]
    assert "5000/tcp" in info["Config"]["ExposedPorts"]
    assert "COG_PREDICT_TYPE_STUB=predict.py:Predictor" in info["Config"]["Env"]
    assert info["Config"]["WorkingDir"] == "/src"
    listing = run_in_image(docker, hello.name, "find", "/src", "-not", "-path", "/src")
    assert sorted(listing.split()) == [
        "/src/.cog",
        "/src/.cog/openapi_schema.json",
        "/src/.dockerignore",
        "/src/cog.yaml",
        "/src/predict.py",
    ]
    version = run_in_image(docker, hello.name, "python", "-c", "import cog; print(cog.__version__)")
    assert version.strip() == __version__


def test_code_change_rebuilds_only_the_last_layer(docker: Docker, tmp_path: Path) -> None:
    project = copy_fixture("hello-world", tmp_path)
    config = project_config(project)
    options = build_options(project, "pycog-test/rebuild:latest")
    first = build_image(config, options, docker)
    layers_before = docker.layers(first.name)
    predict = project / "predict.py"
    predict.write_text(predict.read_text().replace('"hello"', '"bonjour"'))
    second = build_image(config, options, docker)
    layers_after = docker.layers(second.name)
    assert second.id != first.id
    assert len(layers_after) == len(layers_before)
    assert layers_after[:-1] == layers_before[:-1]
    assert layers_after[-1] != layers_before[-1]
    code = run_in_image(docker, second.name, "cat", "/src/predict.py")
    assert '"bonjour"' in code


def test_separate_weights_layer_comes_before_the_code(docker: Docker, tmp_path: Path) -> None:
    project = copy_fixture("hello-world", tmp_path)
    (project / "weights").mkdir()
    (project / "weights" / "model.bin").write_bytes(b"\x01" * (11 * 1024 * 1024))
    (project / "small.bin").write_bytes(b"\x02" * 1024)
    config = project_config(project)
    options = build_options(project, "pycog-test/weighted:latest", separate_weights=True)
    first = build_image(config, options, docker)
    assert first.plan.weights == ["weights/model.bin"]
    assert first.plan.weights_image == "pycog-test/weighted-weights:latest"
    assert "weights/model.bin" not in first.plan.files and "small.bin" in first.plan.files
    weights_id = docker.inspect_image(first.plan.weights_image)["Id"]  # type: ignore[index]
    size = run_in_image(docker, first.name, "stat", "-c", "%s", "/src/weights/model.bin")
    assert int(size) == 11 * 1024 * 1024
    lines = first.plan.dockerfile.splitlines()
    assert lines.index("COPY --from=weights /src /src") < next(
        i for i, line in enumerate(lines) if "pip install" in line
    )
    before = docker.layers(first.name)
    (project / "predict.py").write_text((project / "predict.py").read_text() + "\n# edit\n")
    second = build_image(config, options, docker)
    after = docker.layers(second.name)
    # The weights image is reused untouched and only the code layer differs.
    assert docker.inspect_image(first.plan.weights_image)["Id"] == weights_id  # type: ignore[index]
    assert after[:-1] == before[:-1] and after[-1] != before[-1]


def test_build_secret_reaches_run_step_and_not_the_image(docker: Docker, tmp_path: Path) -> None:
    from dataclasses import replace

    from cog.config.model import Mount, RunCommand

    project = copy_fixture("hello-world", tmp_path)
    (project / "token.txt").write_text("s3cret")
    config = project_config(project)
    step = RunCommand(
        'test "$(cat /run/secrets/tok)" = s3cret && echo checked > /checked',
        (Mount("secret", "tok", "/run/secrets/tok"),),
    )
    config = replace(config, build=replace(config.build, run=(step,)))
    (project / ".dockerignore").write_text("token.txt\n")
    options = build_options(project, "pycog-test/secret:latest", secrets=("id=tok,src=token.txt",))
    built = build_image(config, options, docker)
    assert run_in_image(docker, built.name, "cat", "/checked").strip() == "checked"
    assert "s3cret" not in run_in_image(docker, built.name, "sh", "-c", "ls -R /run /src")


def test_push_to_a_registry_and_pull_back(docker: Docker, hello: BuiltImage, registry: str) -> None:
    target = f"{registry}/pycog-test/hello:pushed"
    docker.tag(hello.name, target)
    docker.push(target)
    catalog = httpx.get(f"http://{registry}/v2/_catalog", timeout=5).json()
    assert "pycog-test/hello" in catalog["repositories"]
    docker.remove_image(target)
    assert not docker.image_exists(target)
    docker.pull(target)
    assert docker.inspect_image(target)["Id"] == hello.id  # type: ignore[index]
    assert docker.labels(target) == docker.labels(hello.name)


@needs_server
def test_hello_world_predicts_over_http(docker: Docker, hello: BuiltImage) -> None:
    with ModelContainer(
        ContainerSpec(image=hello.name, command=server_command()), docker
    ) as container:
        container.wait_ready(timeout=120)
        response = httpx.post(
            f"{container.url}/predictions", json={"input": {"text": "world"}}, timeout=60
        )
        assert response.status_code == 200, response.text
        assert response.json()["output"] == "hello world"
        container_id = container.id
    # Stopped on exit and removed (--rm).
    assert container_id is not None
    gone = subprocess.run([docker.binary, "inspect", container_id], capture_output=True, timeout=30)
    assert gone.returncode != 0


@needs_server
def test_pillow_image_predicts_over_http(docker: Docker, tmp_path: Path) -> None:
    from PIL import Image

    project = copy_fixture("pillow", tmp_path)
    built = build_image(
        project_config(project), build_options(project, "pycog-test/pillow:latest"), docker
    )
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (255, 0, 0)).save(buffer, format="PNG")
    data_url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    with ModelContainer(
        ContainerSpec(image=built.name, command=server_command()), docker
    ) as container:
        container.wait_ready(timeout=120)
        response = httpx.post(
            f"{container.url}/predictions",
            json={"input": {"image": data_url, "size": 8}},
            timeout=60,
        )
    assert response.status_code == 200, response.text
    output = response.json()["output"]
    assert output.startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(output.split(",", 1)[1]))) as image:
        assert image.size == (8, 8) and image.mode == "L"


def test_repush_after_code_change_sends_only_the_code_layer(
    docker: Docker, registry: str, tmp_path: Path
) -> None:
    project = copy_fixture("hello-world", tmp_path)
    config = project_config(project)
    target = f"{registry}/pycog-test/repush:latest"
    first = build_image(config, build_options(project, target), docker)
    docker.push(first.name)
    (project / "predict.py").write_text((project / "predict.py").read_text() + "\n# edit\n")
    build_image(config, build_options(project, target), docker)
    report = docker.push(target)
    assert report.count(": Pushed") == 1, report
    assert report.count(": Layer already exists") == len(docker.layers(target)) - 1


def test_tini_and_system_packages_come_from_apt(docker: Docker, tmp_path: Path) -> None:
    """A base image without tini (like python:*-slim) gets it from apt, as system_packages do."""
    from dataclasses import replace

    from cog.build.context import BuildContext
    from cog.build.engine import BuildRequest

    bare = "pycog-test/base-without-tini:latest"
    dockerfile = "FROM pycog-test-base:bookworm\nRUN rm -f /sbin/tini && dpkg --purge tini\n"
    docker.build(BuildRequest(BuildContext(dockerfile), tag=bare, progress="quiet"))
    project = copy_fixture("hello-world", tmp_path)
    config = project_config(project)
    config = replace(config, build=replace(config.build, system_packages=("jq",)))
    options = replace(
        build_options(project, "pycog-test/apt:latest"), base=BaseImageChoice(base_image=bare)
    )
    built = build_image(config, options, docker)
    assert run_in_image(docker, built.name, "jq", "-n", "1+1").strip() == "2"
    assert (
        run_in_image(docker, built.name, "readlink", "-f", "/sbin/tini").strip() == "/usr/bin/tini"
    )
