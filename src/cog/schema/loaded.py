"""The runtime reading of a project: import its predictor, then read it."""

from __future__ import annotations

from pathlib import Path

from ..predictor import load_predictor_class
from .ir import PredictorInfo
from .runtime import read_predictor


def read_reference(project_dir: Path, ref: str, mode: str) -> PredictorInfo:
    return read_predictor(load_predictor_class(ref, project_dir), mode)
