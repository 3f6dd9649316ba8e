"""Errors of the local environment.

CogError
└── LocalEnvironmentError   the model's virtualenv could not be built
"""

from __future__ import annotations

from ..errors import CogError


class LocalEnvironmentError(CogError):
    """Raised when building the model's virtualenv fails; the message has the failing step's
    output and what to change."""
