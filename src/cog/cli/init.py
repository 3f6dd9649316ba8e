"""`cog init`: the canonical layout of a Cog project, never overwriting a file."""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

import click

from .console import say

EXECUTABLE = ("script/lint", "script/test", "script/push")
FILES = (
    "cog.yaml",
    "run.py",
    "requirements.txt",
    ".dockerignore",
    "script/lint",
    "script/test",
    "script/push",
    ".github/workflows/ci.yaml",
    "cog-safe-push-configs/default.yaml",
    "README.md",
)


def template(name: str) -> str:
    text = (
        resources.files("cog.cli")
        .joinpath("templates")
        .joinpath(name.replace("/", "__"))
        .read_text()
    )
    return text.replace("{python_version}", f"{sys.version_info.major}.{sys.version_info.minor}")


def scaffold(directory: Path) -> tuple[list[str], list[str]]:
    """Write the project files that do not exist yet; (created, skipped)."""
    created, skipped = [], []
    for name in FILES:
        target = directory / name
        if target.exists():
            skipped.append(name)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(template(name))
        if name in EXECUTABLE:
            target.chmod(0o755)
        created.append(name)
    return created, skipped


@click.command("init")
@click.argument(
    "directory", required=False, type=click.Path(file_okay=False, path_type=Path), default=Path(".")
)
def command(directory: Path) -> None:
    """Set up a Cog project in DIRECTORY (default: here)."""
    directory.mkdir(parents=True, exist_ok=True)
    created, skipped = scaffold(directory)
    for name in skipped:
        say(f"Skipped existing {name}")
    for name in created:
        say(f"Created {name}")
    say("Next: edit run.py, then `cog run -i prompt=hello`; `cog doctor` checks the project.")
