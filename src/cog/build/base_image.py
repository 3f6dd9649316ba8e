"""Choosing the image a model's Dockerfile starts FROM.

--base-image IMAGE              that image, as is (must hold python + pip)
cog-base image (default)        r8.im/cog-base:cuda<X.Y>-python<X.Y>-torch<V>, if present
gpu: true + CUDA base images    nvidia/cuda:<patch>-cudnn…-devel-ubuntu… from the table
otherwise                       python:<X.Y>-slim
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..config.model import Config
from .compatibility import GpuStack, minor, pinned_version, resolve_gpu_stack, torch_release

COG_BASE_REPOSITORY = "r8.im/cog-base"


class PythonSource(Enum):
    """How the interpreter gets into the image."""

    BASE = "base"  # the base image ships the requested Python as `python`
    UV = "uv"  # installed with `uv python install` (CUDA images carry no suitable Python)


@dataclass(frozen=True)
class BaseImage:
    """The FROM image and what it already provides."""

    name: str
    python: PythonSource = PythonSource.BASE
    has_tini: bool = False
    gpu: GpuStack | None = None
    cog_base: bool = False


@dataclass(frozen=True)
class BaseImageChoice:
    """The build flags that steer the choice (`cog build --use-…-base-image`, `--base-image`)."""

    base_image: str | None = None
    use_cog_base_image: bool | None = None  # None: not given on the command line
    use_cuda_base_image: bool = True


def python_version(config: Config) -> str:
    """`major.minor` of `build.python_version` (a patch is dropped for image lookup)."""
    return minor(str(config.build.python_version))


def cog_base_image_name(config: Config, gpu: GpuStack | None) -> str:
    """The cog-base tag for this config: components omitted when absent, as Cog names them."""
    parts = []
    if gpu is not None:
        parts.append(f"cuda{gpu.cuda}")
    parts.append(f"python{python_version(config)}")
    torch = pinned_version(config.requirements_lines(), "torch")
    release = torch_release(torch) if torch else None
    if release is not None:
        parts.append(f"torch{release.version}")
    return f"{COG_BASE_REPOSITORY}:{'-'.join(parts)}"


def fallback_base_image(config: Config, choice: BaseImageChoice) -> BaseImage:
    """The base image when no cog-base image is used."""
    gpu = resolve_gpu_stack(config) if config.build.gpu else None
    if choice.base_image:
        return BaseImage(choice.base_image, gpu=gpu)
    if gpu is not None and choice.use_cuda_base_image:
        return BaseImage(gpu.image.tag, python=PythonSource.UV, gpu=gpu)
    return BaseImage(f"python:{python_version(config)}-slim", gpu=gpu)


def candidate_base_images(config: Config, choice: BaseImageChoice) -> list[BaseImage]:
    """Base images to try in order; the builder takes the first one the engine has.

    An explicit `--base-image` is the only candidate. A cog-base image comes first unless
    `--use-cog-base-image=false`; when the flag was given explicitly it is the only candidate,
    so its absence is an error rather than a silent fallback.
    """
    fallback = fallback_base_image(config, choice)
    if choice.base_image or choice.use_cog_base_image is False:
        return [fallback]
    cog_base = BaseImage(
        cog_base_image_name(config, fallback.gpu), has_tini=True, gpu=fallback.gpu, cog_base=True
    )
    if choice.use_cog_base_image:
        return [cog_base]
    return [cog_base, fallback]
