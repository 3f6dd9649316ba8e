"""Dockerfile generation for CPU and GPU configurations (no engine involved)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cog.build.base_image import BaseImageChoice, candidate_base_images, fallback_base_image
from cog.build.compatibility import resolve_gpu_stack
from cog.build.dockerfile import DockerfileInputs, generate_dockerfile
from cog.build.errors import IncompatibleConfig
from cog.build.requirements import generate_requirements
from cog.config.model import BuildConfig, Config, Mount, RunCommand

WHEEL = "pycog-0.1.0-py3-none-any.whl"


def make_config(tmp_path: Path, requirements: str | None = None, **build: object) -> Config:
    if requirements is not None:
        (tmp_path / "requirements.txt").write_text(requirements)
        build["python_requirements"] = "requirements.txt"
    return Config(
        project_dir=tmp_path,
        build=BuildConfig(**build),  # type: ignore[arg-type]
        predict="predict.py:Predictor",
    )


def dockerfile(config: Config, choice: BaseImageChoice | None = None) -> str:
    base = fallback_base_image(config, choice or BaseImageChoice(use_cog_base_image=False))
    requirements = generate_requirements(config, base.gpu.cuda if base.gpu else None)
    inputs = DockerfileInputs(base=base, sdk_wheel=WHEEL, has_requirements=bool(requirements.lines))
    return generate_dockerfile(config, inputs)


def instructions(text: str) -> list[str]:
    return [line.split()[0] for line in text.splitlines() if line and not line.startswith("#")]


def test_cpu_dockerfile_starts_from_slim_python_and_ends_with_the_project(tmp_path: Path) -> None:
    text = dockerfile(make_config(tmp_path, "pillow==10.4.0\n", python_version="3.12"))
    lines = text.splitlines()
    assert "FROM python:3.12-slim" in lines
    assert 'ENTRYPOINT ["/sbin/tini", "--"]' in lines
    assert "EXPOSE 5000" in lines
    assert 'CMD ["python", "-m", "cog.server.http"]' in lines
    assert 'ENV COG_PREDICT_TYPE_STUB="predict.py:Predictor"' in lines
    assert lines[-1] == "COPY project /src"
    assert "nvidia" not in text and "LD_LIBRARY_PATH" not in text
    # The model's requirements, then pycog's server requirements, then the pycog wheel alone,
    # each with a pip cache mount, all before the project copy.
    requirements = lines.index("COPY .cog_build/requirements.txt /tmp/requirements.txt")
    sdk_requirements = lines.index(
        "COPY .cog_build/pycog-requirements.txt /tmp/pycog-requirements.txt"
    )
    sdk = lines.index("COPY .cog_build/wheels /tmp/pycog-wheels")
    assert requirements < sdk_requirements < sdk < len(lines) - 1
    pip_lines = [line for line in lines if "pip install" in line]
    assert len(pip_lines) == 3
    assert all(
        "--mount=type=cache,target=/root/.cache/pip,sharing=locked" in line for line in pip_lines
    )
    assert all("--mount=type=secret,id=pycog-pip-ca" in line for line in pip_lines)
    assert pip_lines[1].endswith("-r /tmp/pycog-requirements.txt")
    assert pip_lines[2].endswith(f"--no-deps /tmp/pycog-wheels/{WHEEL}")


def test_a_wheel_without_the_server_extra_is_installed_with_its_dependencies(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path, python_version="3.11")
    base = fallback_base_image(config, BaseImageChoice(use_cog_base_image=False))
    text = generate_dockerfile(
        config, DockerfileInputs(base=base, sdk_wheel=WHEEL, sdk_requirements=False)
    )
    assert "pycog-requirements.txt" not in text and "--no-deps" not in text
    assert text.splitlines()[
        text.splitlines().index("COPY .cog_build/wheels /tmp/pycog-wheels") + 1
    ].endswith(f"/tmp/pycog-wheels/{WHEEL}")


def test_no_requirements_means_no_requirements_step(tmp_path: Path) -> None:
    text = dockerfile(make_config(tmp_path, python_version="3.11"))
    assert "/tmp/requirements.txt" not in text
    assert "FROM python:3.11-slim" in text.splitlines()


def test_system_packages_environment_and_run_steps_in_order(tmp_path: Path) -> None:
    config = Config(
        project_dir=tmp_path,
        build=BuildConfig(
            python_version="3.11",
            system_packages=("libgl1", "ffmpeg"),
            run=(
                RunCommand("echo plain"),
                RunCommand("cat /run/secrets/tok", (Mount("secret", "tok", "/run/secrets/tok"),)),
            ),
            pre_install=("echo legacy",),
        ),
        predict="predict.py:Predictor",
        environment={"ZED": 'a "quoted" $value', "ALPHA": "1"},
        concurrency_max=4,
    )
    lines = dockerfile(config).splitlines()
    apt = next(line for line in lines if "apt-get install" in line and "ffmpeg" in line)
    assert "ffmpeg libgl1" in apt and "--mount=type=cache,target=/var/cache/apt" in apt
    assert 'ENV ALPHA="1" ZED="a \\"quoted\\" \\$value"' in lines
    plain = lines.index("RUN echo plain")
    secret = lines.index(
        "RUN --mount=type=secret,id=tok,target=/run/secrets/tok cat /run/secrets/tok"
    )
    legacy = lines.index("RUN echo legacy")
    sdk = next(i for i, line in enumerate(lines) if "pycog-wheels/" in line and "RUN" in line)
    assert sdk < plain < secret < legacy < lines.index("COPY project /src")
    assert any('COG_MAX_CONCURRENCY="4"' in line for line in lines)


@pytest.mark.parametrize(
    ("requirements", "cuda", "cudnn", "image", "torch_index"),
    [
        # torch pin alone: CUDA follows the newest build PyTorch publishes for it.
        ("torch==2.1.2\n", None, None, "nvidia/cuda:12.1.1-cudnn8-devel-ubuntu22.04", "cu121"),
        (
            "torch==2.6.0\ntorchvision==0.21.0\n",
            None,
            None,
            "nvidia/cuda:12.6.3-cudnn-devel-ubuntu24.04",
            "cu126",
        ),
        # explicit cuda wins; torch gets the highest build not newer than it.
        ("torch==2.4.1\n", "12.1", None, "nvidia/cuda:12.1.1-cudnn8-devel-ubuntu22.04", "cu121"),
        ("torch==2.7.1\n", "12.8", "9", "nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04", "cu128"),
        # no torch: Cog's default CUDA 11.8.
        ("numpy==1.26.4\n", None, None, "nvidia/cuda:11.8.0-cudnn8-devel-ubuntu22.04", None),
        # a +cuXYZ pin names its CUDA itself.
        ("torch==2.4.1+cu118\n", None, None, "nvidia/cuda:11.8.0-cudnn8-devel-ubuntu22.04", None),
    ],
)
def test_gpu_configurations(
    tmp_path: Path,
    requirements: str,
    cuda: str | None,
    cudnn: str | None,
    image: str,
    torch_index: str | None,
) -> None:
    config = make_config(
        tmp_path, requirements, python_version="3.11", gpu=True, cuda=cuda, cudnn=cudnn
    )
    text = dockerfile(config)
    lines = text.splitlines()
    assert f"FROM {image}" in lines
    assert "NVIDIA_DRIVER_CAPABILITIES" in text and "LD_LIBRARY_PATH" in text
    # CUDA images carry no suitable Python: it is installed with uv.
    assert any(line.startswith("RUN uv python install 3.11") for line in lines)
    assert "--break-system-packages" in text
    generated = generate_requirements(config, resolve_gpu_stack(config).cuda).lines
    if torch_index:
        assert generated[0] == f"--extra-index-url https://download.pytorch.org/whl/{torch_index}"
    else:
        assert not any(line.startswith("--extra-index-url") for line in generated)


@pytest.mark.parametrize(
    ("pin", "python", "image"),
    [
        # below cog-base's oldest torch (1.13.1), a plain CUDA image (Cog's fallback too)
        ("1.13.0", "3.10", "nvidia/cuda:11.7.1-cudnn8-devel-ubuntu22.04"),
        ("2.7.0", "3.12", "nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04"),
        ("2.1", "3.11", "nvidia/cuda:12.1.1-cudnn8-devel-ubuntu22.04"),  # the newest 2.1.x
    ],
)
def test_torch_pins_of_every_release_line_find_their_cuda(
    tmp_path: Path, pin: str, python: str, image: str
) -> None:
    config = make_config(tmp_path, f"torch=={pin}\n", python_version=python, gpu=True)
    assert f"FROM {image}" in dockerfile(config).splitlines()


def test_cpu_torch_pin_uses_cpu_wheels(tmp_path: Path) -> None:
    config = make_config(
        tmp_path, "torch==2.4.1\ntorchvision==0.19.1\ncog==0.9\n", python_version="3.11"
    )
    generated = generate_requirements(config, None)
    assert generated.lines == [
        "--extra-index-url https://download.pytorch.org/whl/cpu",
        "torch==2.4.1+cpu",
        "torchvision==0.19.1+cpu",
    ]
    assert "cog==0.9" in generated.warnings[0]


def test_unknown_torch_without_cuda_is_an_error_that_says_what_to_write(tmp_path: Path) -> None:
    config = make_config(tmp_path, "torch==1.4.0\n", python_version="3.11", gpu=True)
    with pytest.raises(IncompatibleConfig, match="Set build.cuda"):
        resolve_gpu_stack(config)


def test_cudnn_that_cuda_does_not_ship_is_rejected(tmp_path: Path) -> None:
    config = make_config(tmp_path, python_version="3.11", gpu=True, cuda="11.8", cudnn="9")
    with pytest.raises(IncompatibleConfig, match='cudnn: "8"'):
        resolve_gpu_stack(config)


def test_use_cuda_base_image_false_keeps_slim_python(tmp_path: Path) -> None:
    config = make_config(tmp_path, "torch==2.1.2\n", python_version="3.11", gpu=True)
    text = dockerfile(config, BaseImageChoice(use_cog_base_image=False, use_cuda_base_image=False))
    assert "FROM python:3.11-slim" in text.splitlines()
    assert "uv python install" not in text


def test_base_image_candidates(tmp_path: Path) -> None:
    config = make_config(tmp_path, "torch==2.1.2\n", python_version="3.11.4", gpu=True)
    default = [c.name for c in candidate_base_images(config, BaseImageChoice())]
    assert default == [
        "r8.im/cog-base:cuda12.1-python3.11-torch2.1.2",
        "nvidia/cuda:12.1.1-cudnn8-devel-ubuntu22.04",
    ]
    explicit = candidate_base_images(config, BaseImageChoice(use_cog_base_image=True))
    assert [c.name for c in explicit] == ["r8.im/cog-base:cuda12.1-python3.11-torch2.1.2"]
    assert explicit[0].has_tini
    given = candidate_base_images(config, BaseImageChoice(base_image="mine:latest"))
    assert [c.name for c in given] == ["mine:latest"]
    cpu = make_config(tmp_path, python_version="3.13")
    assert [c.name for c in candidate_base_images(cpu, BaseImageChoice())] == [
        "r8.im/cog-base:python3.13",
        "python:3.13-slim",
    ]


def test_given_base_image_without_tini_installs_it(tmp_path: Path) -> None:
    text = dockerfile(
        make_config(tmp_path, python_version="3.11"), BaseImageChoice(base_image="local/base:1")
    )
    assert "FROM local/base:1" in text.splitlines()
    assert "apt-get install -qqy --no-install-recommends tini" in text


def test_a_renamed_config_becomes_cog_yaml_in_the_image(tmp_path: Path) -> None:
    config = make_config(tmp_path, python_version="3.11")
    base = fallback_base_image(config, BaseImageChoice(use_cog_base_image=False))
    inputs = DockerfileInputs(base=base, sdk_wheel=WHEEL, renamed_config=True)
    lines = generate_dockerfile(config, inputs).splitlines()
    assert lines[-2:] == ["COPY project /src", "COPY .cog_build/cog.yaml /src/cog.yaml"]
