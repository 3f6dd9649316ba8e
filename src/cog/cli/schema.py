"""`cog schema`: print the model's OpenAPI schema, as Cog writes `.cog/openapi_schema.json`.

`--static` reads the source here, in the CLI's Python, and needs none of the model's
requirements. Without it, the source is read first (to refuse what a build would refuse), then
the model is imported in its own environment, as `cog predict` runs it: the local virtualenv
built from cog.yaml, or a container of its image (`python -m cog.schema` there).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import click

from ..config import Config
from ..errors import CogError
from .console import reporter, say, warn
from .errors import as_click_error
from .model import choose_runtime
from .options import config_file_option, load_project, progress_option, runtime_option

SCHEMA_TIMEOUT_SECONDS = 600


@click.command("schema")
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--static", is_flag=True, help="Read the source only; never import the model.")
@runtime_option(
    "Where the model is imported (not with --static): a Docker container or the local "
    "isolated environment (auto: Docker when an engine answers)."
)
@progress_option()
@config_file_option()
def command(path: Path | None, static: bool, runtime: str, progress: str, config_file: str) -> None:
    """Print the OpenAPI schema of the model in PATH (default: this directory)."""
    from ..schema import dumps, generate_schema

    config = load_project(config_file, path, schema_only=True)
    try:
        document = generate_schema(config.project_dir, config, static=True)
        if static:
            click.echo(dumps(document))
            return
        click.echo(_read_in_environment(config, runtime, progress), nl=False)
    except CogError as exc:
        raise as_click_error(exc) from None


def _read_in_environment(config: Config, runtime: str, progress: str) -> str:
    """The document printed by `python -m cog.schema` in the model's environment."""
    argv = ["python", "-m", "cog.schema"]
    for option, ref in (("--predict", config.predict), ("--train", config.train)):
        if ref:
            argv += [option, ref]
    chosen = choose_runtime(runtime)  # type: ignore[arg-type]
    if progress != "quiet":
        say(f"Runtime: {chosen}")
    if chosen == "docker":
        result = _run_in_container(config, argv, progress)
    else:
        result = _run_locally(config, argv, progress)
    if result.returncode != 0:
        raise click.ClickException(result.stderr.strip() or f"status {result.returncode}")
    if result.stderr:
        warn(result.stderr.rstrip("\n"))  # what the model printed while it was imported
    return result.stdout


def _run_locally(
    config: Config, argv: list[str], progress: str
) -> subprocess.CompletedProcess[str]:
    from ..localenv import prepare_environment

    environment = prepare_environment(config, reporter(progress), warn=warn)
    try:
        return subprocess.run(
            [str(environment.python), *argv[1:]],
            cwd=config.project_dir,
            env=environment.variables(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=SCHEMA_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise click.ClickException(
            f"importing the model took more than {SCHEMA_TIMEOUT_SECONDS}s (does predict.py "
            "do work at import time?); use --static to read the source only"
        ) from None


def _run_in_container(
    config: Config, argv: list[str], progress: str
) -> subprocess.CompletedProcess[str]:
    from ..build.docker_runtime import ContainerSpec, build_dev_image, container_output

    image = build_dev_image(config, progress=progress)
    spec = ContainerSpec(image, command=argv, project_dir=config.project_dir)
    return container_output(spec, timeout=SCHEMA_TIMEOUT_SECONDS)
