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
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Run:
    status: int
    seconds: float
    cpu_seconds: float
    """User + system time: what a busy machine's wall time does not show."""
    peak_rss: int
    """Bytes."""


def run_pget(args: list[str], limit: float) -> Run:
    """Run `python -m cog.weights ARGS` (stopped after `limit` seconds) and measure it.

    A child's ru_maxrss counts the memory of the process it was forked from (Linux keeps
    the pre-exec high-water mark), so pget is started by a small process of its own."""
    command = [sys.executable, "-m", "cog.weights", *args]
    measured = subprocess.run(
        [sys.executable, __file__, "measure", str(limit), *command],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    status, seconds, cpu, rss = measured.stdout.split()
    return Run(int(status), float(seconds), float(cpu), int(rss))


def measure(limit: float, command: list[str]) -> None:
    """Run `command` (stopped after `limit` seconds); print its exit status, its seconds,
    its CPU seconds and its peak RSS in bytes."""
    started = time.monotonic()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > started + limit:
            child.kill()
            _, status, usage = os.wait4(child.pid, 0)
            break
        time.sleep(0.05)
    seconds = time.monotonic() - started
    cpu = usage.ru_utime + usage.ru_stime
    print(os.waitstatus_to_exitcode(status), f"{seconds:.3f}", f"{cpu:.3f}", usage.ru_maxrss * 1024)


def main() -> int:
    if sys.argv[1:2] == ["measure"]:
        measure(float(sys.argv[2]), sys.argv[3:])
        return 0
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
        run = run_pget([*args, "--pid-file", str(work / "pid")], options.limit)
    # A run stopped early is measured on what it wrote (a finished one may have left holes).
    extracted = size
    if run.status != 0:
        extracted = sum(p.stat().st_size for p in (work / "x").rglob("*") if p.is_file())
    print(f"bomb: {len(bomb) / MiB:.1f} MiB compressed, {size / MiB / 1024:.2f} GiB of zeros")
    print(
        f"exit {run.status} after {run.seconds:.1f}s ({run.cpu_seconds:.1f}s CPU); "
        f"peak RSS {run.peak_rss / MiB:.0f} MiB; {extracted / MiB:.0f} MiB extracted, "
        f"{extracted / MiB / run.seconds:.1f} MiB/s"
    )
    subprocess.run(["rm", "-rf", str(work)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
