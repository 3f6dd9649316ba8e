"""`cog build`, and the build flags shared by every command that builds an image."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .. import envvars
from ..build.base_image import BaseImageChoice
from ..build.builder import (
    BuildOptions,
    BuildPlan,
    BuiltImage,
    build_image,
    plan_build,
    static_schema,
)
from ..build.engine import PROGRESS_MODES, Docker
from ..config import Config
from ..errors import CogError
from .console import reporter, warn
from .errors import as_click_error
from .options import load_project

F = TypeVar("F", bound=Callable[..., Any])


def build_flags(function: F) -> F:
    """Add the flags every building command shares (`-f`, base image choice, progress)."""
    decorators = [
        click.option(
            "-f",
            "--file",
            "config_file",
            default="cog.yaml",
            show_default=True,
            help="The config file, relative to the current directory.",
        ),
        click.option(
            "--use-cog-base-image",
            type=click.BOOL,
            is_flag=False,
            flag_value=True,
            default=None,
            help="Start FROM a cog-base image (default: when present).",
        ),
        click.option(
            "--use-cuda-base-image",
            type=click.Choice(["auto", "true", "false"]),
            default="auto",
            show_default=True,
            help="For gpu: true, start FROM an nvidia/cuda image.",
        ),
        click.option(
            "--base-image",
            metavar="IMAGE",
            help="Start FROM this local image (it needs python and pip).",
        ),
        click.option(
            "--dockerfile",
            type=click.Path(exists=True, dir_okay=False),
            hidden=True,
            help="Build this Dockerfile instead of generating one.",
        ),
        click.option(
            "--progress",
            type=click.Choice(PROGRESS_MODES),
            default="auto",
            show_default=True,
            help="How build progress is shown.",
        ),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def base_choice_from(kwargs: dict[str, Any]) -> BaseImageChoice:
    """The base image flags of `build_flags` as a BaseImageChoice."""
    if kwargs.get("base_image") and kwargs.get("use_cog_base_image"):
        raise click.UsageError("--base-image and --use-cog-base-image exclude each other.")
    if kwargs.get("dockerfile") and (kwargs.get("base_image") or kwargs.get("use_cog_base_image")):
        raise click.UsageError("--dockerfile excludes --base-image and --use-cog-base-image.")
    return BaseImageChoice(
        base_image=kwargs.get("base_image"),
        use_cog_base_image=kwargs.get("use_cog_base_image"),
        use_cuda_base_image=kwargs.get("use_cuda_base_image", "auto") != "false",
    )


def build_options_from(kwargs: dict[str, Any]) -> BuildOptions:
    """BuildOptions from the parsed flags of a command decorated with `build_flags`."""
    schema = kwargs.get("openapi_schema")
    return BuildOptions(
        tag=kwargs.get("tag"),
        base=base_choice_from(kwargs),
        separate_weights=bool(kwargs.get("separate_weights")),
        secrets=tuple(kwargs.get("secret") or ()),
        no_cache=bool(kwargs.get("no_cache")),
        progress=kwargs.get("progress") or "auto",
        openapi_schema=Path(schema) if schema else None,
        dockerfile=Path(kwargs["dockerfile"]).resolve() if kwargs.get("dockerfile") else None,
    )


def domain_errors(function: F) -> F:
    """Show pycog's domain errors as click errors (message, exit status 1)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except CogError as exc:
            raise as_click_error(exc) from None

    return wrapper  # type: ignore[return-value]


def image_flags(function: F) -> F:
    """`cog build`/`cog push` flags beyond the shared ones."""
    decorators = [
        click.option("--no-cache", is_flag=True, help="Build every layer afresh."),
        click.option(
            "--debug",
            is_flag=True,
            help="Show what the build decided: base image, requirements and the Dockerfile.",
        ),
        click.option(
            "--secret",
            multiple=True,
            metavar="id=NAME,src=PATH",
            help="A secret for `build.run` mounts (repeatable).",
        ),
        click.option(
            "--separate-weights",
            is_flag=True,
            help="Put weight files in their own layer, before the code.",
        ),
        click.option(
            "--openapi-schema",
            type=click.Path(exists=True, dir_okay=False),
            envvar=envvars.OPENAPI_SCHEMA.name,
            help="Use this schema file instead of generating one.",
        ),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


@click.command("build")
@click.option("-t", "--tag", help="Image name (default: `image:` in cog.yaml, else cog-<dir>).")
@click.option(
    "--runtime",
    type=click.Choice(["docker", "local"]),
    default="docker",
    show_default=True,
    help="docker: build the image; local: check the model as a build does and prepare the "
    "local environment that predict/serve/train use without Docker (no image).",
)
@image_flags
@build_flags
@domain_errors
def command(**kwargs: Any) -> None:
    """Build an image from cog.yaml."""
    config = load_project(kwargs["config_file"])
    options = build_options_from(kwargs)
    if kwargs["runtime"] == "local":
        build_locally(config, options, kwargs["progress"], kwargs["debug"])
        return
    built = build_reporting(config, options, kwargs["debug"], Docker())
    click.echo(f"Image built as {built.name}", err=True)  # stderr, as Cog says it


def build_reporting(
    config: Config, options: BuildOptions, debug: bool, docker: Docker
) -> BuiltImage:
    """Build the image (once the engine answers), then show its warnings and, with `--debug`,
    its plan: what `cog build` and `cog push` both do before they go their own ways."""
    docker.ping()
    built = build_image(config, options, docker)
    for warning in built.plan.warnings:
        click.echo(f"warning: {warning}", err=True)
    if debug:
        show_plan(built.plan)
    return built


def show_plan(plan: BuildPlan) -> None:
    """What `--debug` adds: the decisions a build made, on stderr."""
    click.echo(f"Base image: {plan.base.name}", err=True)
    click.echo("Requirements:", err=True)
    for line in plan.requirements.lines or ["(none)"]:
        click.echo(f"    {line}", err=True)
    click.echo("Dockerfile:", err=True)
    click.echo(plan.dockerfile.rstrip("\n"), err=True)


def build_locally(config: Config, options: BuildOptions, progress: str, debug: bool) -> None:
    """What a build checks before the engine (the schema it would bake, the Dockerfile and
    requirements it would write), then the local environment in place of the image."""
    from ..localenv import prepare_environment

    static_schema(config, options)
    plan = plan_build(config, options, None)
    for warning in plan.warnings:
        click.echo(f"warning: {warning}", err=True)
    if debug:
        show_plan(plan)
    show = "quiet" if progress == "quiet" else "plain"
    environment = prepare_environment(config, reporter(show), warn=warn)
    click.echo(
        f"Environment for {plan.image} built in {environment.path} (local runtime, no image)"
    )
