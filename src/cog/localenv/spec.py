"""What defines a model's local environment, and the hash its cache entry is named by."""

from __future__ import annotations

import hashlib
import json
import platform
import shlex
from dataclasses import asdict, dataclass

from ..config import Config
from .pip_settings import PipSettings

# Steps a user account cannot run; they are skipped locally with a warning naming them.
PRIVILEGED_PROGRAMS = ("apt", "apt-get", "dpkg", "sudo", "yum", "dnf", "apk", "add-apt-repository")


@dataclass(frozen=True)
class EnvironmentSpec:
    """Everything that changes what is installed in the environment."""

    python_version: str
    requirements: tuple[str, ...]
    run_commands: tuple[str, ...]
    pycog: str
    """How pycog itself is installed: `editable:<checkout>` or `wheel:<path>`."""
    pip: PipSettings
    machine: str = platform.machine()

    def digest(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:20]


def spec_for(config: Config, pycog: str, pip: PipSettings) -> EnvironmentSpec:
    """The spec of a project's environment."""
    return EnvironmentSpec(
        python_version=config.build.python_version,
        requirements=tuple(config.requirements_lines()) + _tracing_requirements(config),
        run_commands=tuple(command.command for command in config.build.run),
        pycog=pycog,
        pip=pip,
    )


def is_privileged(command: str) -> bool:
    """Whether a `run:` command needs root (a system package manager)."""
    try:
        words = shlex.split(command)
    except ValueError:
        return False
    return bool(words) and words[0] in PRIVILEGED_PROGRAMS


def _tracing_requirements(config: Config) -> tuple[str, ...]:
    """pycog's `tracing` extra when cog.yaml turns tracing on (and only then, so that the
    spec, and the environment, of every other project stay as they were)."""
    if not config.observability.traces.enabled:
        return ()
    from ..build.sdk_wheel import TRACING_EXTRA, installed_extra_requirements

    return tuple(installed_extra_requirements(TRACING_EXTRA))
