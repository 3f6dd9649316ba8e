"""A doctor finding: how bad, where, what, and the one-line remediation."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Severity(Enum):
    """How much a finding matters: only errors make `cog doctor` exit 1 (as in Cog)."""

    ERROR = "error"  # the model will not build, load or predict
    WARNING = "warning"  # it works now but is deprecated or fragile
    INFO = "info"  # a suggestion: printed, not counted


@dataclass(frozen=True)
class Finding:
    check: str
    file: str
    line: int | None
    message: str
    fix: str
    """The remediation: what to change, in one line."""
    fixable: bool = False
    severity: Severity | None = None
    """None: the severity of the check that found it."""

    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file
