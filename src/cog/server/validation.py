"""Input validation against the model's OpenAPI schema, with Cog's 422 error shape.

Unknown inputs are dropped (as Cog does); `null` is accepted for nullable inputs (Cog rejects
it, against its own schema's intent).
"""

from __future__ import annotations

import copy
from typing import Any

import jsonschema

ValidationDetail = list[dict[str, Any]]


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


class InputValidator:
    """Validates the `input` object of a request against one component (`Input`...)."""

    def __init__(self, schema: dict[str, Any], component: str) -> None:
        components = copy.deepcopy(schema.get("components", {}).get("schemas", {}))
        target = components.get(component) or components.get("Input") or {}
        self.properties: dict[str, Any] = target.get("properties", {})
        self.required: list[str] = target.get("required", [])
        root = {"components": {"schemas": _nullable_to_json_schema(components)}}
        self.validators = {
            name: jsonschema.Draft7Validator({**root, **_nullable_to_json_schema(prop)})
            for name, prop in self.properties.items()
        }

    def validate(self, values: dict[str, Any]) -> tuple[dict[str, Any], ValidationDetail]:
        """The known inputs, and the errors (empty when valid)."""
        known = {name: value for name, value in values.items() if name in self.properties}
        errors: ValidationDetail = [
            {"loc": ["body", "input", name], "msg": "Field required", "type": "value_error.missing"}
            for name in self.required
            if name not in known
        ]
        for name, value in known.items():
            validator = self.validators[name]
            if validator.is_valid(value):
                continue
            error = jsonschema.exceptions.best_match(validator.iter_errors(value))
            if error is not None:
                errors.append(
                    {"loc": ["body", "input", name], "msg": error.message, "type": "value_error"}
                )
        return known, errors
