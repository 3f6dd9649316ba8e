"""Prediction inputs from the command line: `-i name=value` and `--json`, typed by the schema."""

from __future__ import annotations

import base64
import json
import mimetypes
import sys
from pathlib import Path
from typing import Any

from .errors import InputError

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
    """`--json '{...}'`, `--json @file.json` or `--json @-` (stdin)."""
    if argument == "@-":
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
    mime = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(_read_file(path)).decode()}"


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


def required_inputs(schema: Schema, component: str = "Input") -> list[str]:
    components = schema.get("components", {}).get("schemas", {})
    return list(components.get(component, components.get("Input", {})).get("required", []))


def type_inputs(
    raw: dict[str, list[str]], schema: Schema | None, component: str = "Input"
) -> dict[str, Any]:
    """Convert `-i` strings to the types the schema declares; every bad input is reported."""
    if schema is None:
        return {name: _untyped(values) for name, values in raw.items()}
    properties = input_properties(schema, component)
    typed: dict[str, Any] = {}
    problems: list[str] = []
    for name, values in raw.items():
        if name not in properties:
            known = ", ".join(properties) or "none"
            problems.append(f"{name}: the model has no such input (inputs: {known})")
            continue
        try:
            typed[name] = _convert(values, properties[name])
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
    missing = [name for name in required_inputs(schema, component) if name not in raw]
    problems += [f"{name}: required input is missing (add -i {name}=...)" for name in missing]
    if problems:
        raise InputError("invalid inputs:\n" + "\n".join(f"  {line}" for line in problems))
    return typed


def check_json_inputs(
    inputs: dict[str, Any], schema: Schema | None, component: str = "Input"
) -> None:
    """Unknown and missing inputs in `--json` are errors before anything starts."""
    if schema is None:
        return
    properties = input_properties(schema, component)
    problems = [f"{name}: the model has no such input" for name in inputs if name not in properties]
    problems += [
        f"{name}: required input is missing"
        for name in required_inputs(schema, component)
        if name not in inputs
    ]
    if problems:
        raise InputError("invalid inputs:\n" + "\n".join(f"  {line}" for line in problems))


def _untyped(values: list[str]) -> Any:
    converted = [file_to_data_url(v[1:]) if v.startswith("@") else v for v in values]
    return converted[0] if len(converted) == 1 else converted


def _convert(values: list[str], prop: Schema) -> Any:
    if prop.get("type") == "array":
        items = prop.get("items", {})
        if len(values) == 1 and values[0].startswith("["):
            return _json(values[0])
        return [_scalar(value, items) for value in values]
    if len(values) > 1:
        raise ValueError("given more than once, but it is not a list")
    return _scalar(values[0], prop)


def _scalar(value: str, prop: Schema) -> Any:
    kind = prop.get("type")
    if prop.get("format") == "uri" or (kind is None and value.startswith("@")):
        return file_to_data_url(value[1:]) if value.startswith("@") else value
    if kind == "integer":
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an integer") from None
    if kind == "number":
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
    if kind == "boolean":
        lowered = value.lower()
        if lowered not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"{value!r} is not true or false")
        return lowered in ("true", "1", "yes")
    if kind in ("object", "array") or "anyOf" in prop:
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            if kind in ("object", "array"):
                raise ValueError(f"{value!r} is not JSON") from None
            return value
    return value


def _json(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        raise ValueError(f"{value!r} is not a JSON list") from None
