"""The Kubernetes ready file: written once, by the first health check that finds the model
READY, so a readiness probe can be a plain file test (`test -f /var/run/cog/ready`)."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("cog.server")


class ReadyFile:
    """Marks readiness on disk at `path` (None, not under Kubernetes: a no-op)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.written = False

    def mark(self) -> None:
        if self.path is None or self.written:
            return
        self.written = True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch()
        except OSError as exc:
            log.warning("could not write the ready file %s: %s", self.path, exc)
