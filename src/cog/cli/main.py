"""The `cog` command: one click group; each command lives in its own module of this package."""

from __future__ import annotations

import importlib

import click

from .._version import __version__
from . import signals

# Each module defines a click command (or group) named `command`; a module that is missing is
# simply not offered, so components can land independently.
COMMAND_MODULES = (
    "init",
    "predict",
    "serve",
    "playground",
    "train",
    "exec",
    "schema",
    "build",
    "push",
    "debug",
    "doctor",
    "kubernetes",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cog (pycog)")
def cli() -> None:
    """Package machine learning models as reproducible, self-describing prediction servers."""


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{name}":
                raise
            continue
        commands = getattr(module, "commands", None) or (module.command,)
        for command in commands:
            cli.add_command(command)


_register_commands()


def main() -> None:
    """Console-script entry point."""
    signals.install()
    try:
        cli(prog_name="cog")
    finally:
        signals.exit_as_signaled()
