"""Reading a predictor from its source with `ast`, never importing it (what `cog build` uses).

Local imports are followed to find BaseModel output types in other files of the project;
defaults, descriptions and choices must be literals or module-level constants.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ..predictor import split_reference
from .errors import SchemaError
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


class NotStatic(Exception):
    """An expression whose value cannot be known without running the code."""


@dataclass
class Module:
    """One parsed file: its imports, constants and classes."""

    path: Path
    project: Path
    tree: ast.Module
    imports: dict[str, tuple[str, str]] = field(default_factory=dict)
    constants: dict[str, ast.expr] = field(default_factory=dict)
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)

    @property
    def package(self) -> str:
        relative = self.path.parent.relative_to(self.project)
        return ".".join(relative.parts)


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
            for alias in node.names:
                module.imports[alias.asname or alias.name] = (base, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                module.imports[alias.asname or alias.name.split(".")[0]] = (alias.name, alias.name)
        elif isinstance(node, ast.ClassDef):
            module.classes[node.name] = node
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            module.functions[node.name] = node
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            module.constants[node.targets[0].id] = node.value
        elif (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.value is not None
        ):
            module.constants[node.target.id] = node.value
    return module


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = module.package.split(".") if module.package else []
    parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
    return ".".join([*parts, *([node.module] if node.module else [])])


def _local_module(module: Module, dotted: str) -> Module | None:
    """The project file a module name refers to, if it is one."""
    base = module.project.joinpath(*dotted.split(".")) if dotted else module.project
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return parse_module(candidate.resolve(), module.project)
    return None


# -- literals ------------------------------------------------------------------------------


def literal(node: ast.expr, module: Module, depth: int = 0) -> Any:
    """The value of a literal expression, following module-level constants."""
    if depth > 20:
        raise NotStatic("constant chain too deep")
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in module.constants:
        return literal(module.constants[node.id], module, depth + 1)
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return [literal(item, module, depth + 1) for item in node.elts]
    if isinstance(node, ast.Dict):
        if any(key is None for key in node.keys):
            raise NotStatic("dict unpacking")
        return {
            literal(k, module, depth + 1): literal(v, module, depth + 1)
            for k, v in zip(node.keys, node.values, strict=True)
            if k is not None
        }
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = literal(node.operand, module, depth + 1)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return -value if isinstance(node.op, ast.USub) else value
    raise NotStatic(ast.unparse(node))


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
    local = _local_module(module, source) if source and source.split(".")[0] != "cog" else None
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
            default = literal(item.value, module)
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
    inputs = tuple(
        _input_field(parameter, default, order, module)
        for order, (parameter, default) in enumerate(zip(parameters, defaults, strict=True))
    )
    if function.returns is None:
        raise SchemaError(f"{function.name}() must have a return type annotation")
    output = output_type(annotation(function.returns, module))
    streaming, concurrency = _decorations(function, module)
    return PredictorInfo(inputs, output, mode=mode, streaming=streaming, concurrency=concurrency)


def _input_field(
    parameter: ast.arg, default: ast.expr | None, order: int, module: Module
) -> InputField:
    where = f"input '{parameter.arg}'"
    if parameter.annotation is None:
        raise SchemaError(f"{where} has no type annotation")
    kind = input_type(annotation(parameter.annotation, module), where)
    values: dict[str, Any] = {"default": MISSING}
    if default is not None and _is_input_call(default, module):
        assert isinstance(default, ast.Call)
        values.update(_input_arguments(default, module, where))
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


def _is_input_call(node: ast.expr, module: Module) -> bool:
    if not isinstance(node, ast.Call):
        return False
    target = _qualified(node.func, module)
    return target is not None and target[1] == "Input" and target[0].split(".")[0] in ("cog", "")


def _input_arguments(call: ast.Call, module: Module, where: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if call.args:
        values["default"] = _static(call.args[0], module, where, "default")
    for keyword in call.keywords:
        if keyword.arg == "default_factory":
            raise SchemaError(f"{where}: default_factory is not supported; give a literal default")
        if keyword.arg in INPUT_KEYS:
            values[keyword.arg] = _static(keyword.value, module, where, keyword.arg)
    return values


def _static(node: ast.expr, module: Module, where: str, what: str) -> Any:
    try:
        return literal(node, module)
    except NotStatic:
        raise SchemaError(
            f"{where}: the {what} `{ast.unparse(node)}` cannot be statically resolved; use a "
            "literal or a module-level constant"
        ) from None


def _decorations(
    function: ast.FunctionDef | ast.AsyncFunctionDef, module: Module
) -> tuple[bool, int | None]:
    streaming, concurrency = False, None
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
    return streaming, concurrency
