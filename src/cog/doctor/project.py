"""What the checks read: cog.yaml (raw, with lines), requirements, and the predictor source."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
class PythonFile:
    """A file cog.yaml points at, read once: its source and (when it parses) its AST."""

    path: str
    """Relative to the project."""
    source: str
    tree: ast.Module | None


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
    config_text: str | None = None
    """cog.yaml as written; None when there is no cog.yaml."""
    python_files: dict[str, PythonFile] = field(default_factory=dict)
    """The files `run`/`predict`/`train` name, by relative path."""

    def references(self) -> list[tuple[str, str]]:
        """(key, reference) for each of run/predict/train cog.yaml sets to a string."""
        return [
            (key, self.raw[key])
            for key in ("run", "predict", "train")
            if isinstance(self.raw.get(key), str) and self.raw[key]
        ]

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
    project.config_text = text if config_file.exists() else None
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
    for _, reference in project.references():
        _read_python(project, split_reference(reference)[0])
    ref = raw.get("run") or raw.get("predict")
    if isinstance(ref, str) and split_reference(ref)[0] in project.python_files:
        python = project.python_files[split_reference(ref)[0]]
        project.predictor_file = root / python.path
        project.tree = python.tree
    return project


def split_reference(ref: str) -> tuple[str, str]:
    """`predict.py:Predictor` → ("predict.py", "Predictor"); no colon → (ref, "")."""
    file, _, name = ref.rpartition(":")
    return (file, name) if file else (ref, "")


def _read_python(project: Project, relative: str) -> None:
    path = project.root / relative
    if relative in project.python_files or not relative.endswith(".py") or not path.is_file():
        return
    source = path.read_text()
    try:
        tree: ast.Module | None = ast.parse(source)
    except SyntaxError:
        tree = None
    project.python_files[relative] = PythonFile(relative, source, tree)
