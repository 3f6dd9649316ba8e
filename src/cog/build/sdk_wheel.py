"""The pycog wheel installed into images and local environments: the very pycog that runs.

`COG_SDK_WHEEL=/path/to/pycog-….whl` names a wheel to use as is. Run from a source checkout
(an editable install), the wheel is built with `pip wheel`, cached under the pycog cache
directory keyed by a digest of the package sources. Installed as a package, the wheel is
rebuilt from the installed distribution's own files, checked against its RECORD and cached by
version and content digest (see `cog.build.installed_wheel`).

The wheel's `server` extra is what the prediction server and worker import; images install
those requirements and the wheel without its other (CLI-only) dependencies.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from email.parser import HeaderParser
from pathlib import Path

from .. import envvars
from .errors import SdkWheelError
from .installed_wheel import installed_wheel

SERVER_EXTRA = "server"
TRACING_EXTRA = "tracing"


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
    check_coglet_wheel()
    given = envvars.SDK_WHEEL.get()
    if given:
        path = _given_wheel(given)
        # Said every time: a stale override is a classic cause of "my change is not in the image".
        print(f"Using local cog wheel: {path}", file=sys.stderr)
        return path
    root = source_checkout()
    if root is None:
        return installed_wheel(cache_dir() / "sdk-wheels")
    target = cache_dir() / "sdk-wheels" / _sources_digest(root)
    existing = sorted(target.glob("pycog-*.whl"))
    if existing:
        return existing[-1]
    return _build_wheel(root, target)


def _given_wheel(given: str) -> Path:
    """The wheel COG_SDK_WHEEL names: a .whl file, or the newest pycog wheel in a directory."""
    path = Path(given).expanduser()
    if not path.exists():
        raise SdkWheelError(
            f"COG_SDK_WHEEL: path not found: {given}; point it at a pycog .whl (or a directory "
            "holding one), or unset it to use the pycog that runs."
        )
    if path.is_dir():
        wheels = sorted(path.glob("pycog-*.whl"), key=lambda wheel: wheel.stat().st_mtime)
        if not wheels:
            raise SdkWheelError(
                f"COG_SDK_WHEEL: no pycog wheel (pycog-*.whl) in {given}; build one there with "
                "`pip wheel --no-deps -w DIR pycog`, or unset COG_SDK_WHEEL."
            )
        return wheels[-1].resolve()
    if path.suffix != ".whl":
        raise SdkWheelError(f"COG_SDK_WHEEL={given!r} is not a wheel file; point it at a .whl.")
    return path.resolve()


def check_coglet_wheel() -> None:
    given = envvars.COGLET_WHEEL.get()
    if given and not Path(given).expanduser().exists():
        raise SdkWheelError(
            f"COGLET_WHEEL: path not found: {given}; pycog needs no coglet wheel (its server "
            "is in the pycog wheel): unset COGLET_WHEEL."
        )


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


def server_requirements(wheel: Path, tracing: bool = False) -> list[str] | None:
    """The requirements of the wheel's `server` extra (markers kept), or None when the wheel
    has no such extra (an older pycog: then it is installed with all its dependencies); with
    `tracing` (cog.yaml's `observability.traces.enabled`), its `tracing` extra's too."""
    found = extra_requirements(wheel, SERVER_EXTRA)
    if found is not None and tracing:
        found += extra_requirements(wheel, TRACING_EXTRA) or []
    return found


def extra_requirements(wheel: Path, extra: str) -> list[str] | None:
    """The requirements of one of the wheel's extras, or None when it has no such extra."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
            metadata = HeaderParser().parsestr(archive.read(name).decode())
    except (OSError, zipfile.BadZipFile, StopIteration) as exc:
        raise SdkWheelError(f"{wheel} is not a readable pycog wheel ({exc}); rebuild it.") from None
    if extra not in (metadata.get_all("Provides-Extra") or []):
        return None
    found = []
    for line in metadata.get_all("Requires-Dist") or []:
        requirement = _without_extra(line, extra)
        if requirement is not None:
            found.append(requirement)
    return found


_EXTRA_MARKER = re.compile(
    r"""^(?:\((?P<rest>.*)\) and |(?P<plain>.*) and )?extra == ['"](?P<extra>[^'"]+)['"]$"""
)


def _without_extra(requirement: str, extra: str) -> str | None:
    # Build backends write `req; extra == 'x'` or `req; (marker) and extra == 'x'`.
    spec, _, marker = requirement.partition(";")
    match = _EXTRA_MARKER.match(marker.strip())
    if match is None or match["extra"] != extra:
        return None
    rest = match["rest"] or match["plain"]
    return f"{spec.strip()}; {rest}" if rest else spec.strip()


def installed_extra_requirements(extra: str) -> list[str]:
    """The requirements of an extra of the pycog that runs (from its installed metadata)."""
    from importlib.metadata import PackageNotFoundError, requires

    try:
        lines = requires("pycog") or []
    except PackageNotFoundError:
        return []
    return [found for line in lines if (found := _without_extra(line, extra)) is not None]
