"""Input validation against the model's OpenAPI schema, with Cog's 422 error shape.

Unknown inputs are dropped (as Cog does); `null` is accepted for nullable inputs (Cog rejects
it, against its own schema's intent).

An input whose schema only names a type (`text: str`, `seconds: float`...) is checked with an
isinstance that accepts exactly what the JSON Schema validator accepts; anything else, and any
value that check refuses, goes to `jsonschema` for the verdict and the message. So a server
whose inputs are all simple never imports `jsonschema` (a good part of its start-up) until a
request is invalid.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jsonschema

ValidationDetail = list[dict[str, Any]]
Check = Callable[[Any], bool]

# Draft 7's types, as jsonschema's draft 7 type checker defines them (bool is no number).
_TYPES: dict[str, Check] = {
    "string": lambda value: isinstance(value, str),
    "integer": lambda value: (
        not isinstance(value, bool)
        and (isinstance(value, int) or (isinstance(value, float) and value.is_integer()))
    ),
    "number": lambda value: not isinstance(value, bool) and isinstance(value, numbers.Number),
    "boolean": lambda value: isinstance(value, bool),
    "array": lambda value: isinstance(value, list),
    "object": lambda value: isinstance(value, dict),
}
# Keywords that assert nothing (`format` does not without a format checker, and the validator
# is built without one); `x-` extensions are unknown keywords, which assert nothing either.
_ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "format", "readOnly", "writeOnly"}
    | {"deprecated", "$comment", "type", "nullable"}
)


def _nullable_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 `nullable: true` → a JSON Schema that also admits null."""
    if isinstance(node, dict):
        converted = {key: _nullable_to_json_schema(value) for key, value in node.items()}
        if converted.pop("nullable", False):
            return {"anyOf": [converted, {"type": "null"}]}
        return converted
    if isinstance(node, list):
        return [_nullable_to_json_schema(item) for item in node]
    return node


def _simple_check(prop: Any) -> Check | None:
    """An exact check for a schema that only names a type; None for any other schema."""
    if not isinstance(prop, dict) or not isinstance(prop.get("type"), str):
        return None
    if any(key not in _ANNOTATIONS and not key.startswith("x-") for key in prop):
        return None
    check = _TYPES.get(prop["type"])
    if check is None or not prop.get("nullable"):
        return check
    return lambda value: value is None or check(value)


class InputValidator:
    """Validates the `input` object of a request against one component (`Input`...)."""

    def __init__(self, schema: dict[str, Any], component: str) -> None:
        components = copy.deepcopy(schema.get("components", {}).get("schemas", {}))
        target = components.get(component) or components.get("Input") or {}
        self.properties: dict[str, Any] = target.get("properties", {})
        self.required: list[str] = target.get("required", [])
        self.root = {"components": {"schemas": _nullable_to_json_schema(components)}}
        self.checks = {name: _simple_check(prop) for name, prop in self.properties.items()}
        self.validators: dict[str, jsonschema.Draft7Validator] = {}
        for name, check in self.checks.items():
            if check is None:  # compiled now, not on the first request
                self._validator(name)

    def _validator(self, name: str) -> jsonschema.Draft7Validator:
        validator = self.validators.get(name)
        if validator is None:
            import jsonschema

            prop = _nullable_to_json_schema(self.properties[name])
            validator = self.validators[name] = jsonschema.Draft7Validator({**self.root, **prop})
        return validator

    def validate(self, values: dict[str, Any]) -> tuple[dict[str, Any], ValidationDetail]:
        """The known inputs, and the errors (empty when valid)."""
        known = {name: value for name, value in values.items() if name in self.properties}
        errors: ValidationDetail = [
            {"loc": ["body", "input", name], "msg": "Field required", "type": "value_error.missing"}
            for name in self.required
            if name not in known
        ]
        for name, value in known.items():
            check = self.checks[name]
            if check is not None and check(value):
                continue
            validator = self._validator(name)
            if validator.is_valid(value):
                continue
            from jsonschema.exceptions import best_match

            error = best_match(validator.iter_errors(value))
            if error is not None:
                errors.append(
                    {"loc": ["body", "input", name], "msg": error.message, "type": "value_error"}
                )
        return known, errors
