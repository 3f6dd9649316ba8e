"""A gzip bomb made on the fly, and a benchmark of `pget -x` extracting it.

The bomb is a tar of one member of zeros, gzipped: 10 GiB of tar in about 10 MB. It is
built without compressing 10 GiB: after a full flush deflate starts from a clean state, so
every MiB of zeros compresses to the same bytes, repeated here; only the CRC needs a pass.

    python tests/weights/bomb.py [--gib 10] [--limit 60]

serves the bomb from a local origin, runs `pget -x` on it (PYTHONPATH decides which pycog)
and prints the peak RSS of the pget process (its ru_maxrss) and the extraction throughput.
A run past --limit seconds is stopped and measured on what it extracted so far.
"""

from __future__ import annotations

import argparse
import os
import resource
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib
from pathlib import Path

MiB = 1 << 20
_ZEROS = bytes(MiB)


def gzip_bomb(size: int, name: str = "zeros.bin") -> bytes:
    """A .tar.gz whose only member is `size` zero bytes (`size` a multiple of 1 MiB)."""
    assert size % MiB == 0
    info = tarfile.TarInfo(name)
    info.size = size
    header = info.tobuf(tarfile.PAX_FORMAT)
    # After the header: the member's zeros, then the end-of-archive blocks and the record
    # padding, all zeros too.
    tail = 1024 + (-(len(header) + size + 1024) % tarfile.RECORDSIZE)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts = [b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"]
    parts.append(compressor.compress(header) + compressor.flush(zlib.Z_FULL_FLUSH))
    block = compressor.compress(_ZEROS) + compressor.flush(zlib.Z_FULL_FLUSH)
    parts.extend([block] * (size // MiB))
    parts.append(compressor.compress(bytes(tail)) + compressor.flush(zlib.Z_FINISH))
    crc = zlib.crc32(header)
    for _ in range(size // MiB):
        crc = zlib.crc32(_ZEROS, crc)
    crc = zlib.crc32(bytes(tail), crc)
    parts.append(struct.pack("<II", crc, (len(header) + size + tail) & 0xFFFFFFFF))
    return b"".join(parts)


def run_pget(args: list[str], limit: float) -> tuple[int, float, int]:
    """Run `python -m cog.weights ARGS`; returns (exit status, seconds, peak RSS in bytes)."""
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "cog.weights", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = started + limit
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            child.kill()
            _, status, usage = os.wait4(child.pid, 0)
            break
        time.sleep(0.05)
    child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, time.monotonic() - started, usage.ru_maxrss * 1024


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.weights.origin import Origin, OriginServer

    parser = argparse.ArgumentParser()
    parser.add_argument("--gib", type=float, default=10)
    parser.add_argument("--limit", type=float, default=60)
    options = parser.parse_args()
    size = int(options.gib * 1024) * MiB
    bomb = gzip_bomb(size)
    work = Path(tempfile.mkdtemp(prefix="pget-bomb-"))
    with OriginServer(Origin({"bomb.tar.gz": bomb})) as origin:
        args = ["-x", f"{origin.url}/f/bomb.tar.gz", str(work / "x"), "--log-level", "error"]
        status, seconds, rss = run_pget([*args, "--pid-file", str(work / "pid")], options.limit)
    extracted = sum(p.stat().st_size for p in (work / "x").rglob("*") if p.is_file())
    print(f"bomb: {len(bomb) / MiB:.1f} MiB compressed, {size / MiB / 1024:.2f} GiB of zeros")
    print(
        f"exit {status} after {seconds:.1f}s; peak RSS {rss / MiB:.0f} MiB; "
        f"{extracted / MiB:.0f} MiB extracted, {extracted / MiB / seconds:.1f} MiB/s"
    )
    print(f"(own peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)")
    subprocess.run(["rm", "-rf", str(work)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
