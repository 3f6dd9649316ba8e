"""Pure parts of the build: names, secrets, weights, the context archive, container args."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from cog.build.builder import default_image_name, resolve_secret, weights_image_name
from cog.build.context import BuildContext
from cog.build.docker_runtime import ContainerSpec
from cog.build.engine import BuildRequest, Docker
from cog.build.errors import BuildError, DockerUnavailable
from cog.build.pip_host import HostPip
from cog.build.weights import find_weights, weights_manifest
from cog.config.model import Config


def test_image_names(tmp_path: Path) -> None:
    project = tmp_path / "My Model_v2!"
    project.mkdir()
    assert default_image_name(Config(project_dir=project)) == "cog-my-modelv2"
    assert default_image_name(Config(project_dir=project, model="me/m")) == "me/m"
    assert default_image_name(Config(project_dir=project, image="r/i:1"), "t:2") == "t:2"
    assert default_image_name(Config(project_dir=project, image="r/i:1")) == "r/i:1"
    long = tmp_path / ("x" * 60)
    long.mkdir()
    assert len(default_image_name(Config(project_dir=long))) == 30
    assert weights_image_name("localhost:5000/me/model:v1") == "localhost:5000/me/model-weights:v1"
    assert weights_image_name("localhost:5000/me/model") == "localhost:5000/me/model-weights"


def test_secrets_resolve_relative_sources_against_the_project(tmp_path: Path) -> None:
    assert resolve_secret("id=tok,src=secrets/t.txt", tmp_path) == (
        f"id=tok,src={tmp_path.resolve() / 'secrets/t.txt'}"
    )
    assert resolve_secret("id=a,source=/abs/file", tmp_path) == "id=a,source=/abs/file"
    with pytest.raises(BuildError, match="id=NAME,src=PATH"):
        resolve_secret("src=x", tmp_path)


def test_weights_are_big_non_code_files_and_the_manifest_follows_them(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"0" * 2048)
    (tmp_path / "big.py").write_bytes(b"#" * 4096)
    (tmp_path / "photo.png").write_bytes(b"0" * 4096)
    (tmp_path / "small.pt").write_bytes(b"0" * 10)
    files = ["model.bin", "big.py", "photo.png", "small.pt"]
    assert find_weights(tmp_path, files, min_size=1024) == ["model.bin"]
    before = weights_manifest(tmp_path, ["model.bin"])
    assert weights_manifest(tmp_path, ["model.bin"]) == before
    (tmp_path / "model.bin").write_bytes(b"1" * 4096)
    assert weights_manifest(tmp_path, ["model.bin"]) != before


def test_context_archive_layout(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text("x = 1\n")
    os.symlink("pkg/m.py", tmp_path / "link.py")
    wheel = tmp_path / "pycog-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK")
    context = BuildContext(
        "FROM scratch\n",
        {"requirements.txt": b"six\n", f"wheels/{wheel.name}": wheel},
        tmp_path,
        ["pkg/m.py", "link.py"],
    )
    buffer = io.BytesIO()
    context.write(buffer)
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert set(members) == {
            "Dockerfile",
            ".cog_build/requirements.txt",
            f".cog_build/wheels/{wheel.name}",
            "project/pkg/m.py",
            "project/link.py",
        }
        assert members["project/link.py"].issym()
        assert all(m.uid == 0 and m.gid == 0 for m in members.values())
        assert tar.extractfile("project/pkg/m.py").read() == b"x = 1\n"  # type: ignore[union-attr]
    assert context.size() > 0


def test_container_run_arguments(tmp_path: Path) -> None:
    spec = ContainerSpec(
        image="img",
        env={"A": "1"},
        gpus="all",
        project_dir=tmp_path,
        publish=["9000:9000"],
        extra_hosts=["host.docker.internal:host-gateway"],
    )
    args = spec.run_args(detach=True, publish_server=True)
    assert args[:3] == ["run", "--rm", "--detach"]
    assert args[args.index("--gpus") + 1] == "all"
    assert ["--publish", "127.0.0.1::5000"] == args[
        args.index("--publish") : args.index("--publish") + 2
    ]
    assert "9000:9000" in args and "A=1" in args
    assert f"{tmp_path.resolve()}:/src" in args
    assert args[-1] == "img"
    fixed = ContainerSpec(image="img", host_port=8393, command=["python", "-V"])
    args = fixed.run_args(detach=False, publish_server=True, interactive=True)
    assert "--detach" not in args and "--tty" in args and "127.0.0.1:8393:5000" in args
    assert args[-3:] == ["img", "python", "-V"]


def test_host_pip_carries_only_remote_indexes() -> None:
    pip = HostPip(index_url="https://mirror.example/simple", extra_index_urls=("https://b/x",))
    assert pip.build_args() == {
        "PIP_INDEX_URL": "https://mirror.example/simple",
        "PIP_EXTRA_INDEX_URL": "https://b/x",
    }
    assert HostPip().build_args() == {}


def test_a_docker_cli_without_buildkit_is_reported_with_the_fix(tmp_path: Path) -> None:
    # A stand-in CLI that answers as docker 23+ does without the buildx plugin.
    fake = tmp_path / "docker"
    fake.write_text(
        "#!/bin/sh\ncat >/dev/null\n"
        "echo 'ERROR: BuildKit is enabled but the buildx component is missing or broken.' >&2\n"
        "exit 1\n"
    )
    fake.chmod(0o755)
    request = BuildRequest(BuildContext("FROM scratch\n"), tag="x", progress="quiet")
    with pytest.raises(DockerUnavailable, match="PYCOG_DOCKER_CLI"):
        Docker(str(fake)).build(request)
