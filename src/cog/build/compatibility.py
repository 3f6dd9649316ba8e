"""Which CUDA, cuDNN, torch and Python versions go together, and what follows from a config.

The tables are a curated subset of the combinations NVIDIA and PyTorch publish: enough to pick
a CUDA base image that matches a pinned torch wheel. Cog keeps a generated matrix of every
release; a version missing here is reported with the versions that are known, so the user can
set `build.cuda` explicitly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..config.model import Config
from .errors import IncompatibleConfig

DEFAULT_CUDA = "11.8"


@dataclass(frozen=True)
class CudaImage:
    """An `nvidia/cuda` devel image: CUDA release, its cuDNN major, and the image tag."""

    cuda: str  # major.minor.patch
    cudnn: str
    ubuntu: str

    @property
    def tag(self) -> str:
        # From CUDA 12.4 on NVIDIA tags carry an unnumbered "cudnn" (cuDNN 9).
        numbered = _version_tuple(self.cuda) < (12, 4)
        cudnn = f"cudnn{self.cudnn}" if numbered else "cudnn"
        return f"nvidia/cuda:{self.cuda}-{cudnn}-devel-ubuntu{self.ubuntu}"


# One image per CUDA minor: the highest patch release on the newest Ubuntu it ships for.
CUDA_IMAGES: dict[str, CudaImage] = {
    image.cuda.rsplit(".", 1)[0]: image
    for image in (
        CudaImage("11.7.1", "8", "22.04"),
        CudaImage("11.8.0", "8", "22.04"),
        CudaImage("12.1.1", "8", "22.04"),
        CudaImage("12.4.1", "9", "22.04"),
        CudaImage("12.6.3", "9", "24.04"),
        CudaImage("12.8.1", "9", "24.04"),
        CudaImage("12.9.1", "9", "24.04"),
        CudaImage("13.0.1", "9", "24.04"),
    )
}


@dataclass(frozen=True)
class TorchRelease:
    """A torch release: the CUDA builds PyTorch publishes for it and its Python range."""

    version: str
    torchvision: str
    cudas: tuple[str, ...]
    python_min: str
    python_max: str


TORCH_RELEASES: tuple[TorchRelease, ...] = (  # oldest first: a `2.1` pin takes the newest 2.1.x
    TorchRelease("1.13.0", "0.14.0", ("11.6", "11.7"), "3.7", "3.10"),
    TorchRelease("1.13.1", "0.14.1", ("11.6", "11.7"), "3.7", "3.10"),
    TorchRelease("2.0.0", "0.15.1", ("11.7", "11.8"), "3.8", "3.11"),
    TorchRelease("2.0.1", "0.15.2", ("11.7", "11.8"), "3.8", "3.11"),
    TorchRelease("2.1.0", "0.16.0", ("11.8", "12.1"), "3.8", "3.11"),
    TorchRelease("2.1.1", "0.16.1", ("11.8", "12.1"), "3.8", "3.11"),
    TorchRelease("2.1.2", "0.16.2", ("11.8", "12.1"), "3.8", "3.11"),
    TorchRelease("2.2.0", "0.17.0", ("11.8", "12.1"), "3.8", "3.12"),
    TorchRelease("2.2.1", "0.17.1", ("11.8", "12.1"), "3.8", "3.12"),
    TorchRelease("2.2.2", "0.17.2", ("11.8", "12.1"), "3.8", "3.12"),
    TorchRelease("2.3.0", "0.18.0", ("11.8", "12.1"), "3.8", "3.12"),
    TorchRelease("2.3.1", "0.18.1", ("11.8", "12.1"), "3.8", "3.12"),
    TorchRelease("2.4.0", "0.19.0", ("11.8", "12.1", "12.4"), "3.8", "3.12"),
    TorchRelease("2.4.1", "0.19.1", ("11.8", "12.1", "12.4"), "3.8", "3.12"),
    TorchRelease("2.5.0", "0.20.0", ("11.8", "12.1", "12.4"), "3.9", "3.13"),
    TorchRelease("2.5.1", "0.20.1", ("11.8", "12.1", "12.4"), "3.9", "3.13"),
    TorchRelease("2.6.0", "0.21.0", ("11.8", "12.4", "12.6"), "3.9", "3.13"),
    TorchRelease("2.7.0", "0.22.0", ("11.8", "12.6", "12.8"), "3.9", "3.13"),
    TorchRelease("2.7.1", "0.22.1", ("11.8", "12.6", "12.8"), "3.9", "3.13"),
    TorchRelease("2.8.0", "0.23.0", ("12.6", "12.8", "12.9"), "3.9", "3.13"),
    TorchRelease("2.9.0", "0.24.0", ("12.6", "12.8", "13.0"), "3.10", "3.14"),
    TorchRelease("2.9.1", "0.24.1", ("12.6", "12.8", "13.0"), "3.10", "3.14"),
)


@dataclass(frozen=True)
class GpuStack:
    """What a `gpu: true` build resolves to."""

    cuda: str  # major.minor
    cudnn: str
    image: CudaImage


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def minor(version: str) -> str:
    """`12.1.1` → `12.1`; `3.11` stays."""
    return ".".join(version.split(".")[:2])


def pinned_version(lines: list[str], package: str) -> str | None:
    """The version a requirement line pins with `==` for `package`, if any (`+cu121` kept)."""
    pattern = re.compile(rf"^{re.escape(package)}\s*==\s*([A-Za-z0-9.+]+)\s*(?:;.*)?$", re.I)
    for line in lines:
        match = pattern.match(line.strip())
        if match:
            return match.group(1)
    return None


def is_unversioned(lines: list[str], package: str) -> bool:
    """Whether a requirement line names `package` with no version at all (`torch`,
    `torch[extra]`, `torch ; marker`), as opposed to `torch==2.1` or `torch>=2`."""
    pattern = re.compile(rf"^{re.escape(package)}\s*(\[[^\]]*\])?\s*(;.*)?$", re.I)
    return any(pattern.match(line.strip()) for line in lines)


def torch_release(version: str) -> TorchRelease | None:
    """The table entry for a pinned torch version (`2.1.2`, `2.1.2+cu121`, `2.1`)."""
    base = version.split("+", 1)[0]
    for release in reversed(TORCH_RELEASES):
        if release.version == base or release.version.startswith(base + "."):
            return release
    return None


def torch_cuda(version: str) -> str | None:
    """The CUDA version a torch pin implies: its `+cuXYZ` suffix, else the newest build."""
    suffix = re.search(r"\+cu(\d+)(\d)$", version)
    if suffix:
        return f"{suffix.group(1)}.{suffix.group(2)}"
    release = torch_release(version)
    return release.cudas[-1] if release else None


def resolve_gpu_stack(config: Config) -> GpuStack:
    """The CUDA/cuDNN/base image for a `gpu: true` config.

    `build.cuda` wins; otherwise the CUDA version follows the pinned torch wheel; otherwise
    Cog's default, CUDA 11.8. cuDNN defaults to the one the CUDA image ships.
    """
    requested = config.build.cuda
    lines = config.requirements_lines()
    if is_unversioned(lines, "torch"):
        # Cog's words: the CUDA image must match a torch wheel, so the wheel must be known.
        raise IncompatibleConfig(
            "torch version must be specified when using CUDA: pin it in the requirements, "
            "e.g. `torch==2.5.1`"
        )
    torch = pinned_version(lines, "torch")
    if requested:
        cuda = minor(requested)
    elif torch:
        implied = torch_cuda(torch)
        if implied is None:
            known = ", ".join(r.version for r in TORCH_RELEASES)
            raise IncompatibleConfig(
                f"pycog does not know which CUDA version torch=={torch} needs (known: {known}). "
                'Set build.cuda in cog.yaml, e.g. `cuda: "12.1"`.'
            )
        cuda = implied
    else:
        cuda = DEFAULT_CUDA
    image = CUDA_IMAGES.get(cuda)
    if image is None:
        raise IncompatibleConfig(
            f"build.cuda {cuda!r} has no known nvidia/cuda base image; use one of "
            f"{', '.join(CUDA_IMAGES)}."
        )
    cudnn = config.build.cudnn
    if cudnn is not None and cudnn.split(".")[0] != image.cudnn:
        raise IncompatibleConfig(
            f"build.cudnn {cudnn!r} is not available with CUDA {cuda} (it ships cuDNN "
            f'{image.cudnn}); write `cudnn: "{image.cudnn}"` or remove the key.'
        )
    return GpuStack(cuda=cuda, cudnn=image.cudnn, image=image)


def torch_index(cuda: str | None) -> str:
    """The PyTorch wheel index for a CUDA version, or the CPU index when `cuda` is None."""
    suffix = "cpu" if cuda is None else "cu" + cuda.replace(".", "")
    return f"https://download.pytorch.org/whl/{suffix}"


def best_torch_cuda(release: TorchRelease, build_cuda: str) -> str | None:
    """The highest CUDA build of `release` not newer than the image's CUDA."""
    fitting = [c for c in release.cudas if _version_tuple(c) <= _version_tuple(build_cuda)]
    return max(fitting, key=_version_tuple) if fitting else None
