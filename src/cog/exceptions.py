"""Exceptions user code may see while a prediction runs."""

from __future__ import annotations


class CancelationException(BaseException):
    """Raised inside a running synchronous `run()`/`predict()` when its prediction is canceled.

    It derives from BaseException so that `except Exception:` in user code does not swallow
    it; code that catches it must re-raise it.
    """
