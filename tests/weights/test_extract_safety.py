"""Hostile archives are refused with an error naming the entry; nothing escapes the target."""

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from cog.weights import DownloadOptions, UnsafeArchiveEntry, download

from .hostile import CHECKS

HOSTILE_CHECKS = Path(__file__).resolve().parent / "hostile.py"


def hostile(kind: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        ok = tarfile.TarInfo("ok.txt")
        ok.size = 2
        archive.addfile(ok, io.BytesIO(b"ok"))
        entry = tarfile.TarInfo(
            {"dotdot": "../escape.txt", "absolute": "/tmp/pycog-abs.txt"}.get(kind, "link")
        )
        if kind in ("dotdot", "absolute"):
            entry.size = 4
            archive.addfile(entry, io.BytesIO(b"evil"))
        elif kind == "symlink":
            entry.type, entry.linkname = tarfile.SYMTYPE, "../../etc/passwd"
            archive.addfile(entry)
        elif kind == "hardlink":
            entry.type, entry.linkname = tarfile.LNKTYPE, "/etc/passwd"
            archive.addfile(entry)
        elif kind == "device":
            entry.name, entry.type = "dev", tarfile.CHRTYPE
            archive.addfile(entry)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("kind", "entry"),
    [
        ("dotdot", "../escape.txt"),
        ("absolute", "/tmp/pycog-abs.txt"),
        ("symlink", "link"),
        ("hardlink", "link"),
        ("device", "dev"),
    ],
)
def test_hostile_entries_are_refused_by_name(origin, tmp_path, kind, entry):
    origin.files[f"{kind}.tar"] = hostile(kind)
    target = tmp_path / "target"
    with pytest.raises(UnsafeArchiveEntry) as info:
        download(
            f"{origin.url}/f/{kind}.tar",
            target,
            DownloadOptions(backoff_base=0.01),
            "tar-extractor",
        )
    assert str(info.value).startswith(entry)
    assert not (tmp_path / "escape.txt").exists()
    assert not (target / "link").exists()
    assert (target / "ok.txt").read_bytes() == b"ok"


def test_existing_files_need_force(origin, payloads, tmp_path):
    options = DownloadOptions(backoff_base=0.01)
    download(f"{origin.url}/f/archive.tar", tmp_path, options, "tar-extractor")
    with pytest.raises(UnsafeArchiveEntry, match="--force"):
        download(f"{origin.url}/f/archive.tar", tmp_path, options, "tar-extractor")
    download(f"{origin.url}/f/archive.tar", tmp_path, DownloadOptions(force=True), "tar-extractor")


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_direct_extraction_refuses_and_sanitises(tmp_path, check):
    assert CHECKS[check](tmp_path) is None


SYSTEM_PYTHON = Path("/usr/bin/python3.11")


@pytest.mark.skipif(not SYSTEM_PYTHON.exists(), reason="no /usr/bin/python3.11 (Debian 12's)")
def test_the_checks_pass_on_the_system_python(tmp_path):
    """Debian 12's Python is 3.11.2: its tarfile has no extraction filters (3.11.4+)."""
    result = subprocess.run(
        [str(SYSTEM_PYTHON), str(HOSTILE_CHECKS), str(tmp_path)],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(HOSTILE_CHECKS.parents[2] / "src")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": ok") == len(CHECKS)
