"""Load cog.yaml from a project directory."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigDoesNotExist
from .errors import ConfigError
from .model import Config
from .source import YamlSyntaxError, parse
from .validate import Checker, check_document


def load_config(project_dir: str | os.PathLike[str] = ".", filename: str = "cog.yaml") -> Config:
    """Read and validate `<project_dir>/<filename>`.

    Raises ConfigDoesNotExist when the file is missing and ConfigError, listing every problem,
    when it is invalid. Warnings (deprecated keys...) are in `Config.warnings`.
    """
    directory = Path(project_dir).resolve()
    path = directory / filename
    if not path.is_file():
        raise ConfigDoesNotExist(
            f"{path} does not exist: run `cog init` to create one, or run this command in the "
            "directory of your model"
        )
    return parse_config(path.read_text(), directory, filename)


def parse_config(text: str, project_dir: Path, filename: str = "cog.yaml") -> Config:
    """Validate cog.yaml's text as if it were in `project_dir`."""
    try:
        document = parse(text)
    except YamlSyntaxError as exc:
        raise ConfigError([exc.problem], filename) from None
    checker = Checker(document, project_dir)
    config = check_document(checker)
    if checker.problems:
        in_file_order = sorted(checker.problems, key=lambda problem: problem.line or 0)
        raise ConfigError(in_file_order, filename)
    return Config(**{**config.__dict__, "filename": filename})
