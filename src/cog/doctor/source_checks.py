"""Checks of the predictor's source (read with `ast`, never imported)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from .findings import Finding, Severity
from .project import Project

TOKEN_WORDS = ("token", "api_key", "apikey", "password", "secret", "access_key")
FILE_WORDS = ("image", "audio", "video", "file", "mask", "path")
HEAVY_CALLS = (
    "from_pretrained",
    "load_state_dict",
    "torch.load",
    "pipeline",
    "load_model",
    "load_checkpoint",
    "safetensors.torch.load_file",
)
ENTRY_METHODS = ("predict", "run")


def _entry_functions(project: Project) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    if project.tree is None:
        return
    for node in ast.walk(project.tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in ENTRY_METHODS:
            yield node


def _input_call(default: ast.expr | None) -> ast.Call | None:
    if (
        isinstance(default, ast.Call)
        and getattr(default.func, "id", getattr(default.func, "attr", "")) == "Input"
    ):
        return default
    return None


def _keyword(call: ast.Call | None, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None) if call else None


def _parameters(
    function: ast.FunctionDef | ast.AsyncFunctionDef,
) -> Iterator[tuple[ast.arg, ast.expr | None]]:
    arguments = [a for a in function.args.args if a.arg != "self"]
    defaults: list[ast.expr | None] = [None] * (len(arguments) - len(function.args.defaults))
    yield from zip(arguments, defaults + list(function.args.defaults), strict=True)


def check_inputs(project: Project) -> Iterator[Finding]:
    assert project.predictor_file is not None or project.tree is None
    file = project.rel(project.predictor_file) if project.predictor_file else ""
    for function in _entry_functions(project):
        for argument, default in _parameters(function):
            yield from _check_input(file, argument, _input_call(default))
        if function.returns is None:
            yield Finding(
                "annotations",
                file,
                function.lineno,
                f"{function.name}() has no return annotation",
                "add -> <type>",
            )
        yield from _check_output(file, function)


def _check_input(file: str, argument: ast.arg, call: ast.Call | None) -> Iterator[Finding]:
    name, line = argument.arg, argument.lineno
    annotation = ast.unparse(argument.annotation) if argument.annotation else ""
    if not annotation:
        yield Finding(
            "annotations",
            file,
            line,
            f"input '{name}' has no type annotation",
            f"annotate it: {name}: str",
        )
    if _keyword(call, "description") is None:
        yield Finding(
            "input-description",
            file,
            line,
            f"input '{name}' has no description",
            f'{name}: {annotation or "str"} = Input(description="...")',
        )
    lowered = name.lower()
    if any(word in lowered for word in TOKEN_WORDS) and "Secret" not in annotation:
        yield Finding(
            "secret-inputs",
            file,
            line,
            f"input '{name}' looks like a credential but is typed {annotation or 'untyped'}",
            f"type it as cog.Secret: {name}: Secret",
            severity=Severity.WARNING,
        )
    if (
        "File" in annotation.split("[")[0]
        or annotation == "bytes"
        or (annotation == "str" and any(lowered.endswith(w) or lowered == w for w in FILE_WORDS))
    ):
        yield Finding(
            "path-types",
            file,
            line,
            f"input '{name}' is a file typed {annotation}",
            f"type it as cog.Path: {name}: Path",
        )


def _check_output(file: str, function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[Finding]:
    returns = ast.unparse(function.returns) if function.returns else ""
    if returns == "File" or returns.startswith(("File[", "list[File]", "List[File]")):
        yield Finding(
            "path-types",
            file,
            function.lineno,
            f"{function.name}() returns {returns}",
            "return cog.Path instead of File",
        )
    for node in ast.walk(function):
        if isinstance(node, ast.Call):
            called = ast.unparse(node.func)
            if any(called == heavy or called.endswith("." + heavy) for heavy in HEAVY_CALLS):
                yield Finding(
                    "setup-loading", file, node.lineno, f"{called}() runs in {function.name}(), on every prediction",
                    "load the model once in setup() and keep it on self", severity=Severity.WARNING,
                )  # fmt: skip
