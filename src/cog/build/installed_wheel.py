"""A wheel of the pycog that runs, rebuilt from the files its installer recorded.

When pycog is installed as a package (pip, pipx, `uv tool install`, any venv) there is no
checkout to build from, but the installed distribution is the wheel unpacked: its RECORD lists
every file with its sha256. The wheel is put back together from exactly those files, each
checked against RECORD first (so an edited or damaged install is refused, not shipped), with
the dist-info's METADATA, WHEEL and entry_points.txt and a freshly written RECORD. What the
installer added (console scripts outside site-packages, INSTALLER, REQUESTED,
direct_url.json, bytecode) is left out, as a wheel never holds it.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import SdkWheelError

DISTRIBUTION = "pycog"
# Written by installers (PEP 376, PEP 610, PEP 627); a wheel does not carry them.
INSTALLER_FILES = frozenset({"INSTALLER", "REQUESTED", "RECORD", "direct_url.json"})
# Fixed entry dates make the rebuilt wheel byte-for-byte the same on every machine.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class RecordedFile:
    """One file of the installed distribution, as a wheel entry."""

    name: str  # path inside the wheel (relative to site-packages)
    location: Path
    digest: str  # "sha256=<urlsafe base64, unpadded>", checked against the file


def running_distribution() -> importlib.metadata.Distribution:
    """The installed pycog distribution whose files are the `cog` package running now."""
    package_init = (Path(__file__).resolve().parent.parent / "__init__.py").resolve()
    for dist in importlib.metadata.distributions(name=DISTRIBUTION):
        for file in dist.files or ():
            if str(file) == "cog/__init__.py" and Path(str(dist.locate_file(file))).resolve() == (
                package_init
            ):
                return dist
    raise SdkWheelError(
        f"The running pycog ({package_init.parent}) is not an installed {DISTRIBUTION} "
        "distribution with a RECORD, so its wheel cannot be rebuilt; reinstall pycog with "
        "pip or uv, or set COG_SDK_WHEEL to the path of a pycog .whl file."
    )


def _record_digest(data: bytes) -> str:
    raw = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _is_wheel_file(name: PurePosixPath, dist_info: str) -> bool:
    if name.parts[0] == ".." or "__pycache__" in name.parts or name.suffix == ".pyc":
        return False
    return not (name.parts[0] == dist_info and name.name in INSTALLER_FILES)


def recorded_files(dist: importlib.metadata.Distribution) -> list[RecordedFile]:
    """The wheel's files of an installed distribution, each verified against RECORD."""
    dist_info = f"{dist.metadata['Name'].replace('-', '_')}-{dist.version}.dist-info"
    files = []
    for entry in dist.files or ():
        name = PurePosixPath(str(entry))
        if not _is_wheel_file(name, dist_info):
            continue
        location = Path(str(dist.locate_file(entry)))
        if entry.hash is None or entry.hash.mode != "sha256":
            raise SdkWheelError(
                f"{location} has no sha256 in pycog's RECORD, so it cannot be checked; "
                "reinstall pycog, or set COG_SDK_WHEEL to a pycog .whl file."
            )
        try:
            actual = _record_digest(location.read_bytes())
        except OSError as exc:
            raise SdkWheelError(
                f"{location} of the installed pycog cannot be read: {exc}; reinstall pycog."
            ) from None
        if actual != f"sha256={entry.hash.value}":
            raise SdkWheelError(
                f"{location} differs from what pycog's installer recorded (edited or damaged "
                "install); reinstall pycog, or set COG_SDK_WHEEL to a pycog .whl file."
            )
        files.append(RecordedFile(str(name), location, actual))
    if not any(f.name == f"{dist_info}/METADATA" for f in files):
        raise SdkWheelError(f"The installed pycog has no {dist_info}/METADATA; reinstall pycog.")
    return sorted(files, key=lambda f: (f.name.startswith(dist_info), f.name))


def wheel_name(dist: importlib.metadata.Distribution) -> str:
    """`pycog-<version>-<tag>.whl`, with the tag the distribution's WHEEL file names."""
    tags = [
        line.split(":", 1)[1].strip()
        for line in (dist.read_text("WHEEL") or "").splitlines()
        if line.startswith("Tag:")
    ]
    tag = tags[0] if len(tags) == 1 else "py3-none-any"
    return f"{DISTRIBUTION}-{dist.version}-{tag}.whl"


def content_digest(files: list[RecordedFile]) -> str:
    """A digest of every file name and content: the cache key besides the version."""
    digest = hashlib.sha256()
    for file in files:
        digest.update(f"{file.name}\0{file.digest}\n".encode())
    return digest.hexdigest()[:16]


def installed_wheel(cache: Path) -> Path:
    """The running pycog as a wheel under `cache`, rebuilt once per version and content."""
    dist = running_distribution()
    files = recorded_files(dist)
    target = cache / f"{dist.version}-{content_digest(files)}" / wheel_name(dist)
    if not target.is_file():
        write_wheel(files, target)
    return target


def write_wheel(files: list[RecordedFile], target: Path) -> None:
    """Write `files` as a wheel at `target`, with a RECORD of their digests and sizes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    dist_info = next(f.name.split("/")[0] for f in files if f.name.endswith(".dist-info/METADATA"))
    record = []
    fd, scratch = tempfile.mkstemp(suffix=".whl.tmp", dir=target.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(scratch, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in files:
                data = file.location.read_bytes()
                mode = 0o755 if os.access(file.location, os.X_OK) else 0o644
                archive.writestr(_entry(file.name, mode), data)
                record.append(f"{file.name},{file.digest},{len(data)}")
            record.append(f"{dist_info}/RECORD,,")
            archive.writestr(_entry(f"{dist_info}/RECORD", 0o644), "\n".join(record) + "\n")
        # Renamed into place so a concurrent build never sees a half-written wheel.
        os.replace(scratch, target)
    finally:
        if os.path.exists(scratch):
            os.unlink(scratch)


def _entry(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o100000 | mode) << 16
    return info
