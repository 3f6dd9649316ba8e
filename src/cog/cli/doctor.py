"""`cog doctor [--fix] [PATH]`: check the project against the rules of a good Cog model."""

from __future__ import annotations

from pathlib import Path

import click

from ..doctor import diagnose
from ..doctor.fixes import apply_fixes
from .console import stderr, write_stdout


@click.command("doctor")
@click.argument(
    "path", required=False, type=click.Path(file_okay=False, path_type=Path), default=Path(".")
)
@click.option(
    "--fix",
    is_flag=True,
    help="Apply the safe fixes: pin python_version to a minor release, set build.cuda from the torch wheel, add numpy<2 for older torch, move python_packages to requirements.txt.",
)
@click.option("-f", "--file", "config_file", default="cog.yaml", show_default=True)
def command(path: Path, fix: bool, config_file: str) -> None:
    """Check the model in PATH; exit status 1 when anything is found."""
    root = path.resolve()
    findings = diagnose(root, config_file)
    if fix and findings:
        applied = apply_fixes(root, findings, config_file)
        for finding in applied:
            stderr.print(f"fixed {finding.location()}: {finding.message}", markup=False)
        findings = diagnose(root, config_file)
    for finding in findings:
        write_stdout(
            f"{finding.location()}: [{finding.check}] {finding.message}\n    fix: {finding.fix}\n"
        )
    if findings:
        stderr.print(f"{len(findings)} finding(s)", markup=False)
        raise SystemExit(1)
    stderr.print("No problems found.", markup=False)
