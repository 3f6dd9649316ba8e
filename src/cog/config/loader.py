"""Load cog.yaml from a project directory."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigDoesNotExist
from .errors import ConfigError
from .model import Config
from .source import YamlSyntaxError, parse
from .validate import Checker, check_document


def load_config(
    project_dir: str | os.PathLike[str] = ".",
    filename: str = "cog.yaml",
    *,
    schema_only: bool = False,
) -> Config:
    """Read and validate `<project_dir>/<filename>`.

    Raises ConfigDoesNotExist when the file is missing and ConfigError, listing every problem,
    when it is invalid. Warnings (deprecated keys...) are in `Config.warnings`. With
    `schema_only` (`cog schema`), problems of keys the schema does not depend on (an
    unsupported `python_version`, a missing requirements file, an unknown key...) are warnings.
    """
    directory = Path(project_dir).resolve()
    path = directory / filename
    if not path.is_file():
        raise ConfigDoesNotExist(
            f"{path} does not exist: run `cog init` to create one, or run this command in the "
            "directory of your model"
        )
    return parse_config(path.read_text(), directory, filename, schema_only=schema_only)


def parse_config(
    text: str, project_dir: Path, filename: str = "cog.yaml", *, schema_only: bool = False
) -> Config:
    """Validate cog.yaml's text as if it were in `project_dir`."""
    try:
        document = parse(text)
    except YamlSyntaxError as exc:
        raise ConfigError([exc.problem], filename) from None
    checker = Checker(document, project_dir)
    config = check_document(checker)
    problems = sorted(checker.problems, key=lambda problem: problem.line or 0)
    warnings = list(config.warnings)
    if schema_only:
        warnings += [problem.render(filename) for problem in problems if not problem.affects_schema]
        problems = [problem for problem in problems if problem.affects_schema]
    if problems:
        raise ConfigError(problems, filename)
    return Config(**{**config.__dict__, "filename": filename, "warnings": tuple(warnings)})
