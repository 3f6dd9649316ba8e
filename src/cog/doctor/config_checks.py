"""Checks of cog.yaml and the requirements."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from ..config import ConfigError, Problem, load_config
from ..config.source import YamlSyntaxError, parse
from ..errors import CogError
from .findings import Finding
from .project import Project, split_reference

REFERENCE_KEYS = ("run", "predict", "train")

_TORCH_CUDA = re.compile(r"\+cu(\d+)(\d)$")
_VERSION = re.compile(r"^(\d+)\.(\d+)")
HUB_PACKAGES = ("huggingface-hub", "transformers", "diffusers")
PACKAGES_BEFORE_REQUIREMENTS = 5


def check_config_parse(project: Project) -> Iterator[Finding]:
    """cog.yaml exists and is YAML."""
    name = project.rel(project.config_file)
    if project.config_text is None:
        yield Finding(
            "config-parse", name, None, f"{name} not found", "run `cog init` to create cog.yaml"
        )
        return
    try:
        parse(project.config_text)
    except YamlSyntaxError as exc:
        yield Finding(
            "config-parse", name, exc.problem.line, f"{name} is not valid YAML: {exc.problem.message}",
            f"fix the YAML syntax in {name}",
        )  # fmt: skip


def check_config_schema(project: Project) -> Iterator[Finding]:
    """Every problem `cog build` (and, for the references, `cog schema`) refuses cog.yaml for."""
    name = project.rel(project.config_file)
    if project.config_text is None or project.document is None:
        return  # check_config_parse says why
    try:
        load_config(project.root, project.config_file.name)
    except ConfigError as exc:
        for problem in exc.problems:
            if _is_missing_reference(problem):
                continue  # check_references says it, as Cog does
            yield Finding(
                "config", name, problem.line, f"{problem.key}: {problem.message}".strip(": "),
                problem.fix or f"fix {problem.key or 'the file'} in {name}",
            )  # fmt: skip
    except CogError as exc:
        yield Finding("config", name, None, str(exc), "run `cog init` to create cog.yaml")


def _is_missing_reference(problem: Problem) -> bool:
    return problem.key in REFERENCE_KEYS and "does not exist" in problem.message


def check_deprecated_fields(project: Project) -> Iterator[Finding]:
    """The keys cog.yaml still accepts but has replaced (config warnings)."""
    name = project.rel(project.config_file)
    try:
        config = load_config(project.root, project.config_file.name, schema_only=True)
    except CogError:
        return  # check_config_schema says why
    for warning in config.warnings:
        if "build.python_version:" in warning or "does not exist" in warning:
            continue  # check_python_version (which can fix it) and check_references say these
        where, _, message = warning.partition(": ")
        line = where.rpartition(":")[2]
        instead = message.partition("is deprecated: ")[2]
        yield Finding(
            "deprecated-fields", name, int(line) if line.isdigit() else None, message,
            instead[:1].upper() + instead[1:] if instead else f"remove it from {name}",
        )  # fmt: skip


def check_references(project: Project) -> Iterator[Finding]:
    """The file and class `run`/`predict`/`train` name exist (read, never imported)."""
    config_name = project.rel(project.config_file)
    for key, ref in project.references():
        file, name = split_reference(ref)
        if not file.endswith(".py"):
            example = {"train": "train.py:Trainer", "predict": "predict.py:Predictor"}
            yield Finding(
                "predict-ref", config_name, project.line(key),
                f"{key} reference {ref!r} must be in the form 'file.py:ClassName'",
                f'set {key} to "{example.get(key, "run.py:Runner")}" in {config_name}',
            )  # fmt: skip
            continue
        python = project.python_files.get(file)
        if python is None:
            yield Finding(
                "predict-ref", config_name, project.line(key), f"{file} not found",
                f"Create {file} or update the {key} field in {config_name}",
            )  # fmt: skip
            continue
        if python.tree is None or not name:
            continue  # a syntax error is the schema check's; no name: Cog's default names
        names = _top_level_names(python.tree)
        if name not in names:
            classes = [n for n, kind in names.items() if kind == "class"]
            found = f"; found: {', '.join(classes)}" if classes else ""
            yield Finding(
                "predict-ref", file, None, f"class {name!r} not found in {file}{found}",
                f"Add class {name} to {file} or update the {key} field in {config_name}",
            )  # fmt: skip


def _top_level_names(tree: ast.Module) -> dict[str, str]:
    """Names bound at module level: a function can be a predictor too, and pycog loads a class
    the file imports (Cog's check only looks for class definitions)."""
    names: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names[node.name] = "class"
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names[node.name] = "function"
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.update({(a.asname or a.name).split(".")[0]: "import" for a in node.names})
        elif isinstance(node, ast.Assign):
            names.update({t.id: "name" for t in node.targets if isinstance(t, ast.Name)})
    return names


def check_python_version(project: Project) -> Iterator[Finding]:
    build = project.raw.get("build") or {}
    version = str(build.get("python_version", "")) if isinstance(build, dict) else ""
    name = project.rel(project.config_file)
    if not version:
        yield Finding(
            "python-version",
            name,
            project.line("build"),
            "build.python_version is not set",
            'add python_version: "3.12" under build:',
        )
    elif version.count(".") >= 2:
        minor = ".".join(version.split(".")[:2])
        yield Finding(
            "python-version", name, project.line("build", "python_version"),
            f'python_version "{version}" pins a patch release', f'use the minor version: "{minor}"', fixable=True,
        )  # fmt: skip


def check_requirements(project: Project) -> Iterator[Finding]:
    file = project.requirements_source
    for requirement in project.requirements:
        if requirement.is_option or requirement.pinned_version:
            continue
        yield Finding(
            "pinned-requirements", file, requirement.line,
            f"{requirement.text!r} is not pinned", f"pin an exact version: {requirement.name}==<version>",
        )  # fmt: skip


def check_requirements_file(project: Project) -> Iterator[Finding]:
    build = project.raw.get("build") or {}
    packages = build.get("python_packages") if isinstance(build, dict) else None
    if isinstance(packages, list) and len(packages) > PACKAGES_BEFORE_REQUIREMENTS:
        yield Finding(
            "python-requirements", project.rel(project.config_file), project.line("build", "python_packages"),
            f"{len(packages)} python_packages: a requirements file is easier to keep",
            "move them to requirements.txt and set build.python_requirements", fixable=True,
        )  # fmt: skip


def _torch(project: Project) -> tuple[str | None, int | None]:
    requirement = project.requirement("torch")
    return (requirement.pinned_version, requirement.line) if requirement else (None, None)


def check_cuda(project: Project) -> Iterator[Finding]:
    version, line = _torch(project)
    if not version:
        return
    match = _TORCH_CUDA.search(version)
    build = project.raw.get("build") or {}
    cuda = str(build.get("cuda", "")) if isinstance(build, dict) else ""
    if match and isinstance(build, dict) and build.get("gpu"):
        wanted = f"{match[1]}.{match[2]}"
        if cuda != wanted:
            yield Finding(
                "cuda-torch", project.rel(project.config_file), project.line("build", "cuda") or project.line("build"),
                f"torch=={version} is built for CUDA {wanted}, but build.cuda is {cuda or 'not set'}",
                f'set build.cuda: "{wanted}"', fixable=True,
            )  # fmt: skip


def check_numpy(project: Project) -> Iterator[Finding]:
    version, line = _torch(project)
    match = _VERSION.match(version or "")
    if not match or (int(match[1]), int(match[2])) >= (2, 3):
        return
    numpy = project.requirement("numpy")
    if numpy is not None and ("<2" in numpy.text or (numpy.pinned_version or "2").startswith("1.")):
        return
    file = project.requirements_source
    yield Finding(
        "numpy-torch", file, line, f"torch=={version} was built against NumPy 1 and breaks with NumPy 2",
        'add "numpy<2" to the requirements', fixable=True,
    )  # fmt: skip


def check_pget(project: Project) -> Iterator[Finding]:
    build = project.raw.get("build") or {}
    steps = build.get("run") if isinstance(build, dict) else None
    for index, step in enumerate(steps if isinstance(steps, list) else []):
        command = step.get("command", "") if isinstance(step, dict) else str(step)
        if "pget" in command and "/latest/" in command:
            yield Finding(
                "pget-pinned", project.rel(project.config_file), project.line("build", "run", index),
                "pget is downloaded from releases/latest: builds are not reproducible",
                "pin a release, e.g. .../releases/download/v0.8.2/pget_linux_x86_64",
            )  # fmt: skip


def check_hf_transfer(project: Project) -> Iterator[Finding]:
    hub = next(
        (project.requirement(name) for name in HUB_PACKAGES if project.requirement(name)), None
    )
    if hub is None:
        return
    source = project.predictor_file.read_text() if project.predictor_file else ""
    if project.requirement("hf-transfer") and "HF_HUB_ENABLE_HF_TRANSFER" in source:
        return
    file = project.requirements_source
    yield Finding(
        "hf-transfer", file, hub.line, f"{hub.name} downloads from the Hub without hf_transfer (slow)",
        'add hf_transfer to the requirements and os.environ["HF_HUB_ENABLE_HF_TRANSFER"] = "1" in predict.py',
    )  # fmt: skip
