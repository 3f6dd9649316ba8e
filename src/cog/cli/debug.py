"""`cog debug` (hidden): print the Dockerfile `cog build` would use, without building."""

from __future__ import annotations

from typing import Any

import click

from ..build.builder import BuildOptions, plan_build
from .build import base_choice_from, build_flags, domain_errors
from .options import load_project


@click.command("debug", hidden=True)
@click.option("--image-name", help="The image name to plan for.")
@click.option("--separate-weights", is_flag=True, help="Also show the weights image plan.")
@build_flags
@domain_errors
def command(image_name: str | None, separate_weights: bool, **kwargs: Any) -> None:
    """Print the generated Dockerfile."""
    config = load_project(kwargs["config_file"])
    options = BuildOptions(
        tag=image_name, base=base_choice_from(kwargs), separate_weights=separate_weights
    )
    # Nothing is checked against an engine: the base image shown is the one a build falls
    # back to (or `--base-image`), whether or not it is present.
    plan = plan_build(config, options, None)
    if plan.weights_dockerfile:
        click.echo(f"# Weights image {plan.weights_image}")
        click.echo(plan.weights_dockerfile)
        click.echo("# Files in the weights image (excluded from the model context):")
        click.echo("".join(f"#   {path}\n" for path in plan.weights))
        click.echo(f"# Model image {plan.image}")
    click.echo(plan.dockerfile, nl=False)
