"""predict → run: Cog 0.23 names a model `run: run.py:Runner` (BaseRunner, `run()`); the older
names still work. `--fix` migrates the starter shape (`predict: predict.py:Predictor` with one
Predictor class and one predict method) and refuses anything it cannot rename safely."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from .checks import FixError
from .edits import Edit, Source
from .findings import Finding
from .project import Project, PythonFile

TOP_LEVEL_PREDICT = re.compile(r"(?m)^predict\s*:")
TOP_LEVEL_RUN = re.compile(r"(?m)^run\s*:")
STARTER_REFERENCE = re.compile(r"""(?m)^predict:\s*["']?predict\.py:Predictor["']?\s*(?:#.*)?$""")
NEW_REFERENCE = 'run: "run.py:Runner"'
SDK_MODULES = ("cog", "cog.predictor")


def check_predict_to_run(project: Project) -> Iterator[Finding]:
    text = project.config_text or ""
    config_name = project.rel(project.config_file)
    starter = STARTER_REFERENCE.search(text) is not None
    if TOP_LEVEL_PREDICT.search(text) or starter:
        yield Finding(
            "predict-to-run", config_name, project.line("predict"),
            "predict in cog.yaml is deprecated: Cog now names the model with run: (run.py:Runner)",
            "run `cog doctor --fix` to move predict: to run:" if starter
            else "rename predict: to run: in cog.yaml (and Predictor/predict() to Runner/run())",
            fixable=starter,
        )  # fmt: skip
    python = _predict_py(project)
    if starter and python is not None and _predictor_classes(python):
        yield Finding(
            "predict-to-run", "predict.py", _predictor_classes(python)[0].lineno,
            "predict.py uses the deprecated names Predictor, BasePredictor and predict()",
            "run `cog doctor --fix` to rename them Runner, BaseRunner and run() in run.py",
            fixable=True,
        )  # fmt: skip


def fix_predict_to_run(project: Project, findings: list[Finding]) -> None:
    text = project.config_text or ""
    if TOP_LEVEL_RUN.search(text):
        raise FixError("cannot migrate: cog.yaml already sets run; remove predict: by hand")
    if not STARTER_REFERENCE.search(text):
        raise FixError(
            'migrate by hand: --fix only migrates predict: "predict.py:Predictor" to run:'
        )
    if (project.root / "run.py").exists():
        raise FixError(
            "cannot migrate predict.py to run.py: run.py already exists; move it away or "
            "migrate by hand"
        )
    python = _predict_py(project)
    if python is None or python.tree is None:
        raise FixError("cannot migrate: predict.py is missing or is not valid Python")
    migrated = _renamed_source(python, python.tree)
    config = STARTER_REFERENCE.sub(NEW_REFERENCE, text, count=1)
    old, new = project.root / "predict.py", project.root / "run.py"
    mode = old.stat().st_mode
    with open(new, "x") as file:  # "x": never overwrite a run.py that appeared meanwhile
        file.write(migrated)
    new.chmod(mode & 0o7777)
    try:
        project.config_file.write_text(config)
    except OSError:
        new.unlink()
        raise
    old.unlink()


def _predict_py(project: Project) -> PythonFile | None:
    if "predict.py" in project.python_files:
        return project.python_files["predict.py"]
    path = project.root / "predict.py"
    if not path.is_file():
        return None
    source = path.read_text()
    try:
        return PythonFile("predict.py", source, ast.parse(source))
    except SyntaxError:
        return PythonFile("predict.py", source, None)


def _predictor_classes(python: PythonFile) -> list[ast.ClassDef]:
    body = python.tree.body if python.tree else []
    return [node for node in body if isinstance(node, ast.ClassDef) and node.name == "Predictor"]


def _renamed_source(python: PythonFile, tree: ast.Module) -> str:
    classes = _predictor_classes(python)
    if len(classes) != 1:
        raise FixError("migrate by hand: --fix needs exactly one Predictor class in predict.py")
    cls = classes[0]
    methods = [
        node
        for node in cls.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name in ("predict", "run")
    ]
    if [m.name for m in methods] != ["predict"]:
        raise FixError(
            "migrate by hand: --fix needs one predict() method and no run() in Predictor"
        )
    method = methods[0]
    source = Source(python.source)
    keyword = "async def" if isinstance(method, ast.AsyncFunctionDef) else "def"
    edits = [
        source.name_after(cls, "class", "Predictor", "Runner"),
        source.name_after(method, keyword, "predict", "run"),
    ]
    bases = _base_predictor_bases(cls, tree)
    for base in bases:
        edits.append(_rename_base(source, base))
    edits += _import_edits(source, tree, bases)
    return source.apply(edits)


def _base_predictor_bases(cls: ast.ClassDef, tree: ast.Module) -> list[ast.expr]:
    aliases = {
        alias.asname
        for node in ast.walk(tree)  # `try: from cog import ... except ImportError: ...` too
        if isinstance(node, ast.ImportFrom) and node.module in SDK_MODULES
        for alias in node.names
        if alias.name == "BasePredictor" and alias.asname
    }
    bases: list[ast.expr] = []
    for base in cls.bases:
        if isinstance(base, ast.Name) and base.id in aliases:
            raise FixError("migrate by hand: --fix does not rename an aliased BasePredictor")
        if (isinstance(base, ast.Name) and base.id == "BasePredictor") or (
            isinstance(base, ast.Attribute) and base.attr == "BasePredictor"
        ):
            bases.append(base)
    return bases


def _rename_base(source: Source, base: ast.expr) -> Edit:
    if isinstance(base, ast.Attribute):  # `cog.BasePredictor`: only the attribute changes
        whole = source.node(base, "")
        return Edit(whole.end - len("BasePredictor"), whole.end, "BaseRunner")
    return source.node(base, "BaseRunner")


def _import_edits(source: Source, tree: ast.Module, bases: list[ast.expr]) -> list[Edit]:
    imports = [
        (node, alias)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.name == "BasePredictor" and not alias.asname
    ]
    if any(node.module not in SDK_MODULES for node, _ in imports):
        raise FixError("migrate by hand: predict.py imports BasePredictor from outside cog")
    named_bases = [b for b in bases if isinstance(b, ast.Name)]
    if named_bases and not imports:
        raise FixError("migrate by hand: --fix needs BasePredictor imported from cog")
    uses = sum(
        1 for node in ast.walk(tree) if isinstance(node, ast.Name) and node.id == "BasePredictor"
    )
    used_elsewhere = uses > len(named_bases)
    if not named_bases and used_elsewhere:
        return []
    if used_elsewhere:  # keep BasePredictor for the other uses, add BaseRunner beside it
        return [
            Edit(end.end, end.end, ", BaseRunner")
            for end in (source.node(a, "") for _, a in imports)
        ]
    return [source.node(alias, "BaseRunner") for _, alias in imports]
