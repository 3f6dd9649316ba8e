"""Errors of schema reading.

CogError
└── SchemaError   a predictor's signature cannot be described (names the parameter and why)
"""

from __future__ import annotations

from ..errors import CogError


class SchemaError(CogError):
    """Raised when a signature uses something Cog cannot describe or refuses at build time."""
