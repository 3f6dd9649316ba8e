"""Errors of the build component.

CogError
└── BuildError                    an image could not be built, pushed or run
    ├── IncompatibleConfig        cog.yaml asks for a CUDA/cuDNN/torch/Python combination
    │                             pycog cannot build
    ├── BaseImageNotFound         the base image is not in the local engine
    ├── SdkWheelError             no pycog wheel could be made for the image
    ├── DockerUnavailable         no Docker engine answers
    ├── DockerCommandFailed       a `docker` command exited non-zero
    └── ContainerSetupFailed      the model in a container did not become ready
"""

from __future__ import annotations

from ..errors import CogError


class BuildError(CogError):
    """Root of the errors raised while building, pushing or running images."""


class IncompatibleConfig(BuildError):
    """Raised when the `build:` settings name versions that cannot go together."""


class BaseImageNotFound(BuildError):
    """Raised when the chosen base image is not present in the local engine."""


class SdkWheelError(BuildError):
    """Raised when pycog cannot be packaged as a wheel to install into the image."""


class DockerUnavailable(BuildError):
    """Raised when the `docker` CLI is missing or no engine answers it."""


class DockerCommandFailed(BuildError):
    """Raised when a `docker` command fails; the message carries the end of its output."""

    def __init__(self, args: list[str], returncode: int, output: str) -> None:
        self.returncode = returncode
        self.output = output
        tail = "\n".join(output.strip().splitlines()[-25:])
        super().__init__(f"`{' '.join(args[:3])} …` failed with exit code {returncode}:\n{tail}")


class ContainerSetupFailed(BuildError):
    """Raised when a model container exits or reports SETUP_FAILED before it is ready."""
