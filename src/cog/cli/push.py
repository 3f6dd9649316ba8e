"""`cog push [IMAGE]`: build the image with its labels and push it to a registry."""

from __future__ import annotations

from typing import Any

import click

from ..build.engine import Docker
from .build import build_flags, build_options_from, build_reporting, domain_errors, image_flags
from .options import load_project


@click.command("push")
@click.argument("image", required=False)
@image_flags
@build_flags
@domain_errors
def command(image: str | None, **kwargs: Any) -> None:
    """Build and push the model image (IMAGE, else `image:` from cog.yaml)."""
    config = load_project(kwargs["config_file"])
    target = image or config.image or config.model
    if not target:
        raise click.UsageError(
            "No image to push to: give one (`cog push registry.example.com/me/model`) or set "
            "`image:` in cog.yaml."
        )
    options = build_options_from({**kwargs, "tag": target})
    docker = Docker()
    built = build_reporting(config, options, kwargs["debug"], docker)
    # With --separate-weights the weights are one unchanged layer of this image: the registry
    # already has it after the first push, so only the code layer travels again.
    click.echo(f"Pushing {built.name}", err=True)
    docker.push(built.name)
    click.echo(f"Image pushed as {built.name}")
