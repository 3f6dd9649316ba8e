"""Errors of the worker that runs the model.

CogError
└── WorkerError            the worker cannot run the model as asked; the message says why
    ├── InputValueError    an input value the predictor cannot take (also a ValueError)
    ├── SchemaUnreadable   the served predictor's schema cannot be read
    ├── FrameTooLarge      a message on the worker channel is larger than a frame may be
    │                      (also a ValueError)
    └── TracingSetupError  tracing is on but cannot be set up as configured (an exporter
                           that is not installed, a bad observability.config file)

Where an error is also a ValueError, code that caught it as one keeps working.
"""

from __future__ import annotations

from ..errors import CogError


class WorkerError(CogError):
    """Base of the worker's own errors."""


class InputValueError(WorkerError, ValueError):
    """An input value the predictor cannot take; the message names the input."""


class SchemaUnreadable(WorkerError):
    """The served predictor's schema cannot be read."""


class FrameTooLarge(WorkerError, ValueError):
    """A worker-channel frame announces more bytes than a frame may carry."""


class TracingSetupError(WorkerError):
    """Tracing is on, and its provider cannot be made as configured."""
