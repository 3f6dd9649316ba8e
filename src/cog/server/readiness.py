"""The Kubernetes ready file: written once, by the first health check that finds the model
READY, so a readiness probe can be a plain file test (`test -f /var/run/cog/ready`)."""

from __future__ import annotations

import logging
from pathlib import Path

from .. import envvars

log = logging.getLogger("cog.server")


class ReadyFile:
    """Marks readiness on disk when running under Kubernetes; a no-op elsewhere."""

    def __init__(self) -> None:
        self.enabled = envvars.KUBERNETES_SERVICE_HOST.get() is not None
        self.path = Path(envvars.READY_FILE.get() or "/var/run/cog/ready")
        self.written = False

    def mark(self) -> None:
        if not self.enabled or self.written:
            return
        self.written = True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch()
        except OSError as exc:
            log.warning("could not write the ready file %s: %s", self.path, exc)
