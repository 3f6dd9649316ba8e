"""Prediction inputs from the command line: `-i name=value` and `--json`, typed by the schema."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from .. import data_url
from .errors import InputError
from .validation import check_input_names, validate_inputs

Schema = dict[str, Any]


def parse_pairs(pairs: tuple[str, ...]) -> dict[str, list[str]]:
    """`("a=1", "b=x", "b=y")` → `{"a": ["1"], "b": ["x", "y"]}` (repeats make lists)."""
    values: dict[str, list[str]] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise InputError(f"-i {pair!r}: write inputs as name=value")
        values.setdefault(name.strip(), []).append(_unquote(value))
    return values


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def read_json_inputs(argument: str) -> dict[str, Any]:
    """`--json '{...}'`, `--json @file.json`, or stdin with `--json @-` / `--json -`."""
    if argument in ("@-", "-"):
        text = sys.stdin.read()
    elif argument.startswith("@"):
        text = _read_file(argument[1:]).decode()
    else:
        text = argument
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"--json: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise InputError("--json: expected a JSON object of inputs")
    return value.get("input", value) if set(value) == {"input"} else value


def _read_file(path: str) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None


def file_to_data_url(path: str) -> str:
    """A local file as a `data:` URL (what `@path` sends)."""
    return data_url.encode(_read_file(path), data_url.guess_media_type(path))


def input_properties(schema: Schema, component: str = "Input") -> dict[str, Schema]:
    """The input properties of an OpenAPI document, with enum `$ref`s resolved."""
    components = schema.get("components", {}).get("schemas", {})
    properties = components.get(component, components.get("Input", {})).get("properties", {})
    resolved = {}
    for name, prop in properties.items():
        for ref in prop.get("allOf", []):
            target = components.get(ref.get("$ref", "").rsplit("/", 1)[-1], {})
            prop = {**target, **{k: v for k, v in prop.items() if k != "allOf"}}
        resolved[name] = prop
    return resolved


def type_inputs(
    raw: dict[str, list[str]], schema: Schema | None, component: str = "Input"
) -> dict[str, Any]:
    """Convert `-i` strings to the types the schema declares and validate them (Cog's words).

    A value that does not convert stays a string, so that validation names the mismatch
    (`expected integer, got string`); unknown names are refused before any file is read."""
    if schema is None:
        return {name: _untyped(values) for name, values in raw.items()}
    check_input_names(dict.fromkeys(raw), schema, component)
    properties = input_properties(schema, component)
    typed = {name: _convert(values, properties[name]) for name, values in raw.items()}
    validate_inputs(typed, schema, component)
    return typed


def check_json_inputs(
    inputs: dict[str, Any], schema: Schema | None, component: str = "Input"
) -> dict[str, Any]:
    """`--json` inputs checked as Cog checks them: names first, then `@file` strings become
    data URLs, then the values are validated. Returns the inputs to send."""
    if schema is not None:
        check_input_names(inputs, schema, component)
    sent = {
        name: file_to_data_url(value[1:])
        if isinstance(value, str) and value.startswith("@")
        else value
        for name, value in inputs.items()
    }
    if schema is not None:
        validate_inputs(sent, schema, component)
    return sent


def _untyped(values: list[str]) -> Any:
    converted = [file_to_data_url(v[1:]) if v.startswith("@") else v for v in values]
    return converted[0] if len(converted) == 1 else converted


def _convert(values: list[str], prop: Schema) -> Any:
    """Repeated `-i` make a list (validation says so when the input is not one)."""
    if prop.get("type") == "array":
        items = prop.get("items", {})
        if len(values) == 1 and values[0].startswith("["):
            return _json_or_text(values[0])
        return [_scalar(value, items) for value in values]
    if len(values) > 1:
        return [_scalar(value, prop) for value in values]
    return _scalar(values[0], prop)


def _scalar(value: str, prop: Schema) -> Any:
    kind = prop.get("type")
    if prop.get("format") == "uri" or (kind is None and value.startswith("@")):
        return file_to_data_url(value[1:]) if value.startswith("@") else value
    if kind == "integer":
        with contextlib.suppress(ValueError):
            return int(value)
    elif kind == "number":
        with contextlib.suppress(ValueError):
            return float(value)
    elif kind == "boolean":
        lowered = value.lower()
        if lowered in BOOLEAN_WORDS:
            return BOOLEAN_WORDS[lowered]
    elif kind in ("object", "array") or "anyOf" in prop:
        return _json_or_text(value)
    return value


# What `-i flag=...` accepts for a boolean (Go's strconv.ParseBool, and yes/no).
BOOLEAN_WORDS = {
    **dict.fromkeys(("true", "t", "1", "yes"), True),
    **dict.fromkeys(("false", "f", "0", "no"), False),
}


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value
