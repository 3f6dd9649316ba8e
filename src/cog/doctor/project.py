"""What the checks read: cog.yaml (raw, with lines), requirements, and the predictor source."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..config.source import Document, parse

_PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)\s*==\s*([^\s;#]+)")
_NAME = re.compile(r"^([A-Za-z0-9_.\-]+)")


@dataclass
class Requirement:
    line: int
    text: str

    @property
    def name(self) -> str | None:
        match = _NAME.match(self.text)
        return match[1].lower().replace("_", "-") if match else None

    @property
    def pinned_version(self) -> str | None:
        match = _PIN.match(self.text)
        return match[2] if match else None

    @property
    def is_option(self) -> bool:
        return self.text.startswith("-") or "://" in self.text or self.text.startswith((".", "/"))


@dataclass
class Project:
    root: Path
    config_file: Path
    document: Document | None
    raw: dict[str, Any]
    requirements_file: Path | None
    requirements: list[Requirement] = field(default_factory=list)
    predictor_file: Path | None = None
    tree: ast.Module | None = None

    def line(self, *path: str | int) -> int | None:
        return self.document.line_of(tuple(path)) if self.document else None

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    @property
    def requirements_source(self) -> str:
        """Where the requirements are written: the requirements file, else cog.yaml."""
        return self.rel(self.requirements_file or self.config_file)

    def requirement(self, name: str) -> Requirement | None:
        return next((r for r in self.requirements if r.name == name), None)


def load_project(root: Path, config_name: str = "cog.yaml") -> Project:
    config_file = root / config_name
    text = config_file.read_text() if config_file.exists() else ""
    try:
        document: Document | None = parse(text)
    except Exception:
        document = None
    raw = document.value if document and isinstance(document.value, dict) else {}
    build = raw.get("build") if isinstance(raw.get("build"), dict) else {}
    project = Project(root, config_file, document, raw, None)
    requirements = build.get("python_requirements") if isinstance(build, dict) else None
    if isinstance(requirements, str) and (root / requirements).is_file():
        project.requirements_file = root / requirements
        for number, line in enumerate(project.requirements_file.read_text().splitlines(), 1):
            stripped = line.split(" #", 1)[0].strip()
            if stripped and not stripped.startswith("#"):
                project.requirements.append(Requirement(number, stripped))
    elif isinstance(build, dict) and isinstance(build.get("python_packages"), list):
        for index, item in enumerate(build["python_packages"]):
            number = project.line("build", "python_packages", index) or 0
            project.requirements.append(Requirement(number, str(item)))
    ref = raw.get("run") or raw.get("predict")
    if isinstance(ref, str) and ".py" in ref:
        path = root / ref.split(":", 1)[0]
        if path.is_file():
            project.predictor_file = path
            try:
                project.tree = ast.parse(path.read_text())
            except SyntaxError:
                project.tree = None
    return project


def dump_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False)
