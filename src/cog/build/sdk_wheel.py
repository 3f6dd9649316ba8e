"""The pycog wheel installed into images: built from this checkout, or given by the user.

`COG_SDK_WHEEL=/path/to/pycog-….whl` names a wheel to use as is. Otherwise pycog must be
running from a source checkout (an editable install); the wheel is built with `pip wheel` and
cached under the pycog cache directory, keyed by a digest of the package sources, so repeated
builds reuse it and a source change produces a new one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .. import envvars
from .errors import SdkWheelError


def cache_dir() -> Path:
    """pycog's cache root (`COG_CACHE_DIR`, else `$XDG_CACHE_HOME/pycog`, else ~/.cache)."""
    configured = envvars.CACHE_DIR.get()
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "pycog"


def source_checkout() -> Path | None:
    """The checkout pycog runs from, if it runs from one (src layout, pyproject beside)."""
    package = Path(__file__).resolve().parent.parent
    root = package.parent.parent
    pyproject = root / "pyproject.toml"
    if (
        package.parent.name == "src"
        and pyproject.is_file()
        and 'name = "pycog"' in (pyproject.read_text())
    ):
        return root
    return None


def _sources_digest(root: Path) -> str:
    digest = hashlib.sha256()
    files = [root / "pyproject.toml"] + sorted((root / "src" / "cog").rglob("*"))
    for path in files:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def sdk_wheel() -> Path:
    """Path of the pycog wheel to install into an image (built on first use)."""
    given = envvars.SDK_WHEEL.get()
    if given:
        path = Path(given).expanduser()
        if not (path.is_file() and path.suffix == ".whl"):
            raise SdkWheelError(f"COG_SDK_WHEEL={given!r} is not a wheel file; point it at a .whl.")
        return path
    root = source_checkout()
    if root is None:
        raise SdkWheelError(
            "pycog is not running from a source checkout, so it cannot build its own wheel for "
            "the image; set COG_SDK_WHEEL to the path of a pycog .whl file."
        )
    target = cache_dir() / "sdk-wheels" / _sources_digest(root)
    existing = sorted(target.glob("pycog-*.whl"))
    if existing:
        return existing[-1]
    return _build_wheel(root, target)


def _build_wheel(root: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=target.parent))
    try:
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(scratch)]
        result = subprocess.run([*command, str(root)], capture_output=True, text=True, timeout=300)
        if result.returncode != 0 or not list(scratch.glob("pycog-*.whl")):
            raise SdkWheelError(
                f"Building the pycog wheel from {root} failed:\n{result.stderr[-2000:]}"
            )
        # Renamed into place so a concurrent build never sees a half-written wheel; when
        # another build got there first its wheel is as good as ours.
        with contextlib.suppress(OSError):
            scratch.rename(target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    found = sorted(target.glob("pycog-*.whl"))
    if not found:
        raise SdkWheelError(f"The pycog wheel built from {root} vanished from {target}.")
    return found[-1]
