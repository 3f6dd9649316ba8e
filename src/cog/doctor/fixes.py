"""The fixes `cog doctor --fix` applies: mechanical edits that cannot change what the model does.

They edit cog.yaml through PyYAML (comments in cog.yaml are not kept) and append to the
requirements file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .findings import Finding

_CUDA = re.compile(r'"(\d+\.\d+)"')


def apply_fixes(
    root: Path, findings: list[Finding], config_name: str = "cog.yaml"
) -> list[Finding]:
    """Apply the fixable findings; return the ones applied."""
    fixable = [f for f in findings if f.fixable]
    if not fixable:
        return []
    config_path = root / config_name
    data: dict[str, Any] = yaml.safe_load(config_path.read_text()) or {}
    build = data.setdefault("build", {})
    for finding in fixable:
        if finding.check == "python-version":
            build["python_version"] = ".".join(str(build["python_version"]).split(".")[:2])
        elif finding.check == "cuda-torch":
            match = _CUDA.search(finding.fix)
            if match:
                build["cuda"] = match[1]
        elif finding.check == "python-requirements":
            packages = build.pop("python_packages", [])
            (root / "requirements.txt").write_text("".join(f"{p}\n" for p in packages))
            build["python_requirements"] = "requirements.txt"
        elif finding.check == "numpy-torch":
            _set_requirement(root, build, "numpy", "numpy<2")
    config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    return fixable


def _set_requirement(root: Path, build: dict[str, Any], name: str, line: str) -> None:
    """Replace the requirement line for `name` (or add one)."""
    if isinstance(build.get("python_requirements"), str):
        path = root / build["python_requirements"]
        lines = path.read_text().splitlines()
    else:
        lines = [str(item) for item in build.get("python_packages", [])]
    kept = [
        item
        for item in lines
        if re.split(r"[<>=!~\[; ]", item.strip(), maxsplit=1)[0].lower() != name
    ]
    kept.append(line)
    if isinstance(build.get("python_requirements"), str):
        path.write_text("\n".join(kept) + "\n")
    else:
        build["python_packages"] = kept
