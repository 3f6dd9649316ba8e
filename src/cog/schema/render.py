"""IR → Cog's OpenAPI 3.0.2 document, serialised byte for byte as Cog writes it.

Cog's generator keeps insertion order only for paths, components and properties; every other
object is written with sorted keys, integral floats without a fraction, and `<`, `>`, `&`
escaped (Go's encoding/json). `Ordered` marks the dicts whose order is kept.
"""

from __future__ import annotations

import json
from typing import Any

from .._decorators import STREAMING_KEY
from .._version import __version__
from .ir import PRIMITIVE_JSON, InputField, InputType, OutputType, PredictorInfo
from .types import MISSING

RESPONSE_ANY = {
    "description": "Successful Response",
    "content": {"application/json": {"schema": {}}},
}
VALIDATION_ERROR = {
    "description": "Validation Error",
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
    },
}


class Ordered(dict[str, Any]):
    """A JSON object whose key order is part of the output."""


def title_case(name: str) -> str:
    return " ".join(part[:1].upper() + part[1:] for part in name.split("_"))


# -- inputs --------------------------------------------------------------------------------


def _input_json(kind: InputType) -> dict[str, Any]:
    if kind.kind == "array":
        schema: dict[str, Any] = {"type": "array", "items": dict(PRIMITIVE_JSON[kind.primitive])}
    elif kind.kind == "union":
        variants = []
        for variant in kind.variants:
            fragment = _input_json(variant)
            if kind.nullable:
                fragment["nullable"] = True
            variants.append(fragment)
        schema = {"anyOf": variants}
    else:
        schema = dict(PRIMITIVE_JSON[kind.primitive])
    if kind.nullable:
        schema["nullable"] = True
    return schema


def _input_schema(
    fields: tuple[InputField, ...],
) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    properties = Ordered()
    required: list[str] = []
    enums: list[tuple[str, dict[str, Any]]] = []
    for field in fields:
        prop: dict[str, Any] = {"x-order": field.order}
        if field.choices:
            enum_type = "integer" if field.type.primitive == "int" else "string"
            enums.append(
                (
                    field.name,
                    {
                        "title": field.name,
                        "description": "An enumeration.",
                        "enum": list(field.choices),
                        "type": enum_type,
                    },
                )
            )
            prop["allOf"] = [{"$ref": f"#/components/schemas/{field.name}"}]
        else:
            prop["title"] = title_case(field.name)
            prop.update(_input_json(field.type))
        nullable = field.type.nullable
        if (
            field.type.primitive == "Secret"
            and field.type.kind == "primitive"
            and field.default is None
        ):
            nullable = True
        has_default = field.default is not MISSING and not (field.default is None and not nullable)
        if not has_default and (field.type.kind == "union" or not field.type.nullable):
            required.append(field.name)
        if has_default:
            prop["default"] = field.default
        if nullable:
            prop["nullable"] = True
        _copy_metadata(field, prop)
        properties[field.name] = prop
    schema: dict[str, Any] = {"title": "Input", "type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema, enums


def _copy_metadata(field: InputField, prop: dict[str, Any]) -> None:
    if field.description is not None:
        prop["description"] = field.description
    pairs = (
        ("minimum", field.ge),
        ("maximum", field.le),
        ("minLength", field.min_length),
        ("maxLength", field.max_length),
        ("pattern", field.regex),
    )
    for key, value in pairs:
        if value is not None:
            prop[key] = value
    if field.deprecated:
        prop["deprecated"] = True
    if field.accept is not None:
        prop["x-cog-accept"] = field.accept


# -- outputs -------------------------------------------------------------------------------


def output_json(kind: OutputType, top: bool = True) -> dict[str, Any]:
    schema = _output_core(kind)
    if top:
        schema["title"] = "Output"
    if kind.nullable:
        schema["nullable"] = True
    return schema


def _output_core(kind: OutputType) -> dict[str, Any]:
    items = output_json(kind.items, False) if kind.items is not None else {"type": "object"}
    if kind.kind == "primitive":
        return dict(PRIMITIVE_JSON[kind.primitive])
    if kind.kind == "any":
        return {"type": "object"}
    if kind.kind == "array":
        return {"type": "array", "items": items}
    if kind.kind == "dict":
        return {"type": "object", "additionalProperties": items}
    if kind.kind == "iterator":
        return {"type": "array", "items": items, "x-cog-array-type": "iterator"}
    if kind.kind == "concatenate":
        return {
            "type": "array",
            "items": items,
            "x-cog-array-type": "iterator",
            "x-cog-array-display": "concatenate",
        }
    properties = Ordered()
    required = []
    for field in kind.fields:
        prop = output_json(field.type, False)
        prop["title"] = title_case(field.name)
        if field.required and field.default is MISSING:
            required.append(field.name)
        properties[field.name] = prop
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


# -- the document --------------------------------------------------------------------------


def _names(mode: str) -> dict[str, str]:
    if mode == "train":
        return {
            "endpoint": "/trainings", "request": "TrainingRequest", "response": "TrainingResponse",
            "cancel": "/trainings/{training_id}/cancel", "summary": "Train",
            "description": "Run a single training on the model", "operation": "train_trainings_post",
            "cancel_operation": "cancel_trainings__training_id__cancel_post",
            "param": "training_id", "input": "TrainingInput", "output": "TrainingOutput",
        }  # fmt: skip
    return {
        "endpoint": "/predictions", "request": "PredictionRequest", "response": "PredictionResponse",
        "cancel": "/predictions/{prediction_id}/cancel", "summary": "Predict",
        "description": "Run a single prediction on the model", "operation": "predict_predictions_post",
        "cancel_operation": "cancel_predictions__prediction_id__cancel_post",
        "param": "prediction_id", "input": "Input", "output": "Output",
    }  # fmt: skip


def build_document(info: PredictorInfo) -> dict[str, Any]:
    names = _names(info.mode)
    input_schema, enums = _input_schema(info.inputs)
    input_schema["title"] = names["input"]
    components = Ordered()
    components[names["input"]] = input_schema
    components[names["output"]] = output_json(info.output)
    for name, schema in enums:
        components[name] = schema
    input_ref = f"#/components/schemas/{names['input']}"
    components[names["request"]] = {
        "title": names["request"],
        "type": "object",
        "properties": {"id": {"title": "Id", "type": "string"}, "input": {"$ref": input_ref}},
    }
    components[names["response"]] = {
        "title": names["response"],
        "type": "object",
        "properties": {
            "input": {"$ref": input_ref},
            "output": {"$ref": f"#/components/schemas/{names['output']}"},
            "id": {"title": "Id", "type": "string"},
            "version": {"title": "Version", "type": "string"},
            "created_at": {"title": "Created At", "type": "string", "format": "date-time"},
            "started_at": {"title": "Started At", "type": "string", "format": "date-time"},
            "completed_at": {"title": "Completed At", "type": "string", "format": "date-time"},
            "status": {"title": "Status", "type": "string"},
            "error": {"title": "Error", "type": "string"},
            "logs": {"title": "Logs", "type": "string"},
            "metrics": {"title": "Metrics", "type": "object"},
        },
    }
    components["Status"] = {
        "title": "Status",
        "description": "An enumeration.",
        "enum": ["starting", "processing", "succeeded", "canceled", "failed"],
        "type": "string",
    }
    components["HTTPValidationError"] = {
        "title": "HTTPValidationError",
        "type": "object",
        "properties": {
            "detail": {
                "title": "Detail",
                "type": "array",
                "items": {"$ref": "#/components/schemas/ValidationError"},
            }
        },
    }
    components["ValidationError"] = {
        "title": "ValidationError",
        "required": ["loc", "msg", "type"],
        "type": "object",
        "properties": {
            "loc": {
                "title": "Location",
                "type": "array",
                "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            },
            "msg": {"title": "Message", "type": "string"},
            "type": {"title": "Error Type", "type": "string"},
        },
    }
    return {
        "openapi": "3.0.2",
        "info": {"title": "Cog", "version": __version__},
        "paths": _paths(info, names),
        "components": {"schemas": components},
    }


def _paths(info: PredictorInfo, names: dict[str, str]) -> Ordered:
    paths = Ordered()
    paths["/"] = {
        "get": {"summary": "Root", "operationId": "root__get", "responses": {"200": RESPONSE_ANY}}
    }
    paths["/health-check"] = {
        "get": {
            "summary": "Healthcheck",
            "operationId": "healthcheck_health_check_get",
            "responses": {"200": RESPONSE_ANY},
        }
    }
    main: dict[str, Any] = {
        "summary": names["summary"],
        "description": names["description"],
        "operationId": names["operation"],
        "requestBody": {
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{names['request']}"}}
            }
        },
        "responses": {
            "200": {
                "description": "Successful Response",
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{names['response']}"}
                    }
                },
            },
            "422": VALIDATION_ERROR,
        },
    }
    if info.mode != "train" and info.streaming:
        main[STREAMING_KEY] = True
    paths[names["endpoint"]] = {"post": main}
    param = names["param"]
    paths[names["cancel"]] = {
        "post": {
            "summary": "Cancel",
            "operationId": names["cancel_operation"],
            "parameters": [
                {
                    "required": True,
                    "schema": {"title": title_case(param), "type": "string"},
                    "name": param,
                    "in": "path",
                }
            ],
            "responses": {"200": RESPONSE_ANY, "422": VALIDATION_ERROR},
        }
    }
    return paths


def merge_documents(predict: dict[str, Any], train: dict[str, Any]) -> dict[str, Any]:
    """One document serving both predictions and trainings."""
    merged = dict(predict)
    paths = Ordered(predict["paths"])
    paths.update((key, value) for key, value in train["paths"].items() if key not in paths)
    components = Ordered(predict["components"]["schemas"])
    components.update(
        (key, value)
        for key, value in train["components"]["schemas"].items()
        if key not in components
    )
    merged["paths"] = paths
    merged["components"] = {"schemas": components}
    return merged


# -- serialisation -------------------------------------------------------------------------


def _canonical(value: Any) -> Any:
    if isinstance(value, Ordered):
        return Ordered((key, _canonical(item)) for key, item in value.items())
    if isinstance(value, dict):
        return {key: _canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


def canonical(document: dict[str, Any]) -> dict[str, Any]:
    """The document as plain dicts in Cog's key order (what `json.loads` of Cog's file gives)."""
    result: dict[str, Any] = _canonical(document)
    return result


def dumps(document: dict[str, Any]) -> str:
    """Compact JSON, as Cog writes `.cog/openapi_schema.json`."""
    text = json.dumps(_canonical(document), separators=(",", ":"), ensure_ascii=False)
    for char, escape in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text
