"""Flags shared by the commands that run a model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .. import envvars
from ..config import Config, load_config
from ..errors import CogError
from .console import warn
from .errors import as_click_error

F = TypeVar("F", bound=Callable[..., Any])


RUNTIMES = ["auto", "local", "docker"]


def runtime_option(
    help: str = "Where the model runs: a Docker container or the local isolated environment "
    "(auto: Docker when an engine answers).",
) -> Callable[[F], F]:
    return click.option(
        "--runtime", type=click.Choice(RUNTIMES), default="auto", show_default=True, help=help
    )


def progress_option() -> Callable[[F], F]:
    return click.option(
        "--progress",
        type=click.Choice(["auto", "plain", "quiet"]),
        default="auto",
        show_default=True,
        help="How to show long steps (environment build, image build).",
    )


def config_file_option() -> Callable[[F], F]:
    return click.option("-f", "--file", "config_file", default="cog.yaml", show_default=True)


def runtime_options(fn: F) -> F:
    """`--runtime`, `--progress`, `-e`, `--setup-timeout`, `-f` (the config file)."""
    decorators = [
        runtime_option(),
        progress_option(),
        click.option("-e", "--env", "env", multiple=True, help="NAME=value for the model."),
        click.option(
            "--setup-timeout",
            type=float,
            default=300.0,
            show_default=True,
            help="Seconds to wait for setup() to finish.",
        ),
        config_file_option(),
    ]
    for decorator in reversed(decorators):
        fn = decorator(fn)
    return fn


def queue_options(fn: F) -> F:
    """The server's queue flags (see cog.queue.settings), passed on to it."""
    decorators = [
        click.option(
            "--redis-url",
            envvar=envvars.REDIS_URL.name,
            help="redis://HOST:PORT/DB of the queue (with --queue).",
        ),
        click.option(
            "--queue",
            envvar=envvars.QUEUE.name,
            help="Also take predictions from this Redis stream (with --redis-url).",
        ),
        click.option("--queue-group", help="Consumer group (default: the queue's name)."),
        click.option("--queue-consumer", help="This worker's consumer name (default: HOST-PID)."),
        click.option("--queue-result-ttl", type=int, help="Seconds responses are kept (86400)."),
        click.option(
            "--queue-claim-after",
            type=float,
            envvar=envvars.QUEUE_CLAIM_AFTER.name,
            help="Seconds before another worker's idle entries are taken over (30).",
        ),
        click.option(
            "--queue-max-deliveries", type=int, help="Deliveries before dead-lettering (3)."
        ),
    ]
    for decorator in reversed(decorators):
        fn = decorator(fn)
    return fn


def load_project(
    config_file: str, project_dir: Path | None = None, *, schema_only: bool = False
) -> Config:
    """Load cog.yaml (as a click error when it is missing or invalid) and show its warnings.

    Without `project_dir`, the project is the nearest directory, from the current one up,
    that holds `config_file` (as Cog finds it from a subdirectory).
    `schema_only`: only what the schema depends on must be valid (see `load_config`)."""
    directory = project_dir or find_project_dir(Path.cwd(), config_file)
    try:
        config = load_config(directory, config_file, schema_only=schema_only)
    except CogError as exc:
        raise as_click_error(exc) from None
    for warning in config.warnings:
        warn(f"warning: {warning}")
    if "predict" in config.raw:
        # Cog's words for its deprecated key (both keep working here).
        warn('deprecated field "predict": use "run" instead')
    return config


def find_project_dir(start: Path, config_file: str) -> Path:
    """The nearest of `start` and its parents that holds `config_file` (else `start`, so that
    the missing-file error names the directory the user is in)."""
    if Path(config_file).is_absolute():
        return start
    for directory in (start, *start.parents):
        if (directory / config_file).is_file():
            return directory
    return start


def parse_env(pairs: tuple[str, ...]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r} is not NAME=value", param_hint="-e")
        env[name] = value
    return env
