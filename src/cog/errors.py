"""Errors of the `cog` SDK.

    CogError                      every error pycog raises on purpose
    ├── ConfigDoesNotExist        no cog.yaml where one was expected
    ├── PredictorNotSet           cog.yaml names no predictor for the requested mode
    └── PredictorLoadError        a `file.py:Name` reference cannot be loaded
        ├── BadPredictorReference the reference is not of the form `file.py:Name`
        ├── PredictorFileNotFound the file it names does not exist
        └── PredictorNotFound     the file has no such attribute

Components keep their own errors beside their code (`cog.config.errors`, `cog.schema.errors`,
...), all rooted at `CogError`, so a caller can catch every domain error at one boundary.
"""

from __future__ import annotations


class CogError(Exception):
    """Base class of every error pycog raises on purpose; its message says what to do."""


class ConfigDoesNotExist(CogError):
    """Raised when a command needs a cog.yaml and there is none."""


class PredictorNotSet(CogError):
    """Raised when cog.yaml does not say which predictor (or trainer) to run."""


class PredictorLoadError(CogError):
    """Raised when a predictor reference cannot be turned into a predictor."""


class BadPredictorReference(PredictorLoadError):
    """Raised when a reference is not of the form `file.py:Name`."""


class PredictorFileNotFound(PredictorLoadError):
    """Raised when the file a reference names does not exist."""


class PredictorNotFound(PredictorLoadError):
    """Raised when the file exists but has no attribute of the name the reference gives."""
