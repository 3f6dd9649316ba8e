"""Errors of `cog kubernetes`: settings that would give manifests Kubernetes refuses or that
cannot work."""

from __future__ import annotations

from ..errors import CogError


class ManifestError(CogError):
    """The requested manifests cannot be made as asked; the message says which setting to change."""
