"""Checks of the Python files cog.yaml names: imports Cog removed, and the pydantic workaround
for outputs with Path fields (`arbitrary_types_allowed=True`) that cog.BaseModel replaces."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from .checks import FixError
from .edits import Edit, Source, alias_text, from_import, insertion_line, referenced_names
from .findings import Finding
from .project import Project


@dataclass(frozen=True)
class RemovedImport:
    module: str
    name: str
    message: str


REMOVED_IMPORTS = (
    RemovedImport(
        "cog.types",
        "ExperimentalFeatureWarning",
        "ExperimentalFeatureWarning was removed in Cog 0.17 (metrics are no longer experimental)",
    ),
)


# -- removed imports -----------------------------------------------------------------------


def _removed_in(tree: ast.Module) -> Iterator[tuple[ast.ImportFrom, RemovedImport]]:
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            for removed in REMOVED_IMPORTS:
                if node.module == removed.module and any(
                    a.name == removed.name for a in node.names
                ):
                    yield node, removed


def check_removed_imports(project: Project) -> Iterator[Finding]:
    for path, python in sorted(project.python_files.items()):
        if python.tree is None:
            continue
        for node, removed in _removed_in(python.tree):
            yield Finding(
                "deprecated-imports", path, node.lineno, removed.message,
                f"remove the import of {removed.name} from {removed.module} and its uses",
                fixable=True,
            )  # fmt: skip


def fix_removed_imports(project: Project, findings: list[Finding]) -> None:
    for path in sorted({finding.file for finding in findings}):
        python = project.python_files[path]
        assert python.tree is not None
        text = _without_removed_imports(python.source, python.tree)
        (project.root / path).write_text(text)


def _without_removed_imports(text: str, tree: ast.Module) -> str:
    """Drop the removed names from their imports, the top-level statements that use them, then
    the `import x` lines only those statements needed (`import warnings`)."""
    source = Source(text)
    names = {removed.name for _, removed in _removed_in(tree)}
    edits = [_drop_names(source, node, names) for node, _ in _removed_in(tree)]
    needed_by_removed: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            continue
        used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        if used & names:
            edits.append(source.lines(node))
            needed_by_removed |= used - names
    text = source.apply(edits)
    tree = ast.parse(text)
    still_used = referenced_names(tree) | _attribute_roots(tree)
    source = Source(text)
    orphans = [
        source.lines(node)
        for node in tree.body
        if isinstance(node, ast.Import)
        and len(node.names) == 1
        and not node.names[0].asname
        and node.names[0].name in needed_by_removed
        and node.names[0].name not in still_used
    ]
    return source.apply(orphans)


def _attribute_roots(tree: ast.Module) -> set[str]:
    return {
        node.value.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
    }


def _drop_names(source: Source, node: ast.ImportFrom, names: set[str]) -> Edit:
    kept = [alias_text(alias) for alias in node.names if alias.name not in names]
    if not kept:
        return source.lines(node)
    return source.lines(node, from_import("." * node.level + (node.module or ""), kept))


# -- pydantic BaseModel with arbitrary_types_allowed ---------------------------------------


def _pydantic_names(tree: ast.Module) -> set[str]:
    """The local names `from pydantic import BaseModel [as X]` binds."""
    return {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module == "pydantic"
        for alias in node.names
        if alias.name == "BaseModel"
    }


def _pydantic_base(cls: ast.ClassDef, local_names: set[str]) -> ast.expr | None:
    for base in cls.bases:
        if isinstance(base, ast.Name) and base.id in local_names:
            return base
        if (
            isinstance(base, ast.Attribute)
            and base.attr == "BaseModel"
            and isinstance(base.value, ast.Name)
            and base.value.id == "pydantic"
        ):
            return base
    return None


def _arbitrary_types_config(cls: ast.ClassDef) -> tuple[ast.stmt, ast.Call] | None:
    """`model_config = ConfigDict(..., arbitrary_types_allowed=True, ...)` in the class body."""
    for item in cls.body:
        targets = item.targets if isinstance(item, ast.Assign) else []
        if isinstance(item, ast.AnnAssign):
            targets = [item.target]
        value = item.value if isinstance(item, ast.Assign | ast.AnnAssign) else None
        if not any(isinstance(t, ast.Name) and t.id == "model_config" for t in targets):
            continue
        if isinstance(value, ast.Call) and any(
            k.arg == "arbitrary_types_allowed"
            and isinstance(k.value, ast.Constant)
            and k.value.value is True
            for k in value.keywords
        ):
            return item, value
    return None


def _workaround_classes(tree: ast.Module) -> list[tuple[ast.ClassDef, ast.expr]]:
    names = _pydantic_names(tree)
    found = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            base = _pydantic_base(node, names)
            if base is not None and _arbitrary_types_config(node) is not None:
                found.append((node, base))
    return found


def check_pydantic_basemodel(project: Project) -> Iterator[Finding]:
    for path, python in sorted(project.python_files.items()):
        if python.tree is None:
            continue
        for cls, _ in _workaround_classes(python.tree):
            yield Finding(
                "pydantic-basemodel", path, cls.lineno,
                f"{cls.name} subclasses pydantic.BaseModel with arbitrary_types_allowed=True; "
                "cog.BaseModel takes Path fields without it",
                "subclass cog.BaseModel and remove ConfigDict(arbitrary_types_allowed=True)",
                fixable=True,
            )  # fmt: skip


def fix_pydantic_basemodel(project: Project, findings: list[Finding]) -> None:
    for path in sorted({finding.file for finding in findings}):
        python = project.python_files[path]
        assert python.tree is not None
        (project.root / path).write_text(_with_cog_basemodel(python.source, python.tree))


def _with_cog_basemodel(text: str, tree: ast.Module) -> str:
    classes = _workaround_classes(tree)
    local = {base.id if isinstance(base, ast.Name) else "BaseModel" for _, base in classes}
    if len(local) != 1:
        raise FixError("fix by hand: the classes name pydantic's BaseModel in different ways")
    name = local.pop()
    flagged = {cls.name for cls, _ in classes}
    pydantic_names = _pydantic_names(tree)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name not in flagged:
            if _pydantic_base(node, pydantic_names) is not None and name in pydantic_names:
                raise FixError(
                    f"fix by hand: {node.name} also subclasses pydantic's {name} and needs it"
                )
    source = Source(text)
    edits = []
    for cls, base in classes:
        if isinstance(base, ast.Attribute):
            edits.append(source.node(base, "BaseModel"))
        statement, call = _arbitrary_types_config(cls) or (None, None)
        assert statement is not None and call is not None
        edits.append(_drop_arbitrary_types(source, statement, call))
    text = source.apply(edits)
    return _add_cog_import(_drop_pydantic_imports(text, name), name)


def _drop_arbitrary_types(source: Source, statement: ast.stmt, call: ast.Call) -> Edit:
    others = [k for k in call.keywords if k.arg != "arbitrary_types_allowed"]
    if not others and not call.args:
        return source.lines(statement)
    function = ast.unparse(call.func).removeprefix("pydantic.")
    arguments = [ast.unparse(a) for a in call.args] + [ast.unparse(k) for k in others]
    return source.node(call, f"{function}({', '.join(arguments)})")


def _drop_pydantic_imports(text: str, name: str) -> str:
    """Drop `name` (now cog's) and the pydantic names nothing uses any more."""
    tree = ast.parse(text)
    used = referenced_names(tree)
    source = Source(text)
    edits = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "pydantic":
            kept = [
                alias_text(a)
                for a in node.names
                if (a.asname or a.name) != name and (a.asname or a.name) in used
            ]
            if len(kept) != len(node.names):
                edits.append(source.lines(node, from_import("pydantic", kept) if kept else ""))
        elif isinstance(node, ast.Import) and [a.name for a in node.names] == ["pydantic"]:
            if not node.names[0].asname and "pydantic" not in _attribute_roots(tree):
                edits.append(source.lines(node))
    return source.apply(edits)


def _add_cog_import(text: str, name: str) -> str:
    tree = ast.parse(text)
    fragment = "BaseModel" if name == "BaseModel" else f"BaseModel as {name}"
    source = Source(text)
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "cog" and not node.level:
            if any((a.asname or a.name) == name for a in node.names):
                return text
            names = [alias_text(a) for a in node.names] + [fragment]
            return source.apply([source.lines(node, from_import("cog", names))])
    line = insertion_line(tree)
    at = source.line_starts[line] if line < len(source.line_starts) else len(source.data)
    return source.apply([Edit(at, at, from_import("cog", [fragment]))])
