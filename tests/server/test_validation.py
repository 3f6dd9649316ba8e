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
    reference = {"anyOf": [{**prop, "nullable": None}, {"type": "null"}]} if nullable else prop
    reference = {k: v for k, v in reference.items() if v is not None}
    assert (not errors) == jsonschema.Draft7Validator(reference).is_valid(value)


def test_a_refused_value_gets_jsonschemas_message():
    validator = InputValidator(_schema({"type": "number", "title": "V"}), "Input")
    _, errors = validator.validate({"v": "fast"})
    assert errors == [
        {
            "loc": ["body", "input", "v"],
            "msg": "'fast' is not of type 'number'",
            "type": "value_error",
        }
    ]


def test_schemas_with_constraints_use_jsonschema():
    validator = InputValidator(_schema({"type": "integer", "minimum": 3}), "Input")
    assert validator.checks["v"] is None
    assert validator.validate({"v": 2})[1][0]["msg"] == "2 is less than the minimum of 3"
    assert validator.validate({"v": 3})[1] == []
