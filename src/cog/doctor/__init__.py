"""`cog doctor`: Cog's checks (config, predictor reference, deprecated names and imports, the
pydantic workaround) and pycog's rules of a good model, each finding with a remediation.

findings        Finding, Severity
checks          Check, Group, FixError
project         what the checks read (cog.yaml with lines, requirements, the Python files)
config_checks   cog.yaml and requirements rules
migration       predict → run names
python_checks   removed imports, pydantic BaseModel workaround
schema_checks   what `cog schema` refuses; input defaults outside their constraints
source_checks   pycog's rules for inputs and outputs
fixes           the cog.yaml/requirements fixes `--fix` applies
edits           source edits at AST positions
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import config_checks as config
from . import migration, python_checks, schema_checks, source_checks
from .checks import Check, FixError, Group
from .findings import Finding, Severity
from .fixes import apply_fixes
from .project import Project, load_project

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO


def _config_fix(project: Project, findings: list[Finding]) -> None:
    apply_fixes(project.root, findings, project.config_file.name)


CHECKS: tuple[Check, ...] = (
    Check("config-parse", Group.CONFIG, "Config parsing", config.check_config_parse, ERROR),
    Check("config-schema", Group.CONFIG, "Config schema", config.check_config_schema, ERROR),
    Check("predict-to-run", Group.CONFIG, "Deprecated predict interface names",
          migration.check_predict_to_run, WARNING, migration.fix_predict_to_run),
    Check("deprecated-fields", Group.CONFIG, "Deprecated fields", config.check_deprecated_fields),
    Check("predict-ref", Group.CONFIG, "Predict reference", config.check_references, ERROR),
    Check("python-version", Group.CONFIG, "Python version", config.check_python_version,
          WARNING, _config_fix),
    Check("pinned-requirements", Group.CONFIG, "Pinned requirements", config.check_requirements),
    Check("python-requirements", Group.CONFIG, "Requirements file",
          config.check_requirements_file, INFO, _config_fix),
    Check("cuda-torch", Group.CONFIG, "CUDA for torch", config.check_cuda, WARNING, _config_fix),
    Check("numpy-torch", Group.CONFIG, "NumPy for torch", config.check_numpy, WARNING, _config_fix),
    Check("pget-pinned", Group.CONFIG, "pget release", config.check_pget),
    Check("hf-transfer", Group.CONFIG, "Hugging Face downloads", config.check_hf_transfer, INFO),
    Check("pydantic-basemodel", Group.PYTHON, "Pydantic BaseModel workaround",
          python_checks.check_pydantic_basemodel, ERROR, python_checks.fix_pydantic_basemodel),
    Check("deprecated-imports", Group.PYTHON, "Deprecated imports",
          python_checks.check_removed_imports, ERROR, python_checks.fix_removed_imports),
    Check("schema", Group.PYTHON, "Predictor schema", schema_checks.check_schema),
    Check("inputs", Group.PYTHON, "Inputs and outputs", source_checks.check_inputs, INFO),
)  # fmt: skip


@dataclass
class CheckResult:
    check: Check
    findings: list[Finding] = field(default_factory=list)
    fixed: bool = False
    fix_error: str | None = None
    """Why `--fix` could not apply this check's fix."""


def run_checks(
    root: Path, config_name: str = "cog.yaml", *, fix: bool = False
) -> list[CheckResult]:
    """Every check in order; with `fix`, each fixable check is fixed before the next runs (the
    next one reads the fixed files, as `predict-ref` must after the predict → run migration)."""
    project = load_project(root, config_name)
    results = []
    for check in CHECKS:
        result = CheckResult(check, check.run(project))
        fixable = result.findings and all(f.fixable for f in result.findings)
        if fix and fixable and check.fix is not None:
            try:
                check.fix(project, result.findings)
            except (FixError, OSError) as exc:
                result.fix_error = str(exc)
            else:
                result.fixed = True
                project = load_project(root, config_name)
        results.append(result)
    return results


def diagnose(root: Path, config_name: str = "cog.yaml") -> list[Finding]:
    """Every finding for the project in `root`."""
    return [finding for result in run_checks(root, config_name) for finding in result.findings]


__all__ = ["CHECKS", "Check", "CheckResult", "Finding", "Severity", "diagnose", "run_checks"]
