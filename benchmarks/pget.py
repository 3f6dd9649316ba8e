"""pget benchmark: pycog pget against curl, aria2c and hf_transfer on a paced local origin.

Real object stores cap each connection and add latency; loopback has neither, so the origin
here paces every response (default 40 MB/s) and waits before the first byte (default 30 ms).
Rows: one large file, the same bytes as a tar extracted with -x, and many small files; plus the
two limits a download cannot beat here (disk write speed; connections x per-connection cap).

    python benchmarks/pget.py                 # 256 MiB file, 64 x 4 MiB, 5 runs each
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
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tests.weights.origin import Origin, OriginServer, OriginSettings

from cog.weights import DownloadOptions

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
    """Run argv and return its peak RSS in MiB. A small launcher starts it: a child forked
    from this process would count this process's memory (the origin's files) as its own."""
    launcher = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], check=True, capture_output=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    result = subprocess.run(
        [sys.executable, "-c", launcher, *argv], check=True, capture_output=True, text=True
    )
    return int(result.stdout) / 1024


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
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tools", help="comma-separated subset of tools, e.g. 'pycog pget'")
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
                    f"import hf_transfer\nfor i in range({args.files}): hf_transfer.download(f'{base}/small{{i}}.bin', f'{work}/multi/h{{i}}', 8, 1048576, 4, 5)",
                ],
            },
        }
        totals = {
            row: args.files * (args.file_mib << 20) if "multifile" in row else size for row in cases
        }
        times: dict[tuple[str, str], list[float]] = {}
        # The first gigabyte this machine's page cache takes after a while is much slower (a VM
        # getting its memory back from the host): one untimed download first, for every tool.
        clean_outputs(work)
        timed(cases[f"{args.size_mib} MiB file"]["pycog pget"])
        for _ in range(args.runs):
            # Tools take turns within each round, so drift on a shared machine hits all alike.
            for row, tools in cases.items():
                for tool, argv in tools.items():
                    if not available(tool, argv, peers) or times.get((row, tool)) == []:
                        continue
                    if args.tools and tool not in args.tools.split(","):
                        continue
                    clean_outputs(work)
                    try:
                        times.setdefault((row, tool), []).append(timed(argv))
                    except subprocess.CalledProcessError as exc:
                        print(f"{row}: {tool} failed ({exc.returncode})", file=sys.stderr)
                        times[(row, tool)] = []
        for (row, tool), samples in times.items():
            if samples:
                median = statistics.median(samples)
                rows.append((row, tool, totals[row] / median / 1e6, median))
                spread = ", ".join(f"{sample:.2f}" for sample in samples)
                print(f"{row}: {tool}: {spread} s", file=sys.stderr)
        clean_outputs(work)
        peak = peak_rss_of([*pget, f"{base}/big.bin", str(work / "out.bin")])
        clean_outputs(work)
        peak_x = peak_rss_of([*pget, "-x", f"{base}/big.tar", str(work / "x")])

    clean_outputs(work)
    disk = disk_write_speed(work, min(size, 1 << 30))
    connections = DownloadOptions().connections_for(size)
    cap = connections * args.rate_mb * 1e6
    print(
        f"\norigin: {args.rate_mb:.0f} MB/s per connection, {args.ttfb_ms:.0f} ms to first byte; "
        f"medians of {args.runs} runs after a warm-up download, dirty pages flushed before each"
    )
    print(f"{'row':<28} {'tool':<20} {'MB/s':>9} {'seconds':>9}")
    for row, tool, rate, seconds in rows:
        print(f"{row:<28} {tool:<20} {rate:>9.1f} {seconds:>9.2f}")
    print(f"{'limit: disk write (fsync)':<49} {disk / 1e6:>9.1f}")
    print(f"{f'limit: {connections} connections x cap':<49} {cap / 1e6:>9.1f}")
    print(f"pycog pget peak RSS: {peak:.0f} MiB on the single file, {peak_x:.0f} MiB with -x")
    print_targets(rows, min(disk, cap) / 1e6, max(peak, peak_x))
    shutil.rmtree(work, ignore_errors=True)


def available(tool: str, argv: list[str], peers: dict[str, bool]) -> bool:
    if tool == "hf_transfer":
        return peers["hf_transfer"]
    return peers.get(argv[0], True)


def clean_outputs(work: Path) -> None:
    """Remove what the last run wrote and flush dirty pages, so every run starts alike."""
    (work / "out.bin").unlink(missing_ok=True)
    shutil.rmtree(work / "x", ignore_errors=True)
    shutil.rmtree(work / "multi", ignore_errors=True)
    (work / "multi").mkdir()
    os.sync()


def print_targets(rows: list[tuple[str, str, float, float]], limit: float, peak: float) -> None:
    """The issue's targets, checked against this run."""
    by_row: dict[str, dict[str, float]] = {}
    for row, tool, rate, _ in rows:
        by_row.setdefault(row, {})[tool] = rate
    print("\ntargets:")
    for row, rates in by_row.items():
        ours = rates.get("pycog pget", 0.0)
        peers = {tool: rate for tool, rate in rates.items() if tool != "pycog pget"}
        best = max(peers.values(), default=0.0)
        verdict = "ok" if ours > best else "MISSED"
        print(f"  {row}: pget {ours:.0f} MB/s vs best peer {best:.0f} MB/s: {verdict}")
    plain = next((r for row, t, r, _ in rows if "MiB file" in row and t == "pycog pget"), 0.0)
    extract = next((r for row, t, r, _ in rows if "tar" in row and t == "pycog pget"), 0.0)
    print(
        f"  single file at {plain / limit:.0%} of the lower limit (target 90%): "
        f"{'ok' if plain >= 0.9 * limit else 'MISSED'}"
    )
    print(
        f"  -x at {extract / plain if plain else 0:.0%} of plain (target 90%): "
        f"{'ok' if extract >= 0.9 * plain else 'MISSED'}"
    )
    print(f"  peak RSS {peak:.0f} MiB (target < 512): {'ok' if peak < 512 else 'MISSED'}")


if __name__ == "__main__":
    main()
