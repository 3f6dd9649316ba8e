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
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .errors import InputError

if TYPE_CHECKING:
    import jsonschema

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
        self.root: Schema = {"components": {"schemas": self.components}}

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


def _value_problems(value: Any, schema: Schema, name: str, resolver: _Resolver) -> Iterator[str]:
    """jsonschema's verdict on one value, each error in Cog's CLI words."""
    import jsonschema

    validator = jsonschema.Draft7Validator({**resolver.root, **schema})
    for error in _first_errors(validator.iter_errors(value)):
        path = ".".join([name, *map(str, error.absolute_path)])
        if error.validator == "type" and error.instance is None:
            yield f"invalid input {_quote(path)}: must not be null"
        else:
            yield f"invalid input {_quote(path)}: {_cog_words(error)}"


def _first_errors(
    errors: Iterator[jsonschema.ValidationError],
) -> Iterator[jsonschema.ValidationError]:
    """As Cog's CLI reports them: a value of the wrong type or outside its enum gets that
    error alone, not also the checks that assume its type."""
    found = list(errors)
    decisive: dict[tuple[Any, ...], jsonschema.ValidationError] = {}
    for error in found:
        if error.validator in ("type", "enum"):
            decisive.setdefault(tuple(error.absolute_path), error)
    for error in found:
        first = decisive.get(tuple(error.absolute_path))
        if first is None or first is error:
            yield error


def _cog_words(error: jsonschema.ValidationError) -> str:
    limit: Any = error.validator_value
    value = error.instance
    match error.validator:
        case "type":
            return f"expected {limit}, got {_type_name(value)}"
        case "enum":
            return "must be one of: " + ", ".join(_go_value(item) for item in limit)
        case "anyOf":
            return 'doesn\'t match any schema from "anyOf"'
        case "minimum":
            return f"number must be at least {_go_value(limit)}"
        case "maximum":
            return f"number must be at most {_go_value(limit)}"
        case "minLength":
            return f"minimum string length is {limit}"
        case "maxLength":
            return f"maximum string length is {limit}"
        case "pattern":
            return f'string doesn\'t match the regular expression "{limit}"'
        case "minItems":
            return f"minimum number of items is {limit}"
        case "maxItems":
            return f"maximum number of items is {limit}"
    return str(error.message)


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
