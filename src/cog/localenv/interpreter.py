"""Finding a Python for cog.yaml's `build.python_version`: an installed one first, else one
uv downloads.

uv's own search gives up on the first broken candidate on PATH (a pyenv shim for a version
that is not active), so we look ourselves first: every `pythonX.Y` on PATH that actually runs
and reports that version, and the pyenv installs behind a pyenv shims folder on PATH (whose
`pythonX.Y` shim fails unless that version is the active one). Only when the machine has none
(Ubuntu 24.04 ships 3.12 alone, Debian 12 3.11) does uv fetch a managed build, bounded in time
so that a machine without internet gets the error at once; `UV_PYTHON_DOWNLOADS=never` (uv's
own setting) forbids the download.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ..runtime.lifeline import term_with_parent
from .errors import LocalEnvironmentError

PROBE_TIMEOUT_SECONDS = 10
DOWNLOAD_TIMEOUT_SECONDS = 600


def minor_version(version: str) -> str:
    """`3.11` from `3.11`, `3.11.4` or `3.11.4rc1`."""
    parts = version.strip().split(".")
    if len(parts) < 2 or not parts[0].isdigit() or not parts[1].isdigit():
        raise LocalEnvironmentError(
            f'build.python_version {version!r} is not major.minor: write e.g. "3.11"'
        )
    return f"{parts[0]}.{parts[1]}"


def find_interpreter(version: str, uv: str | None = None) -> Path:
    """An interpreter of `version`'s major.minor: an installed one, else (given `uv`) one uv
    has or downloads; otherwise an error saying what to do."""
    minor = minor_version(version)
    for candidate in _candidates(minor):
        if _reports(candidate, minor):
            return candidate
    reason: str | None = "no uv to download it with"
    if uv is not None:
        managed = _uv_managed(uv, minor)
        if managed is not None:
            return managed
        reason = _uv_download(uv, minor)
        managed = _uv_managed(uv, minor) if reason is None else None
        if managed is not None:
            return managed
    raise LocalEnvironmentError(
        f"Python {minor} (build.python_version in cog.yaml) is not installed on this machine "
        f"and could not be downloaded ({reason}): install it (e.g. `uv python install {minor}` "
        f"or your system's python{minor} package), or set build.python_version to an "
        f'installed one such as "{_running()}"'
    )


def _uv_managed(uv: str, minor: str) -> Path | None:
    """A Python of that minor that uv has already downloaded."""
    command = [uv, "python", "find", "--python-preference", "only-managed", minor]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=PROBE_TIMEOUT_SECONDS
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = Path(result.stdout.strip())
    if result.returncode != 0 or not found.is_file() or not _reports(found, minor):
        return None
    return found


def _uv_download(uv: str, minor: str) -> str | None:
    """Download a managed Python with uv: None when done, else why not (one line)."""
    if os.environ.get("UV_PYTHON_DOWNLOADS", "").lower() in ("never", "manual"):
        return "UV_PYTHON_DOWNLOADS forbids downloads"
    try:
        result = subprocess.run(
            [uv, "python", "install", minor],
            capture_output=True,
            text=True,
            timeout=DOWNLOAD_TIMEOUT_SECONDS,
            preexec_fn=term_with_parent,
        )
    except subprocess.TimeoutExpired:
        return f"uv python install {minor} took over {DOWNLOAD_TIMEOUT_SECONDS} s"
    except OSError as exc:
        return f"uv could not run: {exc}"
    if result.returncode == 0:
        return None
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    return f"uv python install {minor}: {lines[-1] if lines else 'failed'}"


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
