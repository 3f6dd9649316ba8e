"""`cog doctor [--fix] [PATH]`: run Cog's checks and pycog's rules on the project, Cog's way:
on stderr, grouped by check, exit status 1 only when an error is left."""

from __future__ import annotations

from pathlib import Path

import click

from ..doctor import CheckResult, Finding, Severity, run_checks
from .console import say, warn

MARKS = {Severity.ERROR: "✗", Severity.WARNING: "⚠", Severity.INFO: "ℹ"}


@click.command("doctor")
@click.argument(
    "path", required=False, type=click.Path(file_okay=False, path_type=Path), default=Path(".")
)
@click.option(
    "--fix",
    is_flag=True,
    help="Apply the mechanical fixes: predict → run names, removed imports, cog.BaseModel for "
    "the pydantic workaround, python_version's minor release, build.cuda from the torch wheel, "
    "numpy<2 for older torch, python_packages to requirements.txt.",
)
@click.option("-f", "--file", "config_file", default="cog.yaml", show_default=True)
def command(path: Path, fix: bool, config_file: str) -> None:
    """Check the model in PATH (experimental); exit status 1 when an error is found."""
    warn("cog doctor is experimental: its checks and their output may change.")
    say(f"\nRunning cog doctor{' --fix' if fix else ''}...\n")
    results = run_checks(path.resolve(), config_file, fix=fix)
    errors, warnings, fixed = _print_results(results)
    say("")
    say(_summary(errors, warnings, fixed, fix, _suggest_fix(results)))
    if errors:
        raise SystemExit(1)


def _print_results(results: list[CheckResult]) -> tuple[int, int, int]:
    errors = warnings = fixed = 0
    group = None
    for result in results:
        if result.check.group is not group:
            group = result.check.group
            say(group.value)
        description = result.check.description
        if result.fix_error is not None:
            say(f"✗ {description}: {result.fix_error}")
            errors += 1
        elif not result.findings:
            say(f"✓ {description}")
            continue
        elif result.fixed:
            say(f"✓ Fixed: {description}")
            fixed += len(result.findings)
        else:
            worst = min(result.findings, key=lambda f: list(Severity).index(_severity(f)))
            say(f"{MARKS[_severity(worst)]} {description}")
            errors += sum(1 for f in result.findings if _severity(f) is Severity.ERROR)
            warnings += sum(1 for f in result.findings if _severity(f) is Severity.WARNING)
        for finding in result.findings:
            say(f"  {finding.location()} — {finding.message}")
            if not result.fixed:
                say(f"  Remediation: {finding.fix}")
    return errors, warnings, fixed


def _severity(finding: Finding) -> Severity:
    return finding.severity or Severity.WARNING  # Check.run sets it; None only when built by hand


def _suggest_fix(results: list[CheckResult]) -> bool:
    return any(
        not r.fixed
        and r.check.fix is not None
        and r.findings
        and all(f.fixable for f in r.findings)
        for r in results
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _summary(errors: int, warnings: int, fixed: int, fix: bool, fixable: bool) -> str:
    if fix and fixed:
        parts = [f"Fixed {_count(fixed, 'issue')}"]
        parts += [f"{_count(warnings, 'warning')} remaining"] if warnings else []
        parts += [f"{_count(errors, 'unfixed error')}"] if errors else []
        return ". ".join(parts) + "."
    if errors or warnings:
        found = [_count(errors, "error")] if errors else []
        found += [_count(warnings, "warning")] if warnings else []
        hint = ' Run "cog doctor --fix" to fix what can be fixed.' if fixable and not fix else ""
        return f"Found {', '.join(found)}.{hint}"
    return "✓ no issues found"
