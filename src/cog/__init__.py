"""Cog SDK: define a machine learning model with standard Python.

Example::

    from cog import BaseRunner, Input, Path

    class Runner(BaseRunner):
        def setup(self) -> None:
            self.model = load_model()

        def run(self, image: Path = Input(description="Image to caption")) -> str:
            return self.model.caption(image)

`import cog` is light and has no side effects: the server, CLI, schema and weights components
are imported only by the code that uses them.
"""

from __future__ import annotations

import sys as _sys
from typing import Any as _Any

from ._decorators import concurrent, streaming
from ._opaque import Opaque
from ._version import __version__
from .batching import batch
from .exceptions import CancelationException
from .input import FieldInfo, Input
from .model import BaseModel
from .predictor import BasePredictor, BaseRunner
from .scope import current_scope
from .types import (
    AsyncConcatenateIterator,
    ConcatenateIterator,
    File,
    Path,
    Secret,
    URLFile,
    URLPath,
)

__all__ = [
    "AsyncConcatenateIterator",
    "BaseModel",
    "BasePredictor",
    "BaseRunner",
    "CancelationException",
    "ConcatenateIterator",
    "ExperimentalFeatureWarning",
    "FieldInfo",
    "File",
    "Input",
    "Opaque",
    "Path",
    "Secret",
    "URLFile",
    "URLPath",
    "__version__",
    "batch",
    "concurrent",
    "current_scope",
    "emit_metric",
    "streaming",
]


class _ExperimentalFeatureWarning(FutureWarning):
    """Kept so that old models importing it still load; Cog no longer emits it."""


def _emit_metric(name: str, value: _Any) -> None:
    """Deprecated: use `current_scope().record_metric(name, value)`."""
    current_scope().record_metric(name, value)


_DEPRECATED = {
    "ExperimentalFeatureWarning": (
        _ExperimentalFeatureWarning,
        "cog: ExperimentalFeatureWarning is deprecated; remove it from your imports and "
        "warnings filters.",
    ),
    "emit_metric": (
        _emit_metric,
        "cog: emit_metric() is deprecated; use current_scope().record_metric(name, value).",
    ),
}


def __getattr__(name: str) -> _Any:
    # Deprecated names are served on first use, with one notice on stderr (not a warning, so
    # that a warnings filter cannot hide it), then cached as ordinary attributes.
    if name in _DEPRECATED:
        value, notice = _DEPRECATED[name]
        print(notice, file=_sys.stderr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'cog' has no attribute {name!r}")
