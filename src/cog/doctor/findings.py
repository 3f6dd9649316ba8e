"""A doctor finding: where, what, and the one-line fix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    check: str
    file: str
    line: int | None
    message: str
    fix: str
    fixable: bool = False

    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file
