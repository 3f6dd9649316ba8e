"""Reading a loaded predictor: its signature, annotations and `Input(...)` metadata."""

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
import os
import pathlib
import types
import typing
from typing import Any

from .._decorators import CONCURRENT_ATTR, STREAMING_ATTR
from .._opaque import Opaque
from ..batching import declared_batch
from ..input import FieldInfo
from ..predictor import entry_function, entry_method_name
from ..types import AsyncConcatenateIterator, ConcatenateIterator, File, Secret
from .batched import per_item, refuse_streaming
from .errors import SchemaError
from .ir import InputField, InputType, PredictorInfo
from .resolve import check_input, input_type, output_type
from .types import MISSING, NONE, ModelField, TypeNode

_SIMPLE: dict[Any, str] = {
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    bytes: "bytes",
    typing.Any: "Any",
    dict: "dict",
    list: "list",
    type(None): "None",
}
_ITERATORS: dict[Any, str] = {
    collections.abc.Iterator: "Iterator",
    collections.abc.Generator: "Iterator",
    collections.abc.AsyncIterator: "AsyncIterator",
    collections.abc.AsyncGenerator: "AsyncIterator",
    ConcatenateIterator: "ConcatenateIterator",
    AsyncConcatenateIterator: "AsyncConcatenateIterator",
}


def type_node(annotation: Any) -> TypeNode:
    """A TypeNode for a Python annotation object."""
    if annotation is None or annotation is type(None):
        return NONE
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        if any(meta is Opaque for meta in args[1:]):
            return TypeNode("Opaque", (type_node(args[0]),))
        return type_node(args[0])
    if origin in (typing.Union, types.UnionType):
        members = tuple(type_node(arg) for arg in args)
        if len(members) == 2 and NONE in members:
            return TypeNode("Optional", tuple(m for m in members if m != NONE))
        return TypeNode("Union", members)
    if origin in (list, collections.abc.Sequence) and origin is not None:
        return TypeNode("list", tuple(type_node(arg) for arg in args[:1]))
    if origin is dict:
        return TypeNode("dict", tuple(type_node(arg) for arg in args))
    if origin in _ITERATORS:
        return TypeNode(_ITERATORS[origin], (type_node(args[0]),) if args else (TypeNode("Any"),))
    if annotation in _SIMPLE:
        return TypeNode(_SIMPLE[annotation])
    if annotation in _ITERATORS:
        return TypeNode(_ITERATORS[annotation], (TypeNode("Any"),))
    if inspect.isclass(annotation):
        return _class_node(annotation)
    return TypeNode("unknown", label=repr(annotation))


def annotation_input_type(annotation: Any, where: str) -> InputType:
    """How an input's annotation reads: what the schema describes and the worker coerces to
    (raises SchemaError for what inputs cannot be)."""
    return input_type(type_node(annotation), where)


def _is_typeddict(cls: type) -> bool:
    # typing_extensions' TypedDict (what 3.10 models use for NotRequired) is not typing's.
    return typing.is_typeddict(cls) or (
        isinstance(getattr(cls, "__required_keys__", None), frozenset)
        and isinstance(getattr(cls, "__annotations__", None), dict)
    )


def _key_type(annotation: Any) -> Any:
    """A TypedDict key's type without its Required/NotRequired marker (`__required_keys__`
    already says which keys are required)."""
    # typing's and typing_extensions' markers are distinct objects with the same name.
    while getattr(typing.get_origin(annotation), "_name", None) in ("Required", "NotRequired"):
        annotation = typing.get_args(annotation)[0]
    return annotation


def _class_node(cls: type) -> TypeNode:
    if issubclass(cls, Secret):
        return TypeNode("Secret")
    if issubclass(cls, File):
        return TypeNode("File")
    if issubclass(cls, pathlib.PurePath) or issubclass(cls, os.PathLike):
        return TypeNode("Path")
    if _is_typeddict(cls):
        hints = typing.get_type_hints(cls, include_extras=True)
        required = getattr(cls, "__required_keys__", set(hints))
        fields = tuple(
            ModelField(n, type_node(_key_type(t)), key_required=n in required)
            for n, t in hints.items()
        )
        return TypeNode("model", fields=fields, label=f"TypedDict:{cls.__name__}")
    if dataclasses.is_dataclass(cls):
        hints = typing.get_type_hints(cls, include_extras=True)
        fields = tuple(
            ModelField(f.name, type_node(hints.get(f.name, Any)), _dataclass_default(f))
            for f in dataclasses.fields(cls)
        )
        return TypeNode("model", fields=fields, label=cls.__name__)
    pydantic_fields = getattr(cls, "model_fields", None) or getattr(cls, "__fields__", None)
    if isinstance(pydantic_fields, dict) and hasattr(cls, "__annotations__"):
        hints = typing.get_type_hints(cls, include_extras=True)
        fields = tuple(
            ModelField(name, type_node(hints.get(name, Any)), _pydantic_default(info))
            for name, info in pydantic_fields.items()
        )
        return TypeNode("model", fields=fields, label=cls.__name__)
    if cls.__module__ == "builtins":
        return TypeNode(cls.__name__, label=cls.__name__)
    return TypeNode("unknown", label=cls.__name__, module=cls.__module__)


def _dataclass_default(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    return MISSING


def _pydantic_default(info: Any) -> Any:
    required = getattr(info, "is_required", None)
    if callable(required) and required():
        return MISSING
    default = getattr(info, "default", MISSING)
    return MISSING if type(default).__name__ == "PydanticUndefinedType" else default


# -- predictors ----------------------------------------------------------------------------


def read_predictor(predictor: Any, mode: str = "predict") -> PredictorInfo:
    """The IR of a loaded predictor (an instance, class or function)."""
    function = _entry(predictor, mode)
    try:
        hints = typing.get_type_hints(function, include_extras=True)
    except Exception as exc:
        raise SchemaError(
            f"cannot resolve the annotations of {function.__qualname__}: {exc}"
        ) from None
    batch = declared_batch(function)
    streaming = bool(getattr(function, STREAMING_ATTR, False))
    if batch is not None:
        refuse_streaming(streaming, function.__name__)
    inputs = []
    parameters = [p for p in inspect.signature(function).parameters.values() if p.name != "self"]
    for order, parameter in enumerate(parameters):
        inputs.append(_input_field(parameter, hints, order, batched=batch is not None))
    if "return" not in hints:
        raise SchemaError(f"{function.__qualname__} must have a return type annotation")
    returned = type_node(hints["return"])
    output = output_type(per_item(returned, "output") if batch is not None else returned)
    return PredictorInfo(
        tuple(inputs),
        output,
        mode=mode,
        streaming=streaming,
        concurrency=getattr(function, CONCURRENT_ATTR, None),
        batch=batch,
    )


def _entry(predictor: Any, mode: str) -> Any:
    if inspect.isclass(predictor):
        name = "train" if mode == "train" else entry_method_name(predictor)
        return getattr(predictor, name)
    return entry_function(
        predictor, "train" if mode == "train" and not inspect.isroutine(predictor) else None
    )


def _input_field(
    parameter: inspect.Parameter, hints: dict[str, Any], order: int, *, batched: bool = False
) -> InputField:
    where = f"input '{parameter.name}'"
    if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD, parameter.KEYWORD_ONLY):
        raise SchemaError(f"{where}: *args, **kwargs and keyword-only parameters are not supported")
    if parameter.name not in hints:
        raise SchemaError(f"{where} has no type annotation")
    node = type_node(hints[parameter.name])
    kind = input_type(per_item(node, where) if batched else node, where)
    default = parameter.default
    info = (
        default
        if isinstance(default, FieldInfo)
        else FieldInfo(default=MISSING if default is inspect.Parameter.empty else default)
    )
    field = InputField(
        name=parameter.name,
        order=order,
        type=kind,
        default=_json_default(info.default if info.default_given else MISSING, where),
        description=info.description,
        ge=info.ge,
        le=info.le,
        min_length=info.min_length,
        max_length=info.max_length,
        regex=info.regex,
        choices=tuple(info.choices) if info.choices is not None else None,
        deprecated=info.deprecated,
        accept=info.accept,
    )
    check_input(field)
    return field


def _json_default(value: Any, where: str) -> Any:
    if value is MISSING or value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_default(item, where) for item in value]
    if isinstance(value, dict):
        return {str(k): _json_default(v, where) for k, v in value.items()}
    if isinstance(value, Secret):
        return value.get_secret_value()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise SchemaError(f"{where}: the default {value!r} is not a literal Cog can describe")
