"""The OpenAPI schema of a predictor, read from the loaded predictor or from its source.

types      TypeNode: annotations as both readers describe them
ir         the schema IR (inputs, output, predictor info)
resolve    TypeNodes → IR, and the rules inputs follow
runtime    reading a loaded predictor
static     reading the source with `ast` (what `cog build` uses)
render     IR → Cog's OpenAPI document, serialised as Cog writes it
errors     SchemaError
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import SchemaError
from .ir import PredictorInfo
from .render import build_document, canonical, dumps, merge_documents
from .runtime import read_predictor

if TYPE_CHECKING:  # only a type here: the worker reads schemas without cog.yaml's machinery
    from ..config import Config

__all__ = [
    "PredictorInfo",
    "SchemaError",
    "dumps",
    "generate_schema",
    "read_predictor",
    "schema_for_predictors",
]


def document_for(predict: PredictorInfo | None, train: PredictorInfo | None) -> dict[str, Any]:
    """The document for a predictor and/or trainer (merged when both are given)."""
    documents = [build_document(info) for info in (predict, train) if info is not None]
    if not documents:
        raise SchemaError(
            "no predict or train reference found in cog.yaml: add e.g. "
            "`run: predict.py:Predictor` (or the older `predict:`)"
        )
    document = merge_documents(*documents) if len(documents) == 2 else documents[0]
    return canonical(document)


def schema_for_predictors(predict: Any | None, train: Any | None) -> dict[str, Any]:
    """The document for already-loaded predictor objects (what the server worker uses)."""
    return document_for(
        read_predictor(predict, "predict") if predict is not None else None,
        read_predictor(train, "train") if train is not None else None,
    )


def generate_schema(project_dir: Path, config: Config, *, static: bool = False) -> dict[str, Any]:
    """The project's document: from source with `ast` (static) or by importing the model.

    The runtime reading also reads the source first and refuses what the static reading
    refuses, so that a model that works locally never fails later at `cog build`.
    """
    from . import loaded
    from . import static as source

    static_document = _read_project(source.read_reference, project_dir, config)
    if static:
        return static_document
    return _read_project(loaded.read_reference, project_dir, config)


def _read_project(read: Any, project_dir: Path, config: Config) -> dict[str, Any]:
    predict = read(project_dir, config.predict, "predict") if config.predict else None
    train = read(project_dir, config.train, "train") if config.train else None
    return document_for(predict, train)
