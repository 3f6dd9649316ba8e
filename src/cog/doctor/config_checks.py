"""Checks of cog.yaml and the requirements."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..config import ConfigError, load_config
from ..errors import CogError
from .findings import Finding
from .project import Project

_TORCH_CUDA = re.compile(r"\+cu(\d+)(\d)$")
_VERSION = re.compile(r"^(\d+)\.(\d+)")
HUB_PACKAGES = ("huggingface-hub", "transformers", "diffusers")
PACKAGES_BEFORE_REQUIREMENTS = 5


def check_config(project: Project) -> Iterator[Finding]:
    name = project.rel(project.config_file)
    try:
        load_config(project.root, project.config_file.name)
    except ConfigError as exc:
        for problem in exc.problems:
            yield Finding(
                "config",
                name,
                problem.line,
                f"{problem.key}: {problem.message}".strip(": "),
                problem.fix or "see the message",
            )
    except CogError as exc:
        yield Finding("config", name, None, str(exc), "run `cog init` to create cog.yaml")


def check_python_version(project: Project) -> Iterator[Finding]:
    build = project.raw.get("build") or {}
    version = str(build.get("python_version", "")) if isinstance(build, dict) else ""
    name = project.rel(project.config_file)
    if not version:
        yield Finding(
            "python-version",
            name,
            project.line("build"),
            "build.python_version is not set",
            'add python_version: "3.12" under build:',
        )
    elif version.count(".") >= 2:
        minor = ".".join(version.split(".")[:2])
        yield Finding(
            "python-version", name, project.line("build", "python_version"),
            f'python_version "{version}" pins a patch release', f'use the minor version: "{minor}"', fixable=True,
        )  # fmt: skip


def check_requirements(project: Project) -> Iterator[Finding]:
    file = project.requirements_source
    for requirement in project.requirements:
        if requirement.is_option or requirement.pinned_version:
            continue
        yield Finding(
            "pinned-requirements", file, requirement.line,
            f"{requirement.text!r} is not pinned", f"pin an exact version: {requirement.name}==<version>",
        )  # fmt: skip
    build = project.raw.get("build") or {}
    packages = build.get("python_packages") if isinstance(build, dict) else None
    if isinstance(packages, list) and len(packages) > PACKAGES_BEFORE_REQUIREMENTS:
        yield Finding(
            "python-requirements", project.rel(project.config_file), project.line("build", "python_packages"),
            f"{len(packages)} python_packages: a requirements file is easier to keep",
            "move them to requirements.txt and set build.python_requirements", fixable=True,
        )  # fmt: skip


def _torch(project: Project) -> tuple[str | None, int | None]:
    requirement = project.requirement("torch")
    return (requirement.pinned_version, requirement.line) if requirement else (None, None)


def check_cuda(project: Project) -> Iterator[Finding]:
    version, line = _torch(project)
    if not version:
        return
    match = _TORCH_CUDA.search(version)
    build = project.raw.get("build") or {}
    cuda = str(build.get("cuda", "")) if isinstance(build, dict) else ""
    if match and isinstance(build, dict) and build.get("gpu"):
        wanted = f"{match[1]}.{match[2]}"
        if cuda != wanted:
            yield Finding(
                "cuda-torch", project.rel(project.config_file), project.line("build", "cuda") or project.line("build"),
                f"torch=={version} is built for CUDA {wanted}, but build.cuda is {cuda or 'not set'}",
                f'set build.cuda: "{wanted}"', fixable=True,
            )  # fmt: skip


def check_numpy(project: Project) -> Iterator[Finding]:
    version, line = _torch(project)
    match = _VERSION.match(version or "")
    if not match or (int(match[1]), int(match[2])) >= (2, 3):
        return
    numpy = project.requirement("numpy")
    if numpy is not None and ("<2" in numpy.text or (numpy.pinned_version or "2").startswith("1.")):
        return
    file = project.requirements_source
    yield Finding(
        "numpy-torch", file, line, f"torch=={version} was built against NumPy 1 and breaks with NumPy 2",
        'add "numpy<2" to the requirements', fixable=True,
    )  # fmt: skip


def check_pget(project: Project) -> Iterator[Finding]:
    build = project.raw.get("build") or {}
    steps = build.get("run") if isinstance(build, dict) else None
    for index, step in enumerate(steps if isinstance(steps, list) else []):
        command = step.get("command", "") if isinstance(step, dict) else str(step)
        if "pget" in command and "/latest/" in command:
            yield Finding(
                "pget-pinned", project.rel(project.config_file), project.line("build", "run", index),
                "pget is downloaded from releases/latest: builds are not reproducible",
                "pin a release, e.g. .../releases/download/v0.8.2/pget_linux_x86_64",
            )  # fmt: skip


def check_hf_transfer(project: Project) -> Iterator[Finding]:
    hub = next(
        (project.requirement(name) for name in HUB_PACKAGES if project.requirement(name)), None
    )
    if hub is None:
        return
    source = project.predictor_file.read_text() if project.predictor_file else ""
    if project.requirement("hf-transfer") and "HF_HUB_ENABLE_HF_TRANSFER" in source:
        return
    file = project.requirements_source
    yield Finding(
        "hf-transfer", file, hub.line, f"{hub.name} downloads from the Hub without hf_transfer (slow)",
        'add hf_transfer to the requirements and os.environ["HF_HUB_ENABLE_HF_TRANSFER"] = "1" in predict.py',
    )  # fmt: skip
