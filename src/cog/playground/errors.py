"""Errors of the playground.

CogError
└── PlaygroundError           the playground cannot be served
    └── PortUnavailable       its port is taken or cannot be bound
"""

from __future__ import annotations

from ..errors import CogError


class PlaygroundError(CogError):
    """Raised when the playground cannot be served."""


class PortUnavailable(PlaygroundError):
    """Raised when the playground's address cannot be bound (the port is in use, say)."""
