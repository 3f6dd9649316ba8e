"""Reading a predictor from its source with `ast`, never importing it (what `cog build` uses).

Local imports are followed to find BaseModel output types in other files of the project;
defaults, descriptions and choices must be literals or module-level constants.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ..batching import DEFAULT_MAX_SIZE, DEFAULT_MAX_WAIT_MS, BatchingError, BatchSpec, batch_spec
from ..predictor import split_reference
from .batched import per_item, refuse_streaming
from .errors import SchemaError
from .evaluate import Absent, Evaluator, NotStatic, plain
from .ir import InputField, PredictorInfo
from .resolve import check_input, input_type, output_type
from .types import MISSING, NONE, ModelField, TypeNode

TYPING_MODULES = ("typing", "typing_extensions", "collections.abc")
TYPING_NAMES = {
    "Any": "Any", "List": "list", "Dict": "dict", "Optional": "Optional", "Union": "Union",
    "Iterator": "Iterator", "AsyncIterator": "AsyncIterator", "Generator": "Iterator",
    "AsyncGenerator": "AsyncIterator", "Annotated": "Annotated", "Sequence": "list",
}  # fmt: skip
COG_TYPES = ("Path", "File", "Secret", "ConcatenateIterator", "AsyncConcatenateIterator")
BUILTINS = {"str", "int", "float", "bool", "bytes", "dict", "list"}
MODEL_BASES = {("cog", "BaseModel"), ("pydantic", "BaseModel"), ("pydantic.v1", "BaseModel")}
INPUT_KEYS = (
    "default",
    "description",
    "ge",
    "le",
    "min_length",
    "max_length",
    "regex",
    "choices",
    "deprecated",
    "accept",
)


@dataclass
class Module:
    """One parsed file: its imports, constants and classes."""

    path: Path
    project: Path
    tree: ast.Module
    imports: dict[str, tuple[str, str]] = field(default_factory=dict)
    constants: dict[str, list[ast.expr]] = field(default_factory=dict)
    """Every module-level assignment of each name, in source order."""
    conditions: dict[int, tuple[tuple[ast.expr, bool], ...]] = field(default_factory=dict)
    """The `if` tests (and branch) an assignment, by id of its value, is made under."""
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)

    @property
    def package(self) -> str:
        relative = self.path.parent.relative_to(self.project)
        return ".".join(relative.parts)

    @property
    def dotted(self) -> str:
        """The module's import name (`pkg.mod`; `pkg` for `pkg/__init__.py`)."""
        if self.path.name == "__init__.py":
            return self.package
        return ".".join(p for p in (self.package, self.path.stem) if p)


def parse_module(path: Path, project: Path) -> Module:
    """The parsed file (cached while the file does not change)."""
    return _parse(path, project, path.stat().st_mtime_ns)


@cache
def _parse(path: Path, project: Path, _mtime: int) -> Module:
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except SyntaxError as exc:
        raise SchemaError(f"{path.name}:{exc.lineno}: invalid Python: {exc.msg}") from None
    module = Module(path, project, tree)
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            base = _absolute(module, node)
            if not node.level and (base == "cog" or base.startswith("cog.")):
                _check_sdk_import(base, node, path)
            for alias in node.names:
                module.imports[alias.asname or alias.name] = (base, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                module.imports[alias.asname or alias.name.split(".")[0]] = (alias.name, alias.name)
        elif isinstance(node, ast.ClassDef):
            module.classes[node.name] = node
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            module.functions[node.name] = node
    _collect_assignments(tree.body, module, ())
    return module


Condition = tuple[ast.expr, bool]


def _collect_assignments(
    body: list[ast.stmt], module: Module, conditions: tuple[Condition, ...]
) -> None:
    """Module-level assignments, also under `if` (with the conditions they need) and to
    tuples of names (`A, B = "a", "b"`)."""
    for node in body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                _assign(target, node.value, module, conditions)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            _assign(node.target, node.value, module, conditions)
        elif isinstance(node, ast.If):
            _collect_assignments(node.body, module, (*conditions, (node.test, True)))
            _collect_assignments(node.orelse, module, (*conditions, (node.test, False)))


def _assign(
    target: ast.expr, value: ast.expr, module: Module, conditions: tuple[Condition, ...]
) -> None:
    if isinstance(target, ast.Name):
        module.constants.setdefault(target.id, []).append(value)
        if conditions:
            module.conditions[id(value)] = conditions
    elif isinstance(target, ast.Tuple | ast.List):
        for index, item in enumerate(target.elts):
            if isinstance(value, ast.Tuple | ast.List) and len(value.elts) == len(target.elts):
                part = value.elts[index]
            else:
                part = ast.copy_location(
                    ast.Subscript(value=value, slice=ast.Constant(index), ctx=ast.Load()), value
                )
            _assign(item, part, module, conditions)


def _check_sdk_import(base: str, node: ast.ImportFrom, path: Path) -> None:
    """A name the SDK does not export could never be imported: refuse it at its line."""
    try:
        sdk = importlib.import_module(base)
    except ImportError:
        raise SchemaError(
            f"{path.name}:{node.lineno}: `{base}` is not a module of the cog SDK"
        ) from None
    for alias in node.names:
        exported = alias.name in vars(sdk) or alias.name in getattr(sdk, "__all__", ())
        if alias.name != "*" and not exported and not _is_submodule(f"{base}.{alias.name}"):
            raise SchemaError(
                f"{path.name}:{node.lineno}: `{alias.name}` cannot be imported from `{base}`: "
                "the cog SDK does not export it"
            )


def _is_submodule(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = module.package.split(".") if module.package else []
    parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
    return ".".join([*parts, *([node.module] if node.module else [])])


def _local_module(module: Module, dotted: str, *, packages: bool = True) -> Module | None:
    """The project file a module name refers to, if it is one.

    `packages=False` skips `pkg/__init__.py`: Cog's static reader follows types only into
    file-backed modules, so a type a package re-exports is not resolved (and `cog build` fails).
    """
    base = module.project.joinpath(*dotted.split(".")) if dotted else module.project
    candidates = (base.with_suffix(".py"), base / "__init__.py")
    for candidate in candidates if packages else candidates[:1]:
        if candidate.is_file():
            return parse_module(candidate.resolve(), module.project)
    return None


# -- values --------------------------------------------------------------------------------

MAX_DEPTH = 20


def literal(
    node: ast.expr,
    module: Module,
    env: dict[str, Any] | None = None,
    depth: int = 0,
    at_line: int | None = None,
) -> Any:
    """The value of an expression knowable from the source: literals and what is built from
    them, module-level constants of this file and of the project's files it imports.

    `env` binds local names (a helper's parameters); `at_line` is set while evaluating a
    module-level assignment, which sees only the assignments above it."""
    if depth > MAX_DEPTH:
        raise NotStatic("constant chain too deep")
    resolve = lambda name: _resolve(name, module, at_line, depth)  # noqa: E731
    return Evaluator(resolve, env).eval(node)


def _resolve(node: ast.expr, module: Module, at_line: int | None, depth: int) -> Any:
    """The value a Name or Attribute refers to, evaluated where it is defined."""
    if isinstance(node, ast.Name):
        return _constant(module, node.id, at_line, depth)
    if isinstance(node, ast.Attribute):
        owner = _namespace(node.value, module)
        if isinstance(owner, Module):
            return _constant(owner, node.attr, None, depth)
        if isinstance(owner, tuple):
            cls, cls_module = owner
            value = _class_attribute(cls, node.attr)
            if value is None:
                raise Absent(ast.unparse(node))
            return literal(value, cls_module, depth=depth + 1)
    raise NotStatic(ast.unparse(node))


def _constant(module: Module, name: str, before: int | None, depth: int) -> Any:
    assignments = module.constants.get(name, [])
    if before is not None and any(a.lineno < before for a in assignments):
        # Evaluated at module level (while reading another constant): the assignments
        # made so far, as Python would have them at that line.
        assignments = [a for a in assignments if a.lineno < before]
    for assignment in reversed(assignments):
        if all(
            bool(literal(test, module, depth=depth + 1, at_line=test.lineno)) == branch
            for test, branch in module.conditions.get(id(assignment), ())
        ):
            return literal(assignment, module, depth=depth + 1, at_line=assignment.lineno)
    if name in module.imports:
        source, original = module.imports[name]
        local = _local_module(module, source)
        if local is not None and source != original:
            return _constant(local, original, None, depth + 1)
        raise NotStatic(name)
    if name in module.classes or name in module.functions or _star_imports(module):
        raise NotStatic(name)
    raise Absent(name)


def _star_imports(module: Module) -> bool:
    return "*" in module.imports


def _namespace(node: ast.expr, module: Module) -> Module | tuple[ast.ClassDef, Module] | None:
    """The project module or class a Name/Attribute names (`config`, `Inputs`, `pkg.mod`)."""
    if isinstance(node, ast.Name):
        if node.id in module.classes and node.id not in module.constants:
            return (module.classes[node.id], module)
        if node.id in module.imports:
            source, original = module.imports[node.id]
            if source != original:
                local = _local_module(module, source)
                if local is not None and original in local.classes:
                    return (local.classes[original], local)
                return _local_module(module, f"{source}.{original}" if source else original)
            return _local_module(module, source)
        return None
    if isinstance(node, ast.Attribute):
        owner = _namespace(node.value, module)
        if isinstance(owner, Module):
            if node.attr in owner.classes:
                return (owner.classes[node.attr], owner)
            return _local_module(owner, f"{owner.dotted}.{node.attr}")
    return None


def _class_attribute(cls: ast.ClassDef, name: str) -> ast.expr | None:
    for item in cls.body:
        if isinstance(item, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in item.targets
        ):
            return item.value
        if (
            isinstance(item, ast.AnnAssign)
            and isinstance(item.target, ast.Name)
            and item.target.id == name
        ):
            return item.value
    return None


# -- annotations ---------------------------------------------------------------------------


def _qualified(node: ast.expr, module: Module) -> tuple[str, str] | None:
    """(module, name) a Name or dotted Attribute refers to, via the imports."""
    if isinstance(node, ast.Name):
        if node.id in module.imports:
            return module.imports[node.id]
        return ("", node.id)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        source = module.imports.get(node.value.id)
        if source is not None and source[0] == source[1]:  # `import typing` / `import cog`
            return (source[0], node.attr)
        if source is not None:
            return (f"{source[0]}.{source[1]}", node.attr)
        return (node.value.id, node.attr)
    return None


def annotation(node: ast.expr | None, module: Module) -> TypeNode:
    if node is None:
        return TypeNode("unknown", label="(missing)")
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return annotation(ast.parse(node.value, mode="eval").body, module)
    if isinstance(node, ast.Constant) and node.value is None:
        return NONE
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        members = _union_members(node, module)
        if len(members) == 2 and NONE in members:
            return TypeNode("Optional", tuple(m for m in members if m != NONE))
        return TypeNode("Union", tuple(members))
    if isinstance(node, ast.Subscript):
        return _generic(node, module)
    return _named(node, module)


def _union_members(node: ast.expr, module: Module) -> list[TypeNode]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _union_members(node.left, module) + _union_members(node.right, module)
    return [annotation(node, module)]


def _named(node: ast.expr, module: Module) -> TypeNode:
    target = _qualified(node, module)
    if target is None:
        return TypeNode("unknown", label=ast.unparse(node))
    source, name = target
    if source == "" and name in BUILTINS:
        return TypeNode(name)
    if source == "" and name == "None":
        return NONE
    if source == "" and name in module.classes:
        return _class(module.classes[name], module)
    if source in TYPING_MODULES and name in TYPING_NAMES:
        return TypeNode(TYPING_NAMES[name])
    if source.split(".")[0] == "cog" and name in COG_TYPES:
        return TypeNode(name)
    if (source, name) in (("pathlib", "Path"), ("os", "PathLike")):
        return TypeNode("Path")
    local = (
        _local_module(module, source, packages=False)
        if source and source.split(".")[0] != "cog"
        else None
    )
    if local is not None and name in local.classes:
        return _class(local.classes[name], local)
    return TypeNode("unknown", label=name, module=source)


def _generic(node: ast.Subscript, module: Module) -> TypeNode:
    outer = _named(node.value, module)
    items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    if outer.name == "Annotated":
        inner = annotation(items[0], module)
        if any(_is_opaque(meta, module) for meta in items[1:]):
            return TypeNode("Opaque", (inner,))
        return inner
    args = tuple(annotation(item, module) for item in items)
    if outer.name == "Optional":
        return TypeNode("Optional", args[:1])
    if outer.name == "Union":
        if len(args) == 2 and NONE in args:
            return TypeNode("Optional", tuple(a for a in args if a != NONE))
        return TypeNode("Union", args)
    if outer.name in ("Iterator", "AsyncIterator"):
        return TypeNode(outer.name, args[:1])
    if outer.name in ("list", "dict", "ConcatenateIterator", "AsyncConcatenateIterator"):
        return TypeNode(outer.name, args)
    return TypeNode("unknown", label=ast.unparse(node), module=outer.module)


def _is_opaque(node: ast.expr, module: Module) -> bool:
    target = _qualified(node, module)
    return target is not None and target[0].split(".")[0] == "cog" and target[1] == "Opaque"


def _class(cls: ast.ClassDef, module: Module, depth: int = 0) -> TypeNode:
    kind = _model_kind(cls, module)
    if kind is None:
        return TypeNode("unknown", label=cls.name)
    fields: list[ModelField] = []
    for base in cls.bases:  # fields of local model bases come first
        base_node = annotation(base, module)
        if base_node.name == "model" and depth < 10:
            fields.extend(base_node.fields)
    total = not any(
        k.arg == "total" and isinstance(k.value, ast.Constant) and k.value.value is False
        for k in cls.keywords
    )
    for item in cls.body:
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            fields.append(_model_field(item, module, kind, total))
    label = f"TypedDict:{cls.name}" if kind == "typeddict" else cls.name
    return TypeNode("model", fields=tuple(fields), label=label)


def _model_kind(cls: ast.ClassDef, module: Module) -> str | None:
    for base in cls.bases:
        target = _qualified(base, module)
        if target is None:
            continue
        if (target[0].split(".")[0], target[1]) in {(m.split(".")[0], n) for m, n in MODEL_BASES}:
            return "model"
        if target[0] in TYPING_MODULES and target[1] == "TypedDict":
            return "typeddict"
        if annotation(base, module).name == "model":
            return "model"
    return None


def _model_field(item: ast.AnnAssign, module: Module, kind: str, total: bool) -> ModelField:
    assert isinstance(item.target, ast.Name)
    node = item.annotation
    required: bool | None = total if kind == "typeddict" else None
    if isinstance(node, ast.Subscript):
        wrapper = _qualified(node.value, module)
        if wrapper and wrapper[0] in TYPING_MODULES and wrapper[1] in ("Required", "NotRequired"):
            required, node = wrapper[1] == "Required", node.slice
    default: Any = MISSING
    if item.value is not None:
        try:
            default = plain(literal(item.value, module))
        except NotStatic:
            default = None  # a default exists (Field(...), a call...): the field is optional
    return ModelField(item.target.id, annotation(node, module), default, required)


# -- predictors ----------------------------------------------------------------------------


def read_reference(project_dir: Path, ref: str, mode: str) -> PredictorInfo:
    path, name = split_reference(ref)
    file = (project_dir / path).resolve()
    if not file.is_file():
        raise SchemaError(f"{path} does not exist in {project_dir}")
    module = parse_module(file, project_dir.resolve())
    function = _entry_function(module, name, mode)
    return _read_function(function, module, mode)


def _entry_function(
    module: Module, name: str | None, mode: str
) -> ast.FunctionDef | ast.AsyncFunctionDef:
    if name is None:
        name = "Runner" if "Runner" in module.classes else "Predictor"
    if name in module.functions:
        return module.functions[name]
    cls = module.classes.get(name)
    if cls is None:
        raise SchemaError(f"{module.path.name} has no class or function named {name!r}")
    wanted = ("train",) if mode == "train" else ("run", "predict")
    found = {method: fn for method in wanted if (fn := _method(cls, method, module)) is not None}
    if len(found) == 2:
        raise SchemaError(f"{name} must define either run() or predict(), not both")
    if not found:
        raise SchemaError(f"{' or '.join(wanted)} method not found: {name}")
    return next(iter(found.values()))


def _method(
    cls: ast.ClassDef, name: str, module: Module, depth: int = 0
) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    for item in cls.body:
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name == name:
            return item
    for base in cls.bases:
        if isinstance(base, ast.Name) and base.id in module.classes and depth < 10:
            found = _method(module.classes[base.id], name, module, depth + 1)
            if found is not None:
                return found
    return None


def _read_function(
    function: ast.FunctionDef | ast.AsyncFunctionDef, module: Module, mode: str
) -> PredictorInfo:
    arguments = function.args
    if arguments.vararg or arguments.kwarg or arguments.kwonlyargs:
        raise SchemaError(
            f"{function.name}(): *args, **kwargs and keyword-only parameters are not supported"
        )
    parameters = [a for a in arguments.posonlyargs + arguments.args if a.arg != "self"]
    defaults: list[ast.expr | None] = [None] * (len(parameters) - len(arguments.defaults)) + list(
        arguments.defaults
    )
    streaming, concurrency, batch = _decorations(function, module)
    if batch is not None:
        refuse_streaming(streaming, function.name)
    inputs = tuple(
        _input_field(parameter, default, order, module, batched=batch is not None)
        for order, (parameter, default) in enumerate(zip(parameters, defaults, strict=True))
    )
    if function.returns is None:
        raise SchemaError(f"{function.name}() must have a return type annotation")
    returned = annotation(function.returns, module)
    output = output_type(per_item(returned, "output") if batch is not None else returned)
    return PredictorInfo(
        inputs, output, mode=mode, streaming=streaming, concurrency=concurrency, batch=batch
    )


def _input_field(
    parameter: ast.arg, default: ast.expr | None, order: int, module: Module, *, batched: bool
) -> InputField:
    where = f"input '{parameter.arg}'"
    if parameter.annotation is None:
        raise SchemaError(f"{where} has no type annotation")
    node = annotation(parameter.annotation, module)
    kind = input_type(per_item(node, where) if batched else node, where)
    values: dict[str, Any] = {"default": MISSING}
    spec = _input_spec(default, module, where) if default is not None else None
    if spec is not None:
        values.update(_input_arguments(spec, where))
    elif default is not None:
        values["default"] = _static(default, module, where, "default")
    choices = values.get("choices")
    field = InputField(
        name=parameter.arg,
        order=order,
        type=kind,
        default=values["default"],
        description=values.get("description"),
        ge=values.get("ge"),
        le=values.get("le"),
        min_length=values.get("min_length"),
        max_length=values.get("max_length"),
        regex=values.get("regex"),
        choices=tuple(choices) if choices is not None else None,
        deprecated=values.get("deprecated"),
        accept=values.get("accept"),
    )
    check_input(field)
    return field


@dataclass(frozen=True)
class InputSpec:
    """An `Input(...)` call and where its arguments are evaluated: its module and the
    parameters of the helper function that returns it, if any."""

    call: ast.Call
    module: Module
    env: dict[str, Any]


def _is_input_call(node: ast.expr, module: Module) -> bool:
    if not isinstance(node, ast.Call):
        return False
    target = _qualified(node.func, module)
    return target is not None and target[1] == "Input" and target[0].split(".")[0] in ("cog", "")


def _input_spec(node: ast.expr, module: Module, where: str, depth: int = 0) -> InputSpec | None:
    """The Input() a parameter's default is, written in place or reused: a class attribute
    (`Inputs.prompt`), a module constant, or a helper function returning one."""
    if depth > MAX_DEPTH:
        return None
    if isinstance(node, ast.Call) and _is_input_call(node, module):
        return InputSpec(node, module, {})
    if isinstance(node, ast.Name | ast.Attribute):
        found = _definition(node, module)
        return _input_spec(found[0], found[1], where, depth + 1) if found else None
    if isinstance(node, ast.Call):
        helper = _helper(node.func, module)
        if helper is None:
            return None
        function, home = helper
        if not any(_is_input_call(r, home) for r in _returns(function)):
            return None
        env = _bind_call(function, home, node, module, where)
        returned = _run_body(function.body, home, env, where)
        if returned is None or not _is_input_call(returned, home):
            return None
        assert isinstance(returned, ast.Call)
        return InputSpec(returned, home, env)
    return None


def _definition(node: ast.expr, module: Module) -> tuple[ast.expr, Module] | None:
    """The expression a Name or Attribute is assigned (module constant or class attribute)."""
    if isinstance(node, ast.Name):
        if node.id in module.constants:
            return module.constants[node.id][-1], module
        if node.id in module.imports:
            source, original = module.imports[node.id]
            local = _local_module(module, source) if source != original else None
            if local is not None and original in local.constants:
                return local.constants[original][-1], local
        return None
    if isinstance(node, ast.Attribute):
        owner = _namespace(node.value, module)
        if isinstance(owner, Module) and node.attr in owner.constants:
            return owner.constants[node.attr][-1], owner
        if isinstance(owner, tuple):
            value = _class_attribute(owner[0], node.attr)
            if value is not None:
                return value, owner[1]
    return None


Function = ast.FunctionDef | ast.AsyncFunctionDef


def _helper(node: ast.expr, module: Module) -> tuple[Function, Module] | None:
    """The project function a call names: `helper`, `mod.helper`, `Class.method`."""
    if isinstance(node, ast.Name):
        if node.id in module.functions:
            return module.functions[node.id], module
        if node.id in module.imports:
            source, original = module.imports[node.id]
            local = _local_module(module, source) if source != original else None
            if local is not None and original in local.functions:
                return local.functions[original], local
        return None
    if isinstance(node, ast.Attribute):
        owner = _namespace(node.value, module)
        if isinstance(owner, Module) and node.attr in owner.functions:
            return owner.functions[node.attr], owner
        if isinstance(owner, tuple):
            for item in owner[0].body:
                if isinstance(item, Function) and item.name == node.attr:
                    return item, owner[1]
    return None


def _returns(function: Function) -> list[ast.expr]:
    return [
        n.value for n in ast.walk(function) if isinstance(n, ast.Return) and n.value is not None
    ]


def _run_body(
    body: list[ast.stmt], module: Module, env: dict[str, Any], where: str
) -> ast.expr | None:
    """Runs a helper's straight-line statements (assignments, `if`) on known values, binding
    locals in `env`, up to the `return`; returns the returned expression."""
    for statement in body:
        if isinstance(statement, ast.Return):
            return statement.value
        if isinstance(statement, ast.Assign) and all(
            isinstance(t, ast.Name) for t in statement.targets
        ):
            value = _static(statement.value, module, where, "local value", env)
            env.update({t.id: value for t in statement.targets if isinstance(t, ast.Name)})
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            if statement.value is not None:
                env[statement.target.id] = _static(statement.value, module, where, "local", env)
        elif isinstance(statement, ast.AugAssign) and isinstance(statement.target, ast.Name):
            expression = ast.BinOp(
                left=ast.Name(id=statement.target.id, ctx=ast.Load()),
                op=statement.op,
                right=statement.value,
            )
            env[statement.target.id] = _static(expression, module, where, "local value", env)
        elif isinstance(statement, ast.If):
            test = _static(statement.test, module, where, "condition", env)
            returned = _run_body(statement.body if test else statement.orelse, module, env, where)
            if returned is not None:
                return returned
        elif isinstance(statement, ast.Pass) or (
            isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
        ):
            continue
        else:
            raise SchemaError(
                f"{where}: the helper's statement `{ast.unparse(statement).splitlines()[0]}` "
                "needs the code run; build the Input() from literals and constants"
            )
    return None


def _bind_call(
    function: Function, home: Module, call: ast.Call, caller: Module, where: str
) -> dict[str, Any]:
    """The helper's parameters as this call binds them (its own defaults otherwise)."""
    arguments = function.args
    positional = [a.arg for a in arguments.posonlyargs + arguments.args]
    if positional and positional[0] in ("self", "cls"):
        positional = positional[1:]
    defaults = dict(
        zip(
            positional[len(positional) - len(arguments.defaults) :], arguments.defaults, strict=True
        )
    )
    for arg, kw_default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True):
        if kw_default is not None:
            defaults[arg.arg] = kw_default
    given: dict[str, ast.expr] = dict(zip(positional, call.args, strict=False))
    given.update({k.arg: k.value for k in call.keywords if k.arg is not None})
    env: dict[str, Any] = {}
    for name in [*positional, *(a.arg for a in arguments.kwonlyargs)]:
        if name in given:
            env[name] = _static(given[name], caller, where, f"argument {name}=")
        elif name in defaults:
            env[name] = _static(defaults[name], home, where, f"default of {name}")
    return env


def _input_arguments(spec: InputSpec, where: str) -> dict[str, Any]:
    call, module, env = spec.call, spec.module, spec.env
    values: dict[str, Any] = {}
    if call.args:
        values["default"] = _static(call.args[0], module, where, "default", env)
    for keyword in call.keywords:
        if keyword.arg == "default_factory":
            raise SchemaError(f"{where}: default_factory is not supported; give a literal default")
        if keyword.arg in INPUT_KEYS:
            values[keyword.arg] = _static(keyword.value, module, where, keyword.arg, env)
    return values


def _static(
    node: ast.expr, module: Module, where: str, what: str, env: dict[str, Any] | None = None
) -> Any:
    try:
        return plain(literal(node, module, env))
    except NotStatic as exc:
        detail = str(exc)
        needs = (
            f" (`{detail}` needs the code run)" if detail and detail != ast.unparse(node) else ""
        )
        raise SchemaError(
            f"{where}: the {what} `{ast.unparse(node)}` cannot be statically resolved{needs}; "
            "use literals, module-level constants or expressions built from them"
        ) from None


def _decorations(
    function: ast.FunctionDef | ast.AsyncFunctionDef, module: Module
) -> tuple[bool, int | None, BatchSpec | None]:
    streaming, concurrency, batch = False, None, None
    for decorator in function.decorator_list:
        call = decorator if isinstance(decorator, ast.Call) else None
        target = _qualified(call.func if call else decorator, module)
        if target is None or target[0].split(".")[0] != "cog":
            continue
        if target[1] == "streaming":
            streaming = True
        elif target[1] == "concurrent":
            concurrency = 1
            for keyword in call.keywords if call else []:
                if keyword.arg == "max":
                    value = _static(keyword.value, module, f"{function.name}()", "concurrent max")
                    if not isinstance(value, int) or isinstance(value, bool):
                        raise SchemaError(
                            f"{function.name}(): concurrent(max=...) must be an integer literal"
                        )
                    concurrency = value
        elif target[1] == "batch":
            batch = _batch(function, call, module)
    return streaming, concurrency, batch


def _batch(function: Function, call: ast.Call | None, module: Module) -> BatchSpec:
    """`@cog.batch(max_size=..., max_wait_ms=...)` read from its literal arguments, checked by
    the rules the decorator applies when it runs."""
    where = f"{function.name}()"
    if call is None:
        raise SchemaError(
            f"{where}: write @cog.batch() or @cog.batch(max_size=..., max_wait_ms=...)"
        )
    values: dict[str, Any] = {"max_size": DEFAULT_MAX_SIZE, "max_wait_ms": DEFAULT_MAX_WAIT_MS}
    for name, node in zip(("max_size", "max_wait_ms"), call.args, strict=False):
        values[name] = _static(node, module, where, f"batch {name}")
    for keyword in call.keywords:
        if keyword.arg in values:
            values[keyword.arg] = _static(keyword.value, module, where, f"batch {keyword.arg}")
    try:
        return batch_spec(values["max_size"], values["max_wait_ms"], f"{where}: batch")
    except BatchingError as exc:
        raise SchemaError(str(exc)) from None
