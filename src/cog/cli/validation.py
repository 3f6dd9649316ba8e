"""Checking inputs against the model's schema before anything is built or started.

The CLI validates on its own, in the words Cog's CLI uses (scripts match them): unknown names
first (`unknown input "x"; valid inputs are: a, b`), then explicit nulls, then every schema
problem of the values (`missing required input "prompt"`, `invalid input "count": expected
integer, got string`...), one line each after `input validation failed:` when there are several.
It reads the OpenAPI document the schema component produces; the server's own validation (and
its 422 wording for HTTP clients) is a separate concern.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

from .errors import InputError

Schema = dict[str, Any]

# JSON Schema type names as Cog reports the type a value has.
_TYPE_NAMES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "boolean"),
    ((int, float), "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)


def input_component(schema: Schema, component: str = "Input") -> Schema:
    """The `Input` (or `TrainingInput`) object schema; trainings of old schemas use `Input`."""
    schemas = schema.get("components", {}).get("schemas", {})
    found: Schema = schemas.get(component) or schemas.get("Input") or {}
    return found


def validate_inputs(values: dict[str, Any], schema: Schema, component: str = "Input") -> None:
    """Raise InputError, in Cog's words, unless `values` are what the model accepts."""
    check_input_names(values, schema, component)
    target = input_component(schema, component)
    resolver = _Resolver(schema)
    for name in sorted(values):
        if values[name] is None and not _allows_null(resolver.resolve(_property(target, name))):
            raise InputError(
                f'invalid input "{name}": must not be null (omit the input to use its default)'
            )
    problems = list(_object_problems(values, target, resolver))
    if len(problems) == 1:
        raise InputError(problems[0])
    if problems:
        raise InputError("input validation failed:\n- " + "\n- ".join(problems))


def check_input_names(values: dict[str, Any], schema: Schema, component: str = "Input") -> None:
    """Unknown input names, reported before any value is read (files included)."""
    properties = input_component(schema, component).get("properties", {})
    unknown = sorted(name for name in values if name not in properties)
    if not unknown:
        return
    valid = sorted(properties)
    suffix = f"valid inputs are: {', '.join(valid)}" if valid else "model does not accept inputs"
    if len(unknown) == 1:
        raise InputError(f"unknown input {_quote(unknown[0])}; {suffix}")
    raise InputError(f"unknown inputs {', '.join(map(_quote, unknown))}; {suffix}")


def _quote(name: str) -> str:
    return json.dumps(name, ensure_ascii=False)


def _property(target: Schema, name: str) -> Schema:
    found: Schema = target.get("properties", {}).get(name, {})
    return found


class _Resolver:
    """Follows `$ref`s and merges `allOf` into one schema (Cog's choices are `allOf: [$ref]`)."""

    def __init__(self, document: Schema) -> None:
        self.components: Schema = document.get("components", {}).get("schemas", {})

    def resolve(self, schema: Schema) -> Schema:
        ref = schema.get("$ref")
        if isinstance(ref, str):
            target = self.components.get(ref.rsplit("/", 1)[-1], {})
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        for part in schema.get("allOf", ()):
            schema = {**self.resolve(part), **{k: v for k, v in schema.items() if k != "allOf"}}
        return schema


def _allows_null(schema: Schema) -> bool:
    """Whether JSON null passes as the model's runtime sees it: `nullable` is not enough."""
    if "type" in schema and schema["type"] != "null":
        return False
    if "enum" in schema and None not in schema["enum"]:
        return False
    if "anyOf" in schema:
        return any(_allows_null(option) for option in schema["anyOf"])
    return True


def _object_problems(values: dict[str, Any], target: Schema, resolver: _Resolver) -> Iterator[str]:
    for name in target.get("required", ()):
        if name not in values:
            yield f"missing required input {_quote(name)}"
    for name, value in values.items():
        if value is None:
            continue  # already checked: None here is allowed
        yield from _value_problems(value, resolver.resolve(_property(target, name)), name, resolver)


def _value_problems(value: Any, schema: Schema, path: str, resolver: _Resolver) -> Iterator[str]:
    prefix = f"invalid input {_quote(path)}: "
    if value is None:
        return
    options = schema.get("anyOf")
    if options is not None:
        resolved = [resolver.resolve(option) for option in options]
        if not any(not list(_value_problems(value, option, path, resolver)) for option in resolved):
            yield prefix + 'doesn\'t match any schema from "anyOf"'
        return
    expected = schema.get("type")
    if isinstance(expected, str) and not _has_type(value, expected):
        yield prefix + f"expected {expected}, got {_type_name(value)}"
        return
    if "enum" in schema and value not in schema["enum"]:
        yield prefix + "must be one of: " + ", ".join(_go_value(item) for item in schema["enum"])
        return
    yield from (prefix + reason for reason in _constraint_problems(value, schema))
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        items = resolver.resolve(schema["items"])
        for index, item in enumerate(value):
            if item is None and not _allows_null(items):
                yield f'invalid input "{path}.{index}": must not be null'
            else:
                yield from _value_problems(item, items, f"{path}.{index}", resolver)


def _constraint_problems(value: Any, schema: Schema) -> Iterator[str]:
    """The keyword checks Cog's schema emits: bounds, lengths, pattern, item counts."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            yield f"number must be at least {_go_value(schema['minimum'])}"
        if "maximum" in schema and value > schema["maximum"]:
            yield f"number must be at most {_go_value(schema['maximum'])}"
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            yield f"minimum string length is {schema['minLength']}"
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            yield f"maximum string length is {schema['maxLength']}"
        pattern = schema.get("pattern")
        if isinstance(pattern, str) and not _matches(pattern, value):
            yield f'string doesn\'t match the regular expression "{pattern}"'
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            yield f"minimum number of items is {schema['minItems']}"
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            yield f"maximum number of items is {schema['maxItems']}"


def _matches(pattern: str, value: str) -> bool:
    try:
        return re.search(pattern, value) is not None
    except re.error:
        return True  # a pattern Python cannot read is the model's problem, not the input's


def _has_type(value: Any, expected: str) -> bool:
    if expected == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and math.isfinite(value) and value.is_integer()
        )
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "string":
        return isinstance(value, str)
    if expected == "array":
        return isinstance(value, list)
    if expected == "object":
        return isinstance(value, dict)
    return True


def _type_name(value: Any) -> str:
    for kind, name in _TYPE_NAMES:
        if isinstance(value, kind):
            return name
    return "null"


def _go_value(value: Any) -> str:
    """A value as Go's `%v` shows a decoded JSON value (integral numbers without a fraction)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
