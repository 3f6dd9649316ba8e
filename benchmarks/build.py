"""Build benchmark: cold build, warm rebuild after a code change, image size (hello-world).

    python benchmarks/build.py [--repeat N] [--no-weights]

Needs a Docker engine (run `eval "$(script/lib/docker-engine start)"; script/lib/base-images`
first, or let this script do it). The reference Cog's build needs its Go CLI, `docker buildx`
and a registry, none of which exist here, so only pycog is measured; the table says so.
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
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from tests.build.conftest import build_options, project_config, server_command  # noqa: E402

from cog.build.builder import build_image  # noqa: E402
from cog.build.docker_runtime import ContainerSpec, ModelContainer  # noqa: E402
from cog.build.engine import Docker  # noqa: E402

FIXTURE = REPO / "tests" / "build" / "fixtures" / "hello-world"


def ensure_engine() -> Docker:
    if "DOCKER_HOST" not in os.environ:
        out = subprocess.run(
            [str(REPO / "script/lib/docker-engine"), "start"],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        ).stdout
        for line in out.splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            os.environ[name] = value
    subprocess.run([str(REPO / "script/lib/base-images")], check=True, timeout=900)
    docker = Docker()
    docker.ping()
    return docker


def timed_build(*args: Any) -> float:
    start = time.perf_counter()
    build_image(*args)
    return time.perf_counter() - start


def run(repeat: int, with_weights: bool = True) -> None:
    docker = ensure_engine()
    cold, warm, sizes, added, ready = [], [], [], [], []
    base = docker.inspect_image("pycog-test-base:bookworm")
    assert base is not None
    for i in range(repeat):
        with tempfile.TemporaryDirectory() as scratch:
            project = Path(scratch) / "hello-world"
            shutil.copytree(FIXTURE, project)
            config = project_config(project)
            tag = f"pycog-bench/hello:{i}"
            options = build_options(project, tag)
            no_cache = build_options(project, tag, no_cache=True)
            cold.append(timed_build(config, no_cache, docker))
            predict = project / "predict.py"
            predict.write_text(predict.read_text() + f"\n# edit {i}\n")
            warm.append(timed_build(config, options, docker))
            info = docker.inspect_image(tag)
            assert info is not None
            sizes.append(info["Size"] / 1e6)
            ready.append(time_to_ready(docker, tag))
            added.append((info["Size"] - base["Size"]) / 1e6)
            docker.remove_image(tag)
    weights = weights_rebuilds(docker, repeat) if with_weights else {}
    print(f"hello-world, {repeat} runs, medians (base image pycog-test-base:bookworm)")
    print()
    print("| measure | pycog | reference Cog |")
    print("|---|---|---|")
    print(f"| cold build (--no-cache) | {statistics.median(cold):.1f} s | not measurable here |")
    print(f"| rebuild after code change | {statistics.median(warm):.2f} s | not measurable here |")
    print(f"| image size | {statistics.median(sizes):.0f} MB | not measurable here |")
    print(f"| size above base image | {statistics.median(added):.1f} MB | not measurable here |")
    print(f"| container start to READY | {statistics.median(ready):.2f} s | not measurable here |")
    for label, seconds in weights.items():
        print(f"| {label} | {seconds:.2f} s | not measurable here |")


def time_to_ready(docker: Docker, image: str) -> float:
    start = time.perf_counter()
    spec = ContainerSpec(image=image, command=server_command())
    with ModelContainer(spec, docker) as container:
        container.wait_ready(timeout=120)
        return time.perf_counter() - start


def weights_rebuilds(docker: Docker, repeat: int) -> dict[str, float]:
    """Rebuild after a code change of a project holding 200 MB of weights, both ways."""
    results: dict[str, float] = {}
    for separate in (False, True):
        times = []
        with tempfile.TemporaryDirectory() as scratch:
            project = Path(scratch) / "hello-world"
            shutil.copytree(FIXTURE, project)
            (project / "model.bin").write_bytes(os.urandom(200 * 1024 * 1024))
            config = project_config(project)
            options = build_options(
                project, "pycog-bench/weights:latest", separate_weights=separate
            )
            build_image(config, options, docker)
            for i in range(repeat):
                predict = project / "predict.py"
                predict.write_text(predict.read_text() + f"\n# edit {i}\n")
                times.append(timed_build(config, options, docker))
        flag = "with --separate-weights" if separate else "without --separate-weights"
        results[f"rebuild after code change, 200 MB weights, {flag}"] = statistics.median(times)
    docker.remove_image("pycog-bench/weights:latest")
    docker.remove_image("pycog-bench/weights-weights:latest")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--no-weights", action="store_true", help="skip the 200 MB weights rebuilds (a minute)"
    )
    args = parser.parse_args()
    run(args.repeat, with_weights=not args.no_weights)
