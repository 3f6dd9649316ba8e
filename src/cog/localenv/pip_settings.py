"""The user's pip configuration (`pip config list`), as uv options.

Users behind mirrors configure pip, not uv; an environment built without their indexes,
find-links folders and constraints would fetch different packages (on these machines: a CUDA
torch of several GB instead of the CPU wheel in the find-links folder).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class PipSettings:
    """The pip options that change which packages are installed."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()
    cert: str | None = None
    """The CA bundle pip trusts (carried into image builds)."""

    def uv_args(self) -> list[str]:
        """The same settings as `uv pip install` options."""
        args: list[str] = []
        if self.index_url:
            args += ["--index-url", self.index_url]
        for url in self.extra_index_urls:
            args += ["--extra-index-url", url]
        for location in self.find_links:
            args += ["--find-links", location]
        for path in self.constraints:
            args += ["--constraint", path]
        if self.extra_index_urls:
            # pip picks the best version across all its indexes; uv, by default, only looks at
            # the first index that has a package at all.
            args += ["--index-strategy", "unsafe-best-match"]
        return args


def read_pip_settings() -> PipSettings:
    """Read pip's configuration (files and PIP_* variables) as pip itself resolves it."""
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return PipSettings()
    return parse_pip_config_list(result.stdout)


def parse_pip_config_list(text: str) -> PipSettings:
    """Parse `pip config list` output (`global.find-links='/opt/wheels'` lines)."""
    values: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        option = key.rsplit(".", 1)[-1]
        for item in value.strip().strip("'\"").split():
            if item not in values.setdefault(option, []):
                values[option].append(item)
    index = values.get("index-url", [])
    cert = values.get("cert", [])
    return PipSettings(
        cert=cert[0] if cert else None,
        index_url=index[0] if index else None,
        extra_index_urls=tuple(values.get("extra-index-url", [])),
        find_links=tuple(values.get("find-links", [])),
        constraints=tuple(values.get("constraint", [])),
    )
