"""Install benchmark: pycog's wheel into a fresh venv, then `cog predict` on hello-world.

    python benchmarks/install.py [--repeat N]

Each round makes a fresh venv outside the checkout, installs the wheel (and its dependencies)
with pip, then times the installed `cog predict -i name=World` on a copy of
examples/hello-world with the local runtime: cold (a new pycog cache, so the model's
environment is built; uv's own download cache as the machine has it), cold with an empty uv
cache too (every package downloaded), and warm (the environment reused).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LEAKY = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "COG_SDK_WHEEL", "DOCKER_HOST")


def timed(command: list[str], cwd: Path, env: Mapping[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return elapsed


def build_wheel(scratch: Path) -> Path:
    dist = scratch / "dist"
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(REPO)]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    return next(dist.glob("pycog-*.whl"))


def one_round(scratch: Path, wheel: Path, index: int) -> dict[str, float]:
    home = scratch / f"round{index}"
    home.mkdir()
    env = {name: value for name, value in os.environ.items() if name not in LEAKY}
    env.update(NO_COLOR="1", PYCOG_SKIP_DOCKER="1")
    base_python = getattr(sys, "_base_executable", sys.executable)
    venv = home / "venv"
    times = {"venv": timed([base_python, "-m", "venv", str(venv)], home, env)}
    times["pip install wheel"] = timed(
        [str(venv / "bin" / "pip"), "install", "-q", str(wheel)], home, env
    )
    project = home / "hello-world"
    shutil.copytree(REPO / "examples" / "hello-world", project)
    predict = [str(venv / "bin" / "cog"), "predict", "-i", "name=World", "--runtime", "local"]
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin"
    env["COG_CACHE_DIR"] = str(home / "cache")
    times["predict cold"] = timed(predict, project, env)
    times["predict warm"] = timed(predict, project, env)
    env["COG_CACHE_DIR"] = str(home / "cache-empty-uv")
    times["predict cold, empty uv cache"] = timed(
        predict, project, {**env, "UV_CACHE_DIR": str(home / "uv-cache")}
    )
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pycog-install-bench-") as directory:
        scratch = Path(directory)
        start = time.perf_counter()
        wheel = build_wheel(scratch)
        print(f"wheel built in {time.perf_counter() - start:.1f} s: {wheel.name}")
        rounds = [one_round(scratch, wheel, i) for i in range(args.repeat)]
    print(f"\n| step ({args.repeat} rounds) | median s | min s | max s |")
    print("|---|---|---|---|")
    for step in rounds[0]:
        values = [r[step] for r in rounds]
        print(
            f"| {step} | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} |"
        )
    print(f"\nload average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
