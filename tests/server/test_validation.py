"""Input validation: the isinstance checks for simple schemas agree with jsonschema."""

from __future__ import annotations

import itertools
from typing import Any

import jsonschema
import pytest

from cog.server.validation import InputValidator

TYPES = ("string", "integer", "number", "boolean", "array", "object")
VALUES: list[Any] = [
    "x", "", "1", 0, 1, -7, 10**30, 1.0, 1.5, -0.0, float("inf"), True, False, None,
    [], [1, "a"], {}, {"a": 1},
]  # fmt: skip


def _schema(prop: dict[str, Any]) -> dict[str, Any]:
    return {"components": {"schemas": {"Input": {"type": "object", "properties": {"v": prop}}}}}


@pytest.mark.parametrize(
    ("kind", "nullable", "value"), list(itertools.product(TYPES, (False, True), VALUES))
)
def test_simple_schemas_accept_exactly_what_jsonschema_accepts(kind, nullable, value):
    prop: dict[str, Any] = {"type": kind, "title": "V", "x-order": 0, "format": "uri"}
    if nullable:
        prop["nullable"] = True
    validator = InputValidator(_schema(prop), "Input")
    assert validator.checks["v"] is not None  # the fast path is what is under test
    _, errors = validator.validate({"v": value})
    # `nullable` is no JSON Schema keyword: null is refused with it too, as Cog refuses it.
    assert (not errors) == jsonschema.Draft7Validator(prop).is_valid(value)


def test_a_refused_value_gets_cogs_message():
    validator = InputValidator(_schema({"type": "number", "title": "V"}), "Input")
    _, errors = validator.validate({"v": "fast"})
    assert errors == [
        {
            "loc": ["body", "input", "v"],
            "msg": '"fast" is not of type "number"',
            "type": "value_error",
        }
    ]


def test_every_error_of_an_input_is_reported():
    prop = {"type": "string", "maxLength": 3, "pattern": "^[a-z]+$"}
    _, errors = InputValidator(_schema(prop), "Input").validate({"v": "ABCDE"})
    assert [error["msg"] for error in errors] == [
        '"ABCDE" is longer than 3 characters',
        '"ABCDE" does not match "^[a-z]+$"',
    ]


def test_list_items_are_located_as_cog_locates_them():
    prop = {"type": "array", "items": {"type": "string"}}
    _, errors = InputValidator(_schema(prop), "Input").validate({"v": ["a", 5, "b", None]})
    assert [error["loc"] for error in errors] == [
        ["body", "input", "v/1"],
        ["body", "input", "v/3"],
    ]
    assert errors[1]["msg"] == 'null is not of type "string"'


def test_a_nullable_input_reports_the_errors_of_its_type():
    prop = {"type": "integer", "maximum": 5.0, "nullable": True}
    _, errors = InputValidator(_schema(prop), "Input").validate({"v": 9})
    assert [error["msg"] for error in errors] == ["9 is greater than the maximum of 5"]


SECRET = {"type": "string", "format": "password", "writeOnly": True, "x-cog-secret": True}


def test_secrets_are_masked_in_the_shown_input_and_in_messages():
    schema = _schema(SECRET)
    properties = schema["components"]["schemas"]["Input"]["properties"]
    properties["keys"] = {"type": "array", "items": SECRET}
    properties["plain"] = {"type": "string"}
    validator = InputValidator(schema, "Input")
    values = {"v": "hunter2", "keys": ["k-1", "k-2"], "plain": "shown"}
    known, errors = validator.validate(values)
    assert errors == []
    assert known == values  # the model gets the plaintext
    assert validator.masked(known) == {
        "v": "**********",
        "keys": ["**********", "**********"],
        "plain": "shown",
    }
    _, errors = validator.validate({"v": ['hun"ter2']})
    assert "hun" not in errors[0]["msg"]
    assert errors[0]["msg"] == '["**********"] is not of type "string"'


def test_schemas_with_constraints_use_jsonschema():
    validator = InputValidator(_schema({"type": "integer", "minimum": 3}), "Input")
    assert validator.checks["v"] is None
    assert validator.validate({"v": 2})[1][0]["msg"] == "2 is less than the minimum of 3"
    assert validator.validate({"v": 3})[1] == []


ITEMS = ("string", "integer", "number", "boolean")


@pytest.mark.parametrize(("kind", "value"), list(itertools.product(ITEMS, VALUES)))
def test_lists_of_simple_items_accept_exactly_what_jsonschema_accepts(kind, value):
    for prop, candidate in (
        ({"type": "array", "title": "V", "items": {"type": kind}}, [value, value]),
        ({"type": "array", "items": {"type": "array", "items": {"type": kind}}}, [[value], []]),
        ({"type": "array", "items": {"type": kind}}, value),  # not a list at all
    ):
        validator = InputValidator(_schema(prop), "Input")
        assert validator.checks["v"] is not None  # the fast path is what is under test
        _, errors = validator.validate({"v": candidate})
        assert (not errors) == jsonschema.Draft7Validator(prop).is_valid(candidate)


def test_lists_with_constraints_use_jsonschema():
    for prop in (
        {"type": "array", "items": {"type": "integer", "minimum": 3}},
        {"type": "array", "items": {"type": "integer"}, "maxItems": 1},
        {"type": "array", "items": [{"type": "integer"}]},
        {"type": "string", "items": {"type": "integer"}},
    ):
        assert InputValidator(_schema(prop), "Input").checks["v"] is None
