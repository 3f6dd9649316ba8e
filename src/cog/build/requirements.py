"""The requirements file installed into the image, derived from the model's requirements.

Two rewrites, as Cog does: lines that install Cog itself are dropped (the image gets pycog from
its own wheel), and pinned torch/torchvision are pointed at PyTorch's wheel index for the
image's CUDA version (or the CPU-only build when there is no GPU), so pip does not fetch a
CUDA build that does not match the base image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..config.model import Config
from .compatibility import best_torch_cuda, pinned_version, torch_index, torch_release

MANAGED_PACKAGES = ("cog", "coglet", "pycog")
_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass
class Requirements:
    """Generated requirement lines plus the warnings to show the user."""

    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(line + "\n" for line in self.lines)


def _name(line: str) -> str | None:
    match = _NAME.match(line.strip())
    return match.group(1).lower().replace("_", "-") if match else None


def generate_requirements(config: Config, cuda: str | None) -> Requirements:
    """Requirement lines for `config`; `cuda` is the image's CUDA version (None for CPU)."""
    result = Requirements()
    indexes: list[str] = []
    for line in config.requirements_lines():
        name = _name(line)
        if name in MANAGED_PACKAGES:
            result.warnings.append(
                f"Ignoring {line!r} in the requirements: pycog installs itself into the image."
            )
            continue
        if name in ("torch", "torchvision"):
            line, index = _torch_line(line, name, config, cuda)
            if index and index not in indexes:
                indexes.append(index)
        result.lines.append(line)
    # Index options go first: pip reads them before resolving any requirement.
    result.lines[:0] = [f"--extra-index-url {index}" for index in indexes]
    return result


def _torch_line(line: str, name: str, config: Config, cuda: str | None) -> tuple[str, str | None]:
    version = pinned_version([line], name)
    torch_version = pinned_version(config.requirements_lines(), "torch")
    if version is None or "+" in version or torch_version is None:
        return line, None  # unpinned, or the user chose the build explicitly
    release = torch_release(torch_version)
    if release is None:
        return line, None
    if cuda is None:
        return f"{name}=={version}+cpu", torch_index(None)
    build = best_torch_cuda(release, cuda)
    return line, (torch_index(build) if build else None)
