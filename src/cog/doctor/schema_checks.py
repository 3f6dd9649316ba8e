"""What `cog schema` would refuse (read statically, as `cog build` does), and input defaults
that break their own constraints (Cog builds and serves those; a prediction without the input
then fails validation)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ..config import load_config
from ..errors import CogError
from ..schema import document_for
from ..schema import static as static_reader
from ..schema.ir import PredictorInfo
from ..schema.resolve import default_conflicts
from .config_checks import check_references
from .findings import Finding, Severity
from .project import Project, split_reference


def check_schema(project: Project) -> Iterator[Finding]:
    try:
        config = load_config(project.root, project.config_file.name, schema_only=True)
    except CogError:
        return  # the config checks say why
    if any(check_references(project)):
        return  # a missing file or class: the reference check says it once
    infos: dict[str, PredictorInfo] = {}
    for mode, ref in (("predict", config.predict), ("train", config.train)):
        if ref is None:
            continue
        file = split_reference(ref)[0]
        try:
            infos[mode] = static_reader.read_reference(project.root, ref, mode)
        except CogError as exc:
            yield Finding(
                "schema", file, None, str(exc), f"fix what the message names in {file}",
                severity=Severity.ERROR,
            )  # fmt: skip
            continue
        yield from _default_conflicts(project, file, infos[mode])
    if infos and len(infos) == sum(1 for ref in (config.predict, config.train) if ref):
        try:
            document_for(infos.get("predict"), infos.get("train"))
        except CogError as exc:
            config_name = project.rel(project.config_file)
            yield Finding(
                "schema", config_name, None, str(exc), "see the message",
                severity=Severity.ERROR,
            )  # fmt: skip


def _default_conflicts(project: Project, file: str, info: PredictorInfo) -> Iterator[Finding]:
    lines = _parameter_lines(project, file, info.mode)
    for field in info.inputs:
        for conflict in default_conflicts(field):
            yield Finding(
                "input-defaults", file, lines.get(field.name),
                f"input '{field.name}': {conflict}; a prediction without it fails validation",
                "change the default or the constraint so the default is allowed",
            )  # fmt: skip


def _parameter_lines(project: Project, file: str, mode: str) -> dict[str, int]:
    python = project.python_files.get(file)
    if python is None or python.tree is None:
        return {}
    methods = ("train",) if mode == "train" else ("run", "predict")
    return {
        argument.arg: argument.lineno
        for node in ast.walk(python.tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in methods
        for argument in [*node.args.args, *node.args.kwonlyargs]
    }
