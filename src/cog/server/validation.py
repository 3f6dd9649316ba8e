"""Input validation against the model's OpenAPI schema, with Cog's 422 error shape.

Unknown inputs are dropped (as Cog does); an explicit `null` is refused even for an optional
input, as Cog refuses it (its validator ignores `nullable`): leaving the input out gives its default. Every error of every input is reported, located and worded
as Cog's validator words them (`["body", "input", "words/1"]`, `"abc" is longer than 2
characters`). Secret inputs (`format: password`, also as list items) are masked wherever the
server shows them: in the input it echoes, and in error messages.

An input whose schema only names a type (`text: str`, `seconds: float`...), or is a list of
such items (`list[float]`, `list[list[str]]`), is checked with an isinstance that accepts
exactly what the JSON Schema validator accepts; anything else, and any value that check
refuses, goes to `jsonschema` for the verdict and the message. So a server whose inputs are
all simple never imports `jsonschema` (a good part of its start-up) until a request is invalid.
"""

from __future__ import annotations

import copy
import json
import numbers
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jsonschema

ValidationDetail = list[dict[str, Any]]
Check = Callable[[Any], bool]
MASK = "**********"
"""What a Secret shows instead of its value (as `str(cog.Secret(...))`)."""

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
# Types that pass their check whatever the value (a bool is no int here: its type is bool).
_EXACT: dict[str, frozenset[type]] = {
    "string": frozenset({str}),
    "integer": frozenset({int}),
    "number": frozenset({int, float}),
    "boolean": frozenset({bool}),
}
# Keywords that assert nothing (`format` does not without a format checker, and the validator
# is built without one); `x-` extensions are unknown keywords, which assert nothing either.
_ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "format", "readOnly", "writeOnly"}
    | {"deprecated", "$comment", "type", "nullable"}
)


def _simple_check(prop: Any) -> Check | None:
    """An exact check for a schema that only names a type, or an array of items that do;
    None for any other schema."""
    if not isinstance(prop, dict) or not isinstance(prop.get("type"), str):
        return None
    if any(key not in _ANNOTATIONS and not key.startswith("x-") for key in prop.keys() - {"items"}):
        return None
    if "items" not in prop:
        return _TYPES.get(prop["type"])
    if prop["type"] != "array" or (item := _simple_check(prop["items"])) is None:
        return None
    # jsonschema descends into every item (~4 µs each): a 512-number input cost ~2 ms of the
    # event loop per request, more than all the rest of the request together. Decoded JSON
    # holds exactly these types, so a set lookup settles nearly every item (3x the ABC check).
    exact = _EXACT.get(prop["items"]["type"], frozenset())
    return lambda value: (
        isinstance(value, list) and all(type(each) in exact or item(each) for each in value)
    )


class InputValidator:
    """Validates the `input` object of a request against one component (`Input`...)."""

    def __init__(self, schema: dict[str, Any], component: str) -> None:
        components = copy.deepcopy(schema.get("components", {}).get("schemas", {}))
        target = components.get(component) or components.get("Input") or {}
        self.properties: dict[str, Any] = target.get("properties", {})
        self.required: list[str] = target.get("required", [])
        self.root = {"components": {"schemas": components}}
        self.checks = {name: _simple_check(prop) for name, prop in self.properties.items()}
        self.secrets = frozenset(
            name for name, prop in self.properties.items() if _is_secret(prop, components)
        )
        self.validators: dict[str, jsonschema.Draft7Validator] = {}
        for name, check in self.checks.items():
            if check is None:  # compiled now, not on the first request
                self._validator(name)

    def _validator(self, name: str) -> jsonschema.Draft7Validator:
        validator = self.validators.get(name)
        if validator is None:
            import jsonschema

            prop = self.properties[name]
            validator = self.validators[name] = jsonschema.Draft7Validator({**self.root, **prop})
        return validator

    def validate(self, values: Any) -> tuple[dict[str, Any], ValidationDetail]:
        """The known inputs, and the errors (empty when valid)."""
        if not isinstance(values, dict):
            return {}, [not_an_object(values)]
        known = {name: value for name, value in values.items() if name in self.properties}
        errors: ValidationDetail = [
            {"loc": ["body", "input", name], "msg": "Field required", "type": "value_error.missing"}
            for name in self.required
            if name not in known
        ]
        found: ValidationDetail = []
        for name, value in known.items():
            check = self.checks[name]
            if check is not None and check(value):
                continue
            validator = self._validator(name)
            if validator.is_valid(value):
                continue
            secrets = _secret_strings(value) if name in self.secrets else ()
            for error in validator.iter_errors(value):
                message = _cog_message(error)
                for secret in secrets:  # as given, and as rendered (escaped) in a message
                    message = message.replace(secret, MASK)
                    message = message.replace(_render(secret)[1:-1], MASK)
                loc = "/".join([name, *(_pointer(part) for part in error.absolute_path)])
                found.append({"loc": ["body", "input", loc], "msg": message, "type": "value_error"})
        # Cog's validator goes through the inputs by name; each input's errors keep their order.
        found.sort(key=lambda error: error["loc"][2].split("/")[0])
        return known, errors + found

    def masked(self, values: dict[str, Any]) -> dict[str, Any]:
        """The inputs as the server shows them: each Secret as `**********`."""
        if not self.secrets or not self.secrets.intersection(values):
            return values
        return {
            name: _mask(value) if name in self.secrets else value for name, value in values.items()
        }


def not_an_object(value: Any) -> dict[str, Any]:
    """The error of an `input` that is not an object, located as Cog locates it."""
    message = f'{_render(value)} is not of type "object"'
    return {"loc": ["body", "input", "__root__"], "msg": message, "type": "value_error"}


def _is_secret(prop: Any, components: dict[str, Any]) -> bool:
    """A Secret input: `format: password` (or `x-cog-secret`), directly, optional, or as the
    items of a list."""
    if not isinstance(prop, dict):
        return False
    ref = prop.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        return _is_secret(components.get(ref.rsplit("/", 1)[1]), components)
    if prop.get("format") == "password" or prop.get("x-cog-secret"):
        return True
    members = [*prop.get("anyOf", []), *prop.get("allOf", []), *prop.get("oneOf", [])]
    if prop.get("type") == "array":
        members.append(prop.get("items"))
    return any(_is_secret(member, components) for member in members)


def _mask(value: Any) -> Any:
    if isinstance(value, list):
        return [_mask(item) for item in value]
    return MASK if isinstance(value, str) else value


def _secret_strings(value: Any) -> list[str]:
    """The plaintexts in a secret input's value, longest first (so none is left half-masked)."""
    found: list[str] = []
    if isinstance(value, str) and value:
        found.append(value)
    elif isinstance(value, list | dict):
        for item in value.values() if isinstance(value, dict) else value:
            found += _secret_strings(item)
    return sorted(set(found), key=len, reverse=True)


def _pointer(part: Any) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def _render(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _limit(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return _render(value)


def _characters(limit: Any) -> str:
    return f"{limit} character" + ("" if limit == 1 else "s")


def _cog_message(error: jsonschema.ValidationError) -> str:
    """The message Cog's validator gives for the common keywords; jsonschema's otherwise."""
    instance, limit = _render(error.instance), error.validator_value
    match error.validator:
        case "type" if isinstance(limit, str):
            return f'{instance} is not of type "{limit}"'
        case "maxLength":
            return f"{instance} is longer than {_characters(limit)}"
        case "minLength":
            return f"{instance} is shorter than {_characters(limit)}"
        case "pattern":
            return f"{instance} does not match {_render(limit)}"
        case "maximum":
            return f"{instance} is greater than the maximum of {_limit(limit)}"
        case "minimum":
            return f"{instance} is less than the minimum of {_limit(limit)}"
        case "exclusiveMaximum":
            return f"{instance} is greater than or equal to the maximum of {_limit(limit)}"
        case "exclusiveMinimum":
            return f"{instance} is less than or equal to the minimum of {_limit(limit)}"
        case "enum":
            return f"{instance} is not one of {_render(limit)}"
        case "anyOf":
            return f"{instance} is not valid under any of the schemas listed in the 'anyOf' keyword"
    return str(error.message)
