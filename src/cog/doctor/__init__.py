"""`cog doctor`: the rules a good Cog model follows, each finding with file:line and a fix.

findings       Finding
project        what the checks read (cog.yaml with lines, requirements, the predictor's AST)
config_checks  cog.yaml and requirements rules
source_checks  predictor source rules
fixes          the safe fixes `--fix` applies
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from . import config_checks, source_checks
from .findings import Finding
from .project import Project, load_project

CHECKS: tuple[Callable[[Project], Iterator[Finding]], ...] = (
    config_checks.check_config,
    config_checks.check_python_version,
    config_checks.check_requirements,
    config_checks.check_cuda,
    config_checks.check_numpy,
    config_checks.check_pget,
    config_checks.check_hf_transfer,
    source_checks.check_inputs,
)


def diagnose(root: Path, config_name: str = "cog.yaml") -> list[Finding]:
    """Every finding for the project in `root`, in file order."""
    project = load_project(root, config_name)
    findings = [finding for check in CHECKS for finding in check(project)]
    return sorted(findings, key=lambda f: (f.file, f.line or 0))


__all__ = ["Finding", "diagnose"]
