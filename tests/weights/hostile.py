"""Hostile tar archives and the checks that `extract_stream` refuses them, in the standard
library only, so that a bare interpreter (Debian 12's Python 3.11.2, whose tarfile has no
extraction filters) can run them too: `PYTHONPATH=src python3.11 tests/weights/hostile.py DIR`
prints one line per check and exits 1 if any failed."""

from __future__ import annotations

import gzip
import io
import os
import stat
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

from cog.weights.archive_stream import ArchiveStream
from cog.weights.errors import ArchiveError, UnsafeArchiveEntry
from cog.weights.extract import extract_stream


def archive(*entries: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        ok = tarfile.TarInfo("ok.txt")
        ok.size = 2
        tar.addfile(ok, io.BytesIO(b"ok"))
        for info, data in entries:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def entry(
    name: str, kind: bytes = tarfile.REGTYPE, link: str = "", mode: int = 0o644
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, mode
    return info


# name -> (archive, the entry the refusal must name)
HOSTILE: dict[str, tuple[bytes, str]] = {
    "dotdot": (archive((entry("../escape.txt"), b"evil")), "../escape.txt"),
    "absolute": (archive((entry("/tmp/pycog-abs.txt"), b"evil")), "/tmp/pycog-abs.txt"),
    "symlink": (archive((entry("link", tarfile.SYMTYPE, "../../etc/passwd"), b"")), "link"),
    "hardlink": (archive((entry("link", tarfile.LNKTYPE, "/etc/passwd"), b"")), "link"),
    "device": (archive((entry("dev", tarfile.CHRTYPE), b"")), "dev"),
    "fifo": (archive((entry("pipe", tarfile.FIFOTYPE), b"")), "pipe"),
    # The target already holds a link to outside; an entry must not be written through it.
    "through-link": (archive((entry("out/escape.txt"), b"evil")), "out/escape.txt"),
}


def extract(data: bytes, target: Path) -> int:
    stream = ArchiveStream(chunk=len(data) + 1, window=1)
    stream.write_at(0, memoryview(data))
    stream.finish(len(data))
    return extract_stream(stream, target, force=False)


def refuses(kind: str, workdir: Path) -> str | None:
    """None when the archive is refused as it must be, else what went wrong."""
    data, name = HOSTILE[kind]
    target, outside = workdir / kind / "target", workdir / kind / "outside"
    outside.mkdir(parents=True)
    target.mkdir()
    if kind == "through-link":
        (target / "out").symlink_to(outside)
    try:
        extract(data, target)
    except UnsafeArchiveEntry as exc:
        if not str(exc).startswith(name):
            return f"the refusal does not name {name}: {exc}"
    else:
        return "extracted without a refusal"
    if list(outside.iterdir()) or (workdir / kind / "escape.txt").exists():
        return "something was written outside the target"
    if (target / name).exists() or (target / name).is_symlink():
        return f"{name} was extracted"
    if (target / "ok.txt").read_bytes() != b"ok":
        return "the entry before the hostile one was not extracted"
    return None


def strips_special_bits(workdir: Path) -> str | None:
    """setuid/setgid/sticky and group/other write go, as with the "data" filter."""
    data = archive(
        (entry("tool", mode=0o6777), b"#!/bin/sh\n"),
        (entry("secret", mode=0o000), b"s"),
        (entry("dir", tarfile.DIRTYPE, mode=0o1777), b""),
        (entry("dir/inside.txt"), b"in"),
    )
    target = workdir / "modes"
    if extract(data, target) != 5:
        return "not every entry was extracted"
    modes = {name: stat.S_IMODE(os.stat(target / name).st_mode) for name in ("tool", "secret")}
    if modes != {"tool": 0o755, "secret": 0o600}:
        return f"file modes {modes!r}, not tool 0o755 and secret 0o600"
    dir_mode = stat.S_IMODE(os.stat(target / "dir").st_mode)
    if dir_mode & (stat.S_ISVTX | 0o022) or (target / "dir/inside.txt").read_bytes() != b"in":
        return f"directory mode {oct(dir_mode)} keeps sticky or group/other write"
    return None


def leaves_no_part(compression: str, workdir: Path) -> str | None:
    """An archive cut inside a member fails, and nothing under the target has the member's
    name (nor a temporary one)."""
    plain = archive((entry("big.bin"), os.urandom(200_000)))
    packed = {"": plain, "gz": gzip.compress(plain)}[compression]
    target = workdir / f"cut{compression}"
    try:
        extract(packed[: len(packed) * 2 // 3], target)
    except ArchiveError as exc:
        if "truncated" not in str(exc):
            return f"the error does not say the archive is truncated: {exc}"
    else:
        return "a truncated archive extracted without an error"
    left = sorted(p.name for p in target.iterdir())
    return None if left == ["ok.txt"] else f"left {left}, not only the complete ok.txt"


CHECKS: dict[str, Callable[[Path], str | None]] = {
    **{f"refuses {kind}": (lambda d, k=kind: refuses(k, d)) for kind in HOSTILE},
    "strips special bits": strips_special_bits,
    "a cut tar leaves no part": lambda d: leaves_no_part("", d),
    "a cut tar.gz leaves no part": lambda d: leaves_no_part("gz", d),
}


def main(workdir: Path) -> int:
    failed = 0
    for label, check in CHECKS.items():
        problem = check(workdir)
        print(f"{label}: {problem or 'ok'}")
        failed += problem is not None
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
