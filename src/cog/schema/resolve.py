"""TypeNodes → IR, and the rules inputs must follow. Shared by both readers."""

from __future__ import annotations

from .errors import SchemaError
from .ir import InputField, InputType, OutputField, OutputType
from .types import MISSING, TypeNode

INPUT_PRIMITIVES = ("str", "int", "float", "bool", "Path", "File", "Secret", "Any")
UNION_MEMBERS = ("str", "int", "float", "bool", "Any")
ITERATORS = ("Iterator", "AsyncIterator")
CONCATENATE = ("ConcatenateIterator", "AsyncConcatenateIterator")
ADVICE = "use a cog.BaseModel output, a .pyi stub, or Annotated[T, cog.Opaque]"


def _unknown(node: TypeNode, where: str) -> SchemaError:
    if node.name == "bytes":
        return SchemaError(f"{where}: bytes is not supported; use cog.Path for files")
    if node.module:
        return SchemaError(
            f"{where}: cannot resolve type '{node.label}' (imported from '{node.module}') "
            f"statically; {ADVICE}"
        )
    return SchemaError(f"{where}: unsupported type {node.label or node.name}")


# -- inputs --------------------------------------------------------------------------------


def input_type(node: TypeNode, where: str) -> InputType:
    if node.name == "Opaque":
        inner = node.args[0]
        nullable = inner.name == "Optional"
        core = inner.args[0] if nullable else inner
        if core.name == "list":
            return InputType("array", "Any", nullable=nullable)
        return InputType("primitive", "Any", nullable=nullable)
    if node.name == "Optional":
        wrapped = input_type(node.args[0], where)
        if wrapped.nullable:
            raise SchemaError(f"{where}: nested Optional is not supported")
        return InputType(wrapped.kind, wrapped.primitive, wrapped.variants, nullable=True)
    if node.name == "Union":
        members = [arg for arg in node.args if arg.name != "None"]
        nullable = len(members) < len(node.args)
        if len(members) == 1:
            return input_type(TypeNode("Optional", (members[0],)), where)
        variants = tuple(_union_member(member, where) for member in members)
        return InputType("union", variants=variants, nullable=nullable)
    if node.name == "list":
        if not node.args:
            return InputType("array", "Any")
        element = node.args[0]
        if element.name in ("list", "Optional", "Union") and element.args:
            raise SchemaError(
                f"{where}: nested generics like list[{element.name}[...]] are not supported"
            )
        return InputType("array", _primitive(element, where))
    return InputType("primitive", _primitive(node, where))


def _primitive(node: TypeNode, where: str) -> str:
    if node.name == "dict" or node.name == "model" and node.label.startswith("TypedDict:"):
        return "Any"
    if node.name in INPUT_PRIMITIVES:
        return node.name
    if node.name == "model":
        raise SchemaError(f"{where}: {node.label} (a model) is not supported as an input type")
    raise _unknown(node, where)


def _union_member(node: TypeNode, where: str) -> InputType:
    if node.name == "list":
        return input_type(node, where)
    primitive = _primitive(node, where)
    if primitive not in UNION_MEMBERS:
        raise SchemaError(
            f"{where}: {primitive} cannot be part of a union; unions may only combine "
            "str, int, float, bool, dict, Any and list[...]"
        )
    return InputType("primitive", primitive)


def check_input(field: InputField) -> None:
    """Constraints must fit the type, defaults must fit the constraints."""
    where = f"input '{field.name}'"
    kind, primitive = field.type.kind, field.type.primitive
    numeric = kind == "primitive" and primitive in ("int", "float")
    textual = kind == "primitive" and primitive == "str"
    if kind == "union" and (field.choices or _has_constraints(field)):
        raise SchemaError(f"{where}: constraints and choices are not allowed on a union input")
    if (field.ge is not None or field.le is not None) and not numeric:
        raise SchemaError(f"{where}: ge/le only apply to int and float inputs")
    if field.ge is not None and field.le is not None and field.ge > field.le:
        raise SchemaError(f"{where}: ge ({field.ge}) is greater than le ({field.le})")
    if (field.min_length, field.max_length, field.regex) != (None, None, None) and not textual:
        raise SchemaError(f"{where}: min_length/max_length/regex only apply to str inputs")
    if field.accept is not None and primitive not in ("Path", "File"):
        raise SchemaError(f"{where}: accept is only valid on Path or File inputs")
    if field.choices is not None:
        _check_choices(field, where)


def _has_constraints(field: InputField) -> bool:
    values = (field.ge, field.le, field.min_length, field.max_length, field.regex)
    return any(value is not None for value in values)


def _check_choices(field: InputField, where: str) -> None:
    choices = field.choices or ()
    if field.type.kind != "primitive" or field.type.primitive not in ("str", "int"):
        raise SchemaError(f"{where}: choices are only allowed on str and int inputs")
    if not choices:
        raise SchemaError(f"{where}: choices needs at least one value")
    if len({type(choice) for choice in choices}) != 1:
        raise SchemaError(f"{where}: all choices must be of the same type")
    if _has_constraints(field):
        raise SchemaError(f"{where}: choices cannot be combined with ge/le/min_length/max_length")


def default_conflicts(field: InputField) -> list[str]:
    """How a default breaks its own constraints. Cog's build does not check this (a model
    with such a default builds and serves), so it is not a schema error; `cog doctor` warns."""
    value = field.default
    if value is MISSING or value is None:
        return []
    found = []
    if field.choices is not None and value not in field.choices:
        found.append(f"the default {value!r} is not one of the choices {list(field.choices)}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if field.ge is not None and value < field.ge:
            found.append(f"the default {value} is less than ge={field.ge}")
        if field.le is not None and value > field.le:
            found.append(f"the default {value} is greater than le={field.le}")
    if isinstance(value, str):
        if field.min_length is not None and len(value) < field.min_length:
            found.append(f"the default is shorter than min_length={field.min_length}")
        if field.max_length is not None and len(value) > field.max_length:
            found.append(f"the default is longer than max_length={field.max_length}")
    return found


# -- outputs -------------------------------------------------------------------------------


def output_type(
    node: TypeNode, where: str = "output", seen: frozenset[str] = frozenset()
) -> OutputType:
    if (
        node.name in ("Optional",)
        or node.name == "Union"
        and any(a.name == "None" for a in node.args)
    ):
        raise SchemaError(
            f"{where}: Optional return types are not supported; return a value always, "
            "or use a BaseModel with optional fields"
        )
    if node.name == "Union":
        # Cog describes a union output as any value (`{"type": "object"}`).
        for member in node.args:
            output_type(member, where, seen)
        return OutputType("any")
    if node.name == "Opaque":
        inner = node.args[0]
        if inner.name == "Optional":
            raise SchemaError(f"{where}: Optional return types are not supported")
        return (
            OutputType("array", items=OutputType("primitive", "Any"))
            if inner.name == "list"
            else OutputType("primitive", "Any")
        )
    if node.name in ("Any",) or node.name == "dict" and not node.args:
        return OutputType("any")
    if node.name == "dict":
        return OutputType("dict", items=output_type(node.args[1], where, seen))
    if node.name == "list":
        if not node.args:
            return OutputType("array", items=OutputType("any"))
        return OutputType("array", items=output_type(node.args[0], where, seen))
    if node.name in ITERATORS:
        return OutputType("iterator", items=output_type(node.args[0], where, seen))
    if node.name in CONCATENATE:
        if node.args and node.args[0].name != "str":
            raise SchemaError(
                f"{where}: ConcatenateIterator must yield str, not {node.args[0].label or node.args[0].name}"
            )
        return OutputType("concatenate", items=OutputType("primitive", "str"))
    if node.name == "model":
        return _model(node, where, seen)
    if node.name in ("str", "int", "float", "bool", "Path", "File", "Secret"):
        return OutputType("primitive", node.name)
    if node.name == "None":
        raise SchemaError(f"{where}: the return annotation must not be None")
    raise _unknown(node, where)


def _model(node: TypeNode, where: str, seen: frozenset[str]) -> OutputType:
    if node.label in seen:
        return OutputType("any")
    fields = []
    for item in node.fields:
        annotation, nullable = item.type, False
        if (
            annotation.name == "Optional"
            or annotation.name == "Union"
            and any(a.name == "None" for a in annotation.args)
        ):
            members = [
                a
                for a in (annotation.args if annotation.name == "Union" else annotation.args)
                if a.name != "None"
            ]
            annotation, nullable = members[0], True
        resolved = output_type(annotation, f"{where} field '{item.name}'", seen | {node.label})
        if nullable:
            resolved = OutputType(
                resolved.kind, resolved.primitive, resolved.items, resolved.fields, True
            )
        required = not nullable
        if item.key_required is not None:
            required = item.key_required
        if item.default is not MISSING:
            required = False
        fields.append(OutputField(item.name, resolved, required, item.default))
    return OutputType("object", fields=tuple(fields))
