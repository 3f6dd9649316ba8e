"""The labels that make an image self-describing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from .._version import __version__
from ..config.model import Config

LABEL_VERSION = "run.cog.version"
LABEL_CONFIG = "run.cog.config"
LABEL_SCHEMA = "run.cog.openapi_schema"
LABEL_HAS_INIT = "run.cog.has_init"
LABEL_PIP_FREEZE = "run.cog.pip_freeze"
LABEL_BASE_IMAGE = "run.cog.cog-base-image-name"
LABEL_REVISION = "org.opencontainers.image.revision"
LABEL_OCI_VERSION = "org.opencontainers.image.version"


def image_labels(
    config: Config, schema: dict[str, Any], base_image: str | None = None
) -> dict[str, str]:
    """Labels for a model image: pycog version, config, schema, and OCI source labels."""
    labels = {
        LABEL_VERSION: __version__,
        LABEL_CONFIG: json.dumps(config_document(config), sort_keys=True),
        LABEL_SCHEMA: json.dumps(schema, sort_keys=True),
        LABEL_HAS_INIT: "true",
    }
    if base_image:
        labels[LABEL_BASE_IMAGE] = base_image
    labels.update(_git_labels(config.project_dir))
    return labels


def config_document(config: Config) -> dict[str, Any]:
    """The effective config as JSON: the file's document with the concurrency that applies."""
    document = dict(config.raw)
    if config.concurrency_max is not None:
        document["concurrency"] = {"max": config.concurrency_max}
    return document


def _git(project_dir: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], cwd=project_dir, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else None


def _git_labels(project_dir: Path) -> dict[str, str]:
    labels = {}
    revision = _git(project_dir, "rev-parse", "HEAD")
    if revision:
        dirty = _git(project_dir, "status", "--porcelain")
        labels[LABEL_REVISION] = revision + ("-dirty" if dirty else "")
        tag = _git(project_dir, "describe", "--tags", "--exact-match")
        if tag:
            labels[LABEL_OCI_VERSION] = tag
    return labels
