"""`cog kubernetes` run as a real subprocess, its YAML parsed, and the schemas to check it by."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sysconfig
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

FIXTURES = Path(__file__).parent / "fixtures"
KEDA_SCHEMA = FIXTURES / "keda-v2.20.2-scaledobject.schema.yaml"
# The oldest and newest Kubernetes releases kubernetes-validate ships schemas for.
KUBERNETES_VERSIONS = (kubernetes_validate.utils.all_versions()[0], "1.37.0")


def cog_executable() -> str:
    """The `cog` console script of the Python running the tests (not whatever is on PATH)."""
    script = Path(sysconfig.get_path("scripts")) / "cog"
    return str(script) if script.exists() else (shutil.which("cog") or "cog")


def cog_kubernetes(*args: str, cwd: Path, env: dict[str, str] | None = None):
    return subprocess.run(
        [cog_executable(), "kubernetes", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
    )


def manifests(*args: str, cwd: Path, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    result = cog_kubernetes(*args, cwd=cwd, env=env)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc is not None]


def by_kind(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    kinds = [doc["kind"] for doc in documents]
    assert len(kinds) == len(set(kinds)), kinds
    return {doc["kind"]: doc for doc in documents}


def closed(schema: Any) -> Any:
    """The schema with unknown fields refused, as `kubectl apply --validate=strict` does for a
    CRD (the API server would otherwise drop a misspelt field silently)."""
    if isinstance(schema, dict):
        schema = {key: closed(value) for key, value in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    return schema


def keda_validator() -> jsonschema.protocols.Validator:
    schema = closed(yaml.safe_load(KEDA_SCHEMA.read_text()))
    return jsonschema.Draft7Validator(schema)


def validate(document: dict[str, Any]) -> None:
    """Raise when Kubernetes (or KEDA's CRD) would refuse the document."""
    if document["apiVersion"].startswith("keda.sh/"):
        keda_validator().validate(copy.deepcopy(document))
        return
    for version in KUBERNETES_VERSIONS:
        kubernetes_validate.validate(document, version, strict=True)
