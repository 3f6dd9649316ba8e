"""pget benchmark: pycog pget against curl, aria2c and hf_transfer on a paced local origin.

Real object stores cap each connection and add latency; loopback has neither, so the origin
here paces every response (default 40 MB/s) and waits before the first byte (default 30 ms).
Rows: one large file, the same bytes as a tar extracted with -x, and many small files; plus the
two limits a download cannot beat here (disk write speed; connections x per-connection cap).

    python benchmarks/pget.py                 # 256 MiB file, 64 x 4 MiB, 3 runs each
    python benchmarks/pget.py --size-mib 1024 # the issue's 1 GiB rows
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.weights.origin import Origin, OriginServer, OriginSettings

HF_VENV = Path(__file__).resolve().parents[1] / ".cache" / "bench-hf-transfer"


def ensure_peers() -> dict[str, bool]:
    """Install aria2 (Debian) and hf_transfer (PyPI, own venv) when missing."""
    if shutil.which("aria2c") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "aria2"], capture_output=True)
    if not (HF_VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(HF_VENV)], check=True)
        subprocess.run(
            [str(HF_VENV / "bin" / "pip"), "install", "-q", "hf_transfer"], capture_output=True
        )
    hf_ok = (
        subprocess.run([str(HF_VENV / "bin" / "python"), "-c", "import hf_transfer"]).returncode
        == 0
    )
    return {
        "curl": shutil.which("curl") is not None,
        "aria2c": shutil.which("aria2c") is not None,
        "hf_transfer": hf_ok,
    }


def timed(argv: list[str], cwd: Path | None = None, shell: bool = False) -> float:
    started = time.perf_counter()
    subprocess.run(
        argv if not shell else " ".join(argv),
        check=True,
        cwd=cwd,
        shell=shell,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def peak_rss_of(argv: list[str]) -> float:
    """Run argv and return the child's peak RSS in MiB (ru_maxrss of children)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(after, before) / 1024


def disk_write_speed(directory: Path, size: int) -> float:
    block = os.urandom(8 << 20)
    path = directory / "disk-speed.bin"
    started = time.perf_counter()
    with open(path, "wb") as file:
        for _ in range(size // len(block)):
            file.write(block)
        file.flush()
        os.fsync(file.fileno())
    elapsed = time.perf_counter() - started
    path.unlink()
    return size / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--files", type=int, default=64)
    parser.add_argument("--file-mib", type=int, default=4)
    parser.add_argument("--rate-mb", type=float, default=40.0, help="per-connection cap, MB/s")
    parser.add_argument("--ttfb-ms", type=float, default=30.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    peers = ensure_peers()
    size = args.size_mib << 20
    work = Path(tempfile.mkdtemp(prefix="pget-bench-"))
    big = os.urandom(1 << 20) * args.size_mib
    tar_path = work / "src.tar"
    with tarfile.open(tar_path, "w") as archive:
        (work / "payload.bin").write_bytes(big)
        archive.add(work / "payload.bin", arcname="payload.bin")
    files = {"big.bin": big, "big.tar": tar_path.read_bytes()}
    for index in range(args.files):
        files[f"small{index}.bin"] = os.urandom(args.file_mib << 20)
    settings = OriginSettings(rate=args.rate_mb * 1e6, ttfb=args.ttfb_ms / 1000, fail_first=0)
    pget = [
        sys.executable,
        "-m",
        "cog.weights",
        "--pid-file",
        str(work / "pid"),
        "-f",
        "--log-level",
        "error",
    ]
    hf = str(HF_VENV / "bin" / "python")
    rows: list[tuple[str, str, float, float]] = []

    with OriginServer(Origin(files, settings)) as origin:
        base = f"{origin.url}/f"
        manifest = work / "manifest.txt"
        manifest.write_text(
            "".join(f"{base}/small{i}.bin {work}/multi/small{i}.bin\n" for i in range(args.files))
        )
        aria_list = work / "aria.txt"
        aria_list.write_text(
            "".join(f"{base}/small{i}.bin\n  out=small{i}.bin\n" for i in range(args.files))
        )
        cases: dict[str, dict[str, list[str]]] = {
            f"{args.size_mib} MiB file": {
                "pycog pget": [*pget, f"{base}/big.bin", str(work / "out.bin")],
                "curl (1 stream)": ["curl", "-s", "-o", str(work / "out.bin"), f"{base}/big.bin"],
                "aria2c -x16 -s16": [
                    "aria2c",
                    "-q",
                    "-x16",
                    "-s16",
                    "-k1M",
                    "--allow-overwrite=true",
                    "-d",
                    str(work),
                    "-o",
                    "out.bin",
                    f"{base}/big.bin",
                ],
                "hf_transfer": [
                    hf,
                    "-c",
                    f"import hf_transfer; hf_transfer.download('{base}/big.bin', '{work}/out.bin', 64, 10485760, 20, 5)",
                ],
            },
            f"{args.size_mib} MiB tar, -x": {
                "pycog pget": [*pget, "-x", f"{base}/big.tar", str(work / "x")],
                "curl | tar -x": [
                    "bash",
                    "-c",
                    f"mkdir -p {work}/x && curl -s {base}/big.tar | tar -x -C {work}/x",
                ],
            },
            f"{args.files} x {args.file_mib} MiB multifile": {
                "pycog pget": [*pget, "multifile", str(manifest)],
                "curl (sequential)": [
                    "bash",
                    "-c",
                    f"for i in $(seq 0 {args.files - 1}); do curl -s -o {work}/multi/c$i {base}/small$i.bin; done",
                ],
                "aria2c -j16": [
                    "aria2c",
                    "-q",
                    "-j16",
                    "-x4",
                    "--allow-overwrite=true",
                    "-d",
                    str(work / "multi"),
                    "-i",
                    str(aria_list),
                ],
                "hf_transfer": [
                    hf,
                    "-c",
                    f"import hf_transfer\nfor i in range({args.files}): hf_transfer.download(f'{base}/small{{i}}.bin', f'{work}/multi/h{{i}}', 8, 1048576, 20, 5)",
                ],
            },
        }
        (work / "multi").mkdir()
        for row, tools in cases.items():
            for tool, argv in tools.items():
                if argv[0] in peers and not peers[argv[0]]:
                    continue
                if tool == "hf_transfer" and not peers["hf_transfer"]:
                    continue
                times = []
                for _ in range(args.runs):
                    shutil.rmtree(work / "x", ignore_errors=True)
                    times.append(timed(argv))
                total = (
                    size
                    if "MiB file" in row or "tar" in row
                    else args.files * (args.file_mib << 20)
                )
                median = statistics.median(times)
                rows.append((row, tool, total / median / 1e6, median))
        peak = peak_rss_of([*pget, f"{base}/big.bin", str(work / "out.bin")])

    disk = disk_write_speed(work, min(size, 1 << 30))
    connections = 32
    cap = connections * args.rate_mb * 1e6
    print(
        f"\norigin: {args.rate_mb:.0f} MB/s per connection, {args.ttfb_ms:.0f} ms to first byte; medians of {args.runs} runs"
    )
    print(f"{'row':<28} {'tool':<20} {'MB/s':>9} {'seconds':>9}")
    for row, tool, rate, seconds in rows:
        print(f"{row:<28} {tool:<20} {rate:>9.1f} {seconds:>9.2f}")
    print(f"{'limit: disk write':<49} {disk / 1e6:>9.1f}")
    print(f"{'limit: 32 connections x cap':<49} {cap / 1e6:>9.1f}")
    print(f"pycog pget peak RSS on the single file: {peak:.0f} MiB")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
