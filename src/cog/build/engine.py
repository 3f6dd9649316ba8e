"""The seam between pycog and a Docker engine: the `docker` CLI, run as a subprocess.

Everything that talks to the engine goes through `Docker`, so the rest of the build component
deals in Python values (image references, labels, contexts) and one error type,
`DockerCommandFailed`. The CLI binary is `PYCOG_DOCKER_CLI` or `docker` on PATH; the engine is
whatever it is pointed at (`DOCKER_HOST`, contexts). Builds use BuildKit (`DOCKER_BUILDKIT=1`).
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import envvars
from ..runtime.lifeline import term_with_parent
from .context import BuildContext
from .errors import DockerCommandFailed, DockerUnavailable

PROGRESS_MODES = ("auto", "tty", "plain", "quiet")


@dataclass(frozen=True)
class BuildRequest:
    """One `docker build` of a streamed context."""

    context: BuildContext
    tag: str
    secrets: Sequence[str] = ()  # `id=…,src=…` specs, as `docker build --secret` takes them
    build_args: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    no_cache: bool = False
    progress: str = "auto"


class Docker:
    """A Docker engine reached through its CLI."""

    def __init__(self, binary: str | None = None, output: Callable[[str], None] | None = None):
        self.binary = binary or envvars.DOCKER_CLI.get() or shutil.which("docker") or "docker"
        # Where build progress goes; tests pass a collector, the CLI the terminal.
        self.output = output or (lambda line: print(line, file=sys.stderr, end=""))

    def _env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_BUILDKIT": "1"}

    def run(
        self, *args: str, timeout: float = 300, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run `docker ARGS…` and capture its output; raises DockerCommandFailed on failure."""
        command = [self.binary, *args]
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=self._env(),
                input=input,
                preexec_fn=term_with_parent,
            )
        except FileNotFoundError as exc:
            raise DockerUnavailable(
                f"The docker CLI ({self.binary}) was not found; install Docker, or set "
                "PYCOG_DOCKER_CLI to its path."
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise DockerCommandFailed(command, -1, f"timed out after {timeout:.0f}s") from exc
        if check and result.returncode != 0:
            raise DockerCommandFailed(command, result.returncode, result.stderr + result.stdout)
        return result

    def ping(self) -> str:
        """The engine's version; raises DockerUnavailable when no engine answers."""
        try:
            result = self.run("version", "--format", "{{.Server.Version}}", timeout=30)
        except DockerCommandFailed as exc:
            raise DockerUnavailable(
                "No Docker engine answers (is dockerd running, and DOCKER_HOST right?):\n"
                + exc.output.strip()
            ) from exc
        return result.stdout.strip()

    def available(self) -> bool:
        """Whether an engine answers (without raising)."""
        try:
            self.ping()
        except (DockerUnavailable, DockerCommandFailed):
            return False
        return True

    def inspect_image(self, ref: str) -> dict[str, Any] | None:
        """`docker image inspect` of one image, or None if the engine does not have it."""
        result = self.run("image", "inspect", ref, check=False, timeout=60)
        if result.returncode != 0:
            return None
        data: list[dict[str, Any]] = json.loads(result.stdout)
        return data[0]

    def image_exists(self, ref: str) -> bool:
        return self.inspect_image(ref) is not None

    def labels(self, ref: str) -> dict[str, str]:
        info = self.inspect_image(ref) or {}
        return dict((info.get("Config") or {}).get("Labels") or {})

    def layers(self, ref: str) -> list[str]:
        info = self.inspect_image(ref) or {}
        return list((info.get("RootFS") or {}).get("Layers") or [])

    def build(self, request: BuildRequest, timeout: float = 3600) -> str:
        """Build a streamed context; returns the image id."""
        with tempfile.TemporaryDirectory(prefix="pycog-build-") as scratch:
            iidfile = Path(scratch) / "iid"
            command = [self.binary, *self._build_args(request, iidfile)]
            self._stream_build(command, request, timeout)
            return iidfile.read_text().strip()

    def _build_args(self, request: BuildRequest, iidfile: Path) -> list[str]:
        args = ["build", "-f", "Dockerfile", "-t", request.tag, "--iidfile", str(iidfile)]
        if request.progress == "quiet":
            args.append("--quiet")
        else:
            args += ["--progress", _progress_mode(request.progress)]
        if request.no_cache:
            args.append("--no-cache")
        for secret in request.secrets:
            args += ["--secret", secret]
        for name, value in request.build_args.items():
            args += ["--build-arg", f"{name}={value}"]
        for name, value in request.labels.items():
            args += ["--label", f"{name}={value}"]
        return [*args, "-"]

    def _stream_build(self, command: list[str], request: BuildRequest, timeout: float) -> None:
        # On a terminal docker draws its own progress; elsewhere its output is relayed to
        # `self.output` and the end of it kept for the error message.
        on_terminal = request.progress in ("auto", "tty") and sys.stderr.isatty()
        pipe = None if on_terminal else subprocess.PIPE
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=pipe,
                stderr=None if on_terminal else subprocess.STDOUT,
                env=self._env(),
                preexec_fn=term_with_parent,  # a killed CLI's build is canceled, not left running
            )
        except FileNotFoundError as exc:
            raise DockerUnavailable(f"The docker CLI ({self.binary}) was not found.") from exc
        assert process.stdin is not None
        writer = threading.Thread(target=_feed, args=(request.context, process.stdin), daemon=True)
        writer.start()
        # A watchdog rather than a deadline loop: reading output blocks until the build ends.
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        tail: collections.deque[str] = collections.deque(maxlen=60)
        try:
            for raw in process.stdout or ():
                line = raw.decode(errors="replace")
                tail.append(line)
                if request.progress != "quiet":
                    self.output(line)
            returncode = process.wait()
        finally:
            timer.cancel()
            writer.join(timeout=10)
        if returncode != 0:
            output = "".join(tail)
            if "buildx component is missing" in output:
                raise DockerUnavailable(
                    f"{self.binary} needs the buildx plugin for BuildKit builds; install "
                    "docker-buildx, or set PYCOG_DOCKER_CLI to a docker CLI with BuildKit "
                    "built in (Debian's docker.io: /usr/bin/docker)."
                )
            raise DockerCommandFailed(command, returncode, output)

    def tag(self, source: str, target: str) -> None:
        self.run("tag", source, target)

    def push(self, ref: str) -> str:
        """Push an image; returns docker's report (one line per layer)."""
        return self.run("push", ref, timeout=3600).stdout

    def pull(self, ref: str) -> None:
        self.run("pull", ref, timeout=3600)

    def remove_image(self, ref: str) -> None:
        self.run("image", "rm", "-f", ref, check=False)


def _progress_mode(progress: str) -> str:
    if progress == "auto":
        return "auto" if sys.stderr.isatty() else "plain"
    return progress


def _feed(context: BuildContext, stdin: Any) -> None:
    # A closed pipe means docker gave up early; its exit status carries the reason.
    try:
        context.write(stdin)
    except (BrokenPipeError, OSError):
        pass
    finally:
        try:
            stdin.close()
        except OSError:
            pass
