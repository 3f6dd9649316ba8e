"""`cog build` as a function: cog.yaml → plan (Dockerfile, context) → image.

    plan = plan_build(config, options, docker)   # what `cog debug` prints
    image = build_image(config, options, docker) # plan + schema + labels + engine build

The static schema is generated before anything is sent to the engine, so a model whose
signature cannot be rendered fails in a second, not after a long dependency install.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import envvars
from .._version import __version__
from ..config import default_image_name as cog_image_name
from ..config.model import Config
from .base_image import BaseImage, BaseImageChoice, candidate_base_images
from .context import BuildContext, weights_context
from .dockerfile import (
    PIP_CA_SECRET,
    SDK_REQUIREMENTS,
    DockerfileInputs,
    generate_dockerfile,
    generate_weights_dockerfile,
)
from .engine import BuildRequest, Docker
from .errors import BaseImageNotFound, BuildError
from .ignore import IgnoreRules, context_files
from .labels import LABEL_PIP_FREEZE, image_labels
from .pip_host import host_pip
from .requirements import Requirements, generate_requirements
from .sdk_wheel import sdk_wheel, server_requirements
from .weights import find_weights, weights_manifest

LABEL_WEIGHTS_MANIFEST = "run.cog.weights_manifest"


@dataclass(frozen=True)
class BuildOptions:
    """The flags of `cog build` (and the build part of push/run/serve/exec/train)."""

    tag: str | None = None
    base: BaseImageChoice = field(default_factory=BaseImageChoice)
    separate_weights: bool = False
    secrets: tuple[str, ...] = ()
    no_cache: bool = False
    progress: str = "auto"
    labels: bool = True  # development images for run/serve skip them, as in Cog
    openapi_schema: Path | None = None  # a prebuilt schema instead of the static generator
    dockerfile: Path | None = None  # hidden `--dockerfile`: the user's own, context = project


@dataclass
class BuildPlan:
    """Everything decided before the engine is involved."""

    image: str
    base: BaseImage
    dockerfile: str
    requirements: Requirements
    files: list[str]
    weights: list[str] = field(default_factory=list)
    weights_image: str | None = None
    weights_dockerfile: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BuiltImage:
    name: str
    id: str
    plan: BuildPlan


def default_image_name(config: Config, tag: str | None = None) -> str:
    """`-t` > `image:` > `model:` > `cog-<directory name>` (as Cog derives it)."""
    if tag:
        return tag
    if config.image:
        return config.image
    if config.model:
        return config.model
    return cog_image_name(config.project_dir.resolve().name)


def weights_image_name(image: str) -> str:
    """`repo[:tag]` → `repo-weights[:tag]`."""
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return f"{image[:colon]}-weights{image[colon:]}"
    return f"{image}-weights"


def choose_base_image(config: Config, choice: BaseImageChoice, docker: Docker | None) -> BaseImage:
    """The first candidate base image the engine has (no engine: the last resort)."""
    candidates = candidate_base_images(config, choice)
    if docker is None:
        return candidates[-1]
    for candidate in candidates:
        if docker.image_exists(candidate.name):
            return candidate
    names = ", ".join(c.name for c in candidates)
    raise BaseImageNotFound(
        f"The base image {names} is not in the Docker engine, and pycog cannot pull it here. "
        "Pull or build it first (`docker pull …`), or pass `--base-image IMAGE` naming a local "
        "image that has Python and pip."
    )


def plan_build(
    config: Config,
    options: BuildOptions,
    docker: Docker | None,
    wheel_name: str | None = None,
    sdk_requirements: bool = True,
) -> BuildPlan:
    """Dockerfile, requirements and file lists for a build (nothing is sent anywhere).

    `wheel_name` is the staged pycog wheel; without it the name the wheel will have is used,
    so `cog debug` never has to build one.
    """
    # A user's own Dockerfile names its own base; the generated plan is then informational.
    base = choose_base_image(config, options.base, None if options.dockerfile else docker)
    requirements = generate_requirements(config, base.gpu.cuda if base.gpu else None)
    warnings = list(requirements.warnings)
    first_choice = candidate_base_images(config, options.base)[0]
    if docker is not None and not options.dockerfile and base != first_choice:
        warnings.append(f"{first_choice.name} is not in the Docker engine; using {base.name}.")
    files = context_files(config.project_dir, IgnoreRules.for_project(config.project_dir))
    image = default_image_name(config, options.tag)
    weights: list[str] = []
    weights_image = weights_dockerfile = None
    if options.separate_weights:
        weights = find_weights(config.project_dir, files)
        if weights:
            weights_image = weights_image_name(image)
            weights_dockerfile = generate_weights_dockerfile()
            files = [f for f in files if f not in set(weights)]
    inputs = DockerfileInputs(
        base=base,
        sdk_wheel=wheel_name or expected_wheel_name(),
        sdk_requirements=sdk_requirements,
        has_requirements=bool(requirements.lines),
        weights_image=weights_image,
        renamed_config=config.filename != "cog.yaml",
    )
    dockerfile = generate_dockerfile(config, inputs)
    return BuildPlan(
        image,
        base,
        dockerfile,
        requirements,
        files,
        weights,
        weights_image,
        weights_dockerfile,
        warnings,
    )


def expected_wheel_name() -> str:
    given = envvars.SDK_WHEEL.get()
    return Path(given).name if given else f"pycog-{__version__}-py3-none-any.whl"


def static_schema(config: Config, options: BuildOptions) -> dict[str, Any]:
    """The schema baked into the image (the `--openapi-schema` file, or the static one)."""
    if options.openapi_schema is not None:
        loaded: dict[str, Any] = json.loads(options.openapi_schema.read_text())
        return loaded
    try:
        from ..schema import generate_schema  # type: ignore[attr-defined,unused-ignore]
    except ImportError as exc:
        raise BuildError(
            "The schema generator (cog.schema.generate_schema) is not available in this pycog, "
            "so the image cannot be labelled; pass `--openapi-schema FILE` with a prebuilt "
            "schema."
        ) from exc
    schema: dict[str, Any] = generate_schema(config.project_dir, config, static=True)
    return schema


def resolve_secret(spec: str, project_dir: Path) -> str:
    """`id=X,src=PATH` with a relative PATH made absolute against the project."""
    parts = []
    for item in spec.split(","):
        key, equals, value = item.partition("=")
        if key in ("src", "source") and value and not Path(value).is_absolute():
            value = str((project_dir / value).resolve())
        parts.append(f"{key}{equals}{value}")
    if not any(p.startswith("id=") for p in parts):
        raise BuildError(f"--secret {spec!r} has no id; write it as `id=NAME,src=PATH`.")
    return ",".join(parts)


def build_image(config: Config, options: BuildOptions, docker: Docker) -> BuiltImage:
    """Build the model image and return its name and id."""
    schema = static_schema(config, options)
    wheel = None if options.dockerfile else sdk_wheel()
    tracing = config.observability.traces.enabled  # the SDK goes where it is used
    pycog_requirements = server_requirements(wheel, tracing) if wheel else None
    plan = plan_build(
        config, options, docker, wheel.name if wheel else None, pycog_requirements is not None
    )
    schema_json = json.dumps(schema, indent=2).encode()
    cog_dir = config.project_dir / ".cog"
    cog_dir.mkdir(exist_ok=True)
    (cog_dir / "openapi_schema.json").write_bytes(schema_json)
    if plan.weights_image:
        _build_weights(config, plan, options, docker)
    pip = host_pip()
    secrets = [resolve_secret(s, config.project_dir) for s in options.secrets]
    if pip.ca_bundle is not None:
        secrets.append(f"id={PIP_CA_SECRET},src={pip.ca_bundle}")
    labels = image_labels(config, schema, plan.base.name) if options.labels else {}
    request = BuildRequest(
        context=_context(config, plan, options, schema_json, wheel, pycog_requirements),
        tag=plan.image,
        secrets=secrets,
        build_args=pip.build_args(),
        labels=labels,
        no_cache=options.no_cache,
        progress=options.progress,
    )
    image_id = docker.build(request)
    if options.labels:
        image_id = _add_pip_freeze(docker, plan.image)
    return BuiltImage(plan.image, image_id, plan)


def _context(
    config: Config,
    plan: BuildPlan,
    options: BuildOptions,
    schema_json: bytes,
    wheel: Path | None,
    pycog_requirements: list[str] | None,
) -> BuildContext:
    if options.dockerfile is not None:
        # The user's Dockerfile sees the project itself as its context, as `docker build .`.
        files = [f for f in plan.files if f != "Dockerfile"]
        text = options.dockerfile.read_text()
        return BuildContext(text, {}, config.project_dir, files, project_prefix="")
    assert wheel is not None
    staged: dict[str, bytes | Path] = {
        "openapi_schema.json": schema_json,
        f"wheels/{wheel.name}": wheel,
    }
    if pycog_requirements is not None:
        staged[SDK_REQUIREMENTS] = "".join(f"{line}\n" for line in pycog_requirements).encode()
    if plan.requirements.lines:
        staged["requirements.txt"] = plan.requirements.text().encode()
    if config.filename != "cog.yaml":
        staged["cog.yaml"] = config.project_dir / config.filename
    return BuildContext(plan.dockerfile, staged, config.project_dir, plan.files)


def _add_pip_freeze(docker: Docker, image: str) -> str:
    # What pip actually installed is only known after the build, so like Cog a second,
    # layer-less build adds it as a label.
    freeze = docker.run(
        "run", "--rm", "--entrypoint", "python", image, "-m", "pip", "freeze", timeout=300
    ).stdout
    context = BuildContext(f"FROM {image}\n")
    request = BuildRequest(
        context=context, tag=image, labels={LABEL_PIP_FREEZE: freeze}, progress="quiet"
    )
    return docker.build(request)


def _build_weights(config: Config, plan: BuildPlan, options: BuildOptions, docker: Docker) -> None:
    # Rebuilt only when the weight files changed, so a code change never re-sends them.
    assert plan.weights_image and plan.weights_dockerfile
    manifest = weights_manifest(config.project_dir, plan.weights)
    if docker.labels(plan.weights_image).get(LABEL_WEIGHTS_MANIFEST) == manifest:
        return
    context = weights_context(plan.weights_dockerfile, config.project_dir, plan.weights)
    docker.build(
        BuildRequest(
            context=context,
            tag=plan.weights_image,
            labels={LABEL_WEIGHTS_MANIFEST: manifest},
            no_cache=options.no_cache,
            progress=options.progress,
        )
    )
