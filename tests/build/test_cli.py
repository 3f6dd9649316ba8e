"""`cog build`, `cog push` and `cog debug` through the click CLI, against the real engine."""

from __future__ import annotations

import json
from pathlib import Path

import click.testing
import httpx
import pytest

from cog.build.engine import Docker
from cog.cli.main import cli

from .conftest import TEST_BASE_IMAGE, copy_fixture, schema_available

pytestmark = [
    pytest.mark.docker,
    pytest.mark.slow,
    pytest.mark.timeout(600),
]


def invoke(project: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> click.testing.Result:
    monkeypatch.chdir(project)
    extra: list[str] = []
    if args[0] in ("build", "push") and not schema_available():
        schema = project.parent / "schema.json"
        schema.write_text(json.dumps({"openapi": "3.0.2", "info": {"title": "Cog"}, "paths": {}}))
        extra = ["--openapi-schema", str(schema)]
    return click.testing.CliRunner().invoke(cli, [*args, *extra], catch_exceptions=False)


def test_debug_prints_the_dockerfile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = copy_fixture("hello-world", tmp_path)
    (project / "model.safetensors").write_bytes(b"\0" * (10 * 1024 * 1024))
    result = invoke(
        project,
        monkeypatch,
        "debug",
        "--base-image",
        "some/base:1",
        "--separate-weights",
        "--image-name",
        "me/model",
    )
    assert result.exit_code == 0, result.output
    assert "# Weights image me/model-weights" in result.output
    assert "#   model.safetensors" in result.output
    assert "FROM some/base:1" in result.output
    assert result.output.rstrip().endswith("COPY project /src")
    assert not (project / ".cog").exists()  # debug builds nothing and writes nothing


def test_build_tags_the_image(
    docker: Docker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = copy_fixture("hello-world", tmp_path)
    result = invoke(
        project,
        monkeypatch,
        "build",
        "-t",
        "pycog-test/cli:latest",
        "--base-image",
        TEST_BASE_IMAGE,
        "--progress",
        "quiet",
    )
    assert result.exit_code == 0, result.output
    assert "Image built as pycog-test/cli:latest" in result.output
    assert "run.cog.openapi_schema" in docker.labels("pycog-test/cli:latest")


def test_build_with_a_missing_base_image_says_what_to_do(
    docker: Docker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = copy_fixture("hello-world", tmp_path)
    result = invoke(project, monkeypatch, "build", "--base-image", "nowhere/none:0")
    assert result.exit_code == 1
    assert "nowhere/none:0 is not in the Docker engine" in result.output
    assert "--base-image IMAGE" in result.output


def test_push_needs_a_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = copy_fixture("hello-world", tmp_path)
    result = invoke(project, monkeypatch, "push")
    assert result.exit_code == 2
    assert "No image to push to" in result.output


def test_push_to_the_local_registry(
    docker: Docker, registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = copy_fixture("hello-world", tmp_path)
    target = f"{registry}/cli/hello"
    result = invoke(
        project, monkeypatch, "push", target, "--base-image", TEST_BASE_IMAGE, "--progress", "quiet"
    )
    assert result.exit_code == 0, result.output
    tags = httpx.get(f"http://{registry}/v2/cli/hello/tags/list", timeout=5).json()
    assert tags["tags"] == ["latest"]


@pytest.mark.parametrize(
    ("flags", "base"),
    [
        ((), "python:3.11-slim"),
        (("--use-cog-base-image",), "r8.im/cog-base:python3.11"),
        (("--use-cog-base-image=false",), "python:3.11-slim"),
        (("--use-cog-base-image", "true"), "r8.im/cog-base:python3.11"),
    ],
)
def test_debug_base_image_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: tuple[str, ...], base: str
) -> None:
    project = copy_fixture("hello-world", tmp_path)
    result = invoke(project, monkeypatch, "debug", *flags)
    assert result.exit_code == 0, result.output
    assert f"FROM {base}\n" in result.output


def test_build_with_another_config_file(
    docker: Docker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = copy_fixture("hello-world", tmp_path)
    text = (project / "cog.yaml").read_text() + "# the dev variant\n"
    (project / "cog.dev.yaml").write_text(text)
    result = invoke(
        project,
        monkeypatch,
        "build",
        "-f",
        "cog.dev.yaml",
        "-t",
        "pycog-test/devconfig:latest",
        "--base-image",
        TEST_BASE_IMAGE,
        "--progress",
        "quiet",
    )
    assert result.exit_code == 0, result.output
    inside = docker.run("run", "--rm", "pycog-test/devconfig:latest", "cat", "/src/cog.yaml")
    assert inside.stdout == text


def test_build_falls_back_from_a_missing_cog_base_image(
    docker: Docker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # script/lib/base-images tags the test base as python:3.11-slim, the fallback for 3.11.
    project = copy_fixture("hello-world", tmp_path)
    result = invoke(
        project, monkeypatch, "build", "-t", "pycog-test/fallback:latest", "--progress", "quiet"
    )
    assert result.exit_code == 0, result.output
    assert "r8.im/cog-base:python3.11 is not in the Docker engine; using python:3.11-slim" in (
        result.output
    )
    labels = docker.labels("pycog-test/fallback:latest")
    assert labels["run.cog.cog-base-image-name"] == "python:3.11-slim"


def test_build_with_the_users_own_dockerfile(
    docker: Docker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = copy_fixture("hello-world", tmp_path)
    (project / "Dockerfile").write_text(
        f"FROM {TEST_BASE_IMAGE}\nWORKDIR /src\nCOPY . /src\nRUN echo custom > /custom\n"
    )
    result = invoke(
        project,
        monkeypatch,
        "build",
        "--dockerfile",
        "Dockerfile",
        "-t",
        "pycog-test/custom:latest",
        "--progress",
        "quiet",
    )
    assert result.exit_code == 0, result.output
    assert docker.run("run", "--rm", "pycog-test/custom:latest", "cat", "/custom").stdout == (
        "custom\n"
    )
    listing = docker.run("run", "--rm", "pycog-test/custom:latest", "ls", "/src").stdout.split()
    assert "predict.py" in listing
    assert "run.cog.openapi_schema" in docker.labels("pycog-test/custom:latest")
