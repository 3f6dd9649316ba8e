"""Finding an installed Python for cog.yaml's `build.python_version`, never downloading one.

uv would fetch a managed Python when none matches (gigabytes over a mirror that may not have
it, or a hang without internet), and it gives up on the first broken candidate on PATH (a
pyenv shim for a version that is not active). We look ourselves: every `pythonX.Y` on PATH
that actually runs and reports that version, and the pyenv installs behind a pyenv shims
folder on PATH (whose `pythonX.Y` shim fails unless that version is the active one).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .errors import LocalEnvironmentError

PROBE_TIMEOUT_SECONDS = 10


def minor_version(version: str) -> str:
    """`3.11` from `3.11`, `3.11.4` or `3.11.4rc1`."""
    parts = version.strip().split(".")
    if len(parts) < 2 or not parts[0].isdigit() or not parts[1].isdigit():
        raise LocalEnvironmentError(
            f'build.python_version {version!r} is not major.minor: write e.g. "3.11"'
        )
    return f"{parts[0]}.{parts[1]}"


def find_interpreter(version: str) -> Path:
    """An installed interpreter of `version`'s major.minor, or an error saying what to do."""
    minor = minor_version(version)
    for candidate in _candidates(minor):
        if _reports(candidate, minor):
            return candidate
    raise LocalEnvironmentError(
        f"Python {minor} (build.python_version in cog.yaml) is not installed on this machine, "
        f"and pycog does not download interpreters: install it (e.g. `uv python install "
        f"{minor}` or your system's python{minor} package), or set build.python_version to an "
        f'installed one such as "{_running()}"'
    )


def _running() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _candidates(minor: str) -> list[Path]:
    found: list[Path] = []
    if _running() == minor:
        # The interpreter behind this pycog (its base, not a virtualenv's copy).
        found.append(Path(getattr(sys, "_base_executable", sys.executable)))
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        paths = [Path(folder or ".") / f"python{minor}", *_pyenv_installs(Path(folder), minor)]
        for path in paths:
            if path.is_file() and os.access(path, os.X_OK) and path not in found:
                found.append(path)
    return found


def _pyenv_installs(folder: Path, minor: str) -> list[Path]:
    """`<root>/versions/X.Y.Z/bin/pythonX.Y` when `folder` is pyenv's `<root>/shims`, newest
    patch first (only CPython builds: `3.10.13`, not `3.10-dev` or `pypy3.10-…`)."""
    versions = folder.parent / "versions"
    if folder.name != "shims" or not versions.is_dir():
        return []
    patches = []
    for install in versions.iterdir():
        major_minor, _, patch = install.name.rpartition(".")
        if major_minor == minor and patch.isdigit():
            patches.append((int(patch), install / "bin" / f"python{minor}"))
    return [path for _, path in sorted(patches, reverse=True)]


def _reports(candidate: Path, minor: str) -> bool:
    """Whether the candidate runs and is that version (pyenv shims may exist but fail)."""
    code = "import sys; print('%d.%d' % sys.version_info[:2])"
    try:
        result = subprocess.run(
            [str(candidate), "-c", code],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_SECONDS,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and result.stdout.strip() == minor
