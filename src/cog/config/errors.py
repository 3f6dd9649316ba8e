"""Errors of cog.yaml loading.

CogError
├── ConfigDoesNotExist   (cog.errors) there is no cog.yaml where one was expected
└── ConfigError          cog.yaml exists but is not valid: one Problem per fault
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import CogError
from .rules import SCHEMA_KEYS


@dataclass(frozen=True)
class Problem:
    """One fault in cog.yaml: where it is, what is wrong, and what to write instead."""

    key: str
    """Dotted key path, e.g. `build.python_version` or `build.run[2].command`."""
    message: str
    line: int | None = None
    fix: str | None = None

    @property
    def affects_schema(self) -> bool:
        """Whether the schema of the model depends on this key (only `predict`/`run`/`train`,
        and faults of the document as a whole, do)."""
        top = self.key.split(".")[0].split("[")[0]
        return top in ("", *SCHEMA_KEYS)

    def render(self, filename: str = "cog.yaml") -> str:
        where = f"{filename}:{self.line}" if self.line else filename
        key = f"{self.key}: " if self.key else ""
        fix = f" ({self.fix})" if self.fix else ""
        return f"{where}: {key}{self.message}{fix}"


class ConfigError(CogError):
    """Raised when cog.yaml cannot be used; lists every problem found, each on its own line."""

    def __init__(self, problems: Sequence[Problem], filename: str = "cog.yaml") -> None:
        self.problems = tuple(problems)
        self.filename = filename
        count = len(self.problems)
        header = f"{filename} has {count} problem{'s' if count != 1 else ''}:"
        lines = [header, *(f"  {problem.render(filename)}" for problem in self.problems)]
        super().__init__("\n".join(lines))
