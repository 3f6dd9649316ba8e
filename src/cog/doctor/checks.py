"""A doctor check: a named rule with a group, a severity, what it finds and how it fixes it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from enum import Enum

from ..errors import CogError
from .findings import Finding, Severity
from .project import Project


class Group(Enum):
    """The headings `cog doctor` prints its checks under, in Cog's order."""

    CONFIG = "Config"
    PYTHON = "Python"


class FixError(CogError):
    """`--fix` cannot make this change safely; the message says what to do by hand."""


Finder = Callable[[Project], Iterator[Finding]]
Fixer = Callable[[Project, list[Finding]], None]


@dataclass(frozen=True)
class Check:
    name: str
    group: Group
    description: str
    find: Finder
    severity: Severity = Severity.WARNING
    fix: Fixer | None = None
    """Applies every finding of the check, or raises FixError; None: nothing mechanical."""

    def run(self, project: Project) -> list[Finding]:
        return [
            finding if finding.severity else replace(finding, severity=self.severity)
            for finding in self.find(project)
        ]
