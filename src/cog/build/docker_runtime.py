"""Running model images: what `cog predict|run|serve|train|exec --runtime docker` call.

    engine_available() -> bool
    build_dev_image(config, *, base=BaseImageChoice(), progress="auto", secrets=(),
                    docker=None) -> str
        builds the project (no labels, as Cog does for local runs) and returns the image name
    ModelContainer(ContainerSpec(...)) as container:   # starts; removed on exit
        container.wait_ready(timeout)   # polls /health-check until READY
        container.url                   # http://127.0.0.1:<published port>
    run_in_container(spec, argv, interactive=False) -> int   # `cog exec`: exit status
    container_output(spec) -> CompletedProcess             # a short command's captured output

Containers are started with `--rm`, so they disappear when they stop, and are stopped on exit
of the `with` block, on errors, and on Ctrl-C (KeyboardInterrupt unwinds through it).
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from ..config.model import Config
from .base_image import BaseImageChoice
from .builder import BuildOptions, build_image, default_image_name
from .engine import Docker
from .errors import ContainerSetupFailed, DockerCommandFailed

SERVER_PORT = 5000


def engine_available(docker: Docker | None = None) -> bool:
    """Whether a Docker engine answers (`--runtime docker` is the default then)."""
    return (docker or Docker()).available()


def build_dev_image(
    config: Config,
    *,
    base: BaseImageChoice | None = None,
    progress: str = "auto",
    secrets: tuple[str, ...] = (),
    docker: Docker | None = None,
) -> str:
    """Build the project for a local run; returns the image name (`cog-<dir>-dev`)."""
    name = default_image_name(config).split(":")[0]
    options = BuildOptions(
        tag=f"{name}-dev",
        base=base or BaseImageChoice(),
        secrets=secrets,
        progress=progress,
        labels=False,
    )
    return build_image(config, options, docker or Docker()).name


@dataclass
class ContainerSpec:
    """How to run an image."""

    image: str
    command: list[str] | None = None  # None: the image's CMD (the prediction server)
    env: dict[str, str] = field(default_factory=dict)
    gpus: str | None = None  # `all`, `device=0`, …; None: no GPUs
    project_dir: Path | None = None  # mounted at /src so edits show without a rebuild
    publish: list[str] = field(default_factory=list)  # extra `[ip:]host:container` specs
    host: str = "127.0.0.1"
    host_port: int | None = None  # the server's host port; None: a free one
    extra_hosts: list[str] = field(default_factory=list)  # e.g. host.docker.internal:host-gateway

    def run_args(
        self, *, detach: bool, publish_server: bool, interactive: bool = False
    ) -> list[str]:
        args = ["run", "--rm"]
        if detach:
            args.append("--detach")
        if interactive:
            args += ["--interactive", "--tty"]
        if self.gpus:
            args += ["--gpus", self.gpus]
        if publish_server:
            port = "" if self.host_port is None else str(self.host_port)
            args += ["--publish", f"{self.host}:{port}:{SERVER_PORT}"]
        for spec in self.publish:
            args += ["--publish", spec]
        for name, value in self.env.items():
            args += ["--env", f"{name}={value}"]
        for host in self.extra_hosts:
            args += ["--add-host", host]
        if self.project_dir is not None:
            args += ["--volume", f"{self.project_dir.resolve()}:/src"]
        return [*args, self.image, *(self.command or [])]


class ModelContainer:
    """A model server container, started on enter and stopped (hence removed) on exit."""

    def __init__(self, spec: ContainerSpec, docker: Docker | None = None) -> None:
        self.spec = spec
        self.docker = docker or Docker()
        self.id: str | None = None
        self.url = ""

    def __enter__(self) -> ModelContainer:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        args = self.spec.run_args(detach=True, publish_server=True)
        self.id = self.docker.run(*args, timeout=120).stdout.strip()
        try:
            mapping = self.docker.run("port", self.id, f"{SERVER_PORT}/tcp").stdout.split()[0]
        except BaseException:
            self.stop()
            raise
        self.url = f"http://{self.spec.host}:{mapping.rsplit(':', 1)[1]}"

    def running(self) -> bool:
        if self.id is None:
            return False
        result = self.docker.run("inspect", "-f", "{{.State.Running}}", self.id, check=False)
        return result.stdout.strip() == "true"

    def logs(self) -> str:
        if self.id is None:
            return ""
        result = self.docker.run("logs", self.id, check=False, timeout=30)
        return result.stdout + result.stderr

    def wait_ready(self, timeout: float = 300.0) -> None:
        """Poll `/health-check` every 100 ms until READY; raises ContainerSetupFailed."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=0.25) as client:
            while time.monotonic() < deadline:
                status = self._health(client)
                if status == "READY":
                    return
                if status == "SETUP_FAILED":
                    raise ContainerSetupFailed(f"Model setup failed:\n{self.logs()[-4000:]}")
                if status is None and not self.running():
                    raise ContainerSetupFailed(
                        f"The model container exited before it was ready:\n{self.logs()[-4000:]}"
                    )
                time.sleep(0.1)
        raise ContainerSetupFailed(
            f"The model was not ready within {timeout:.0f}s (raise --setup-timeout):\n"
            f"{self.logs()[-4000:]}"
        )

    def _health(self, client: httpx.Client) -> str | None:
        try:
            response = client.get(f"{self.url}/health-check")
            status = response.json().get("status")
        except (httpx.HTTPError, ValueError):
            return None
        return status if isinstance(status, str) else None

    def stop(self) -> None:
        if self.id is None:
            return
        try:
            self.docker.run("stop", "--time", "5", self.id, check=False, timeout=60)
        except DockerCommandFailed:
            self.docker.run("rm", "-f", self.id, check=False)
        self.id = None


def run_in_container(
    spec: ContainerSpec, argv: list[str], *, interactive: bool = False, docker: Docker | None = None
) -> int:
    """Run a command in a fresh container in the foreground (`cog exec`); its exit status."""
    docker = docker or Docker()
    spec = ContainerSpec(**{**spec.__dict__, "command": argv})
    args = [
        docker.binary,
        *spec.run_args(detach=False, publish_server=False, interactive=interactive),
    ]
    # Inherit the terminal: output streams live and Ctrl-C reaches `docker run`, which stops
    # the container it started.
    return subprocess.run(args, check=False).returncode


def container_output(
    spec: ContainerSpec, *, timeout: float = 600, docker: Docker | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the spec's command in a fresh container and capture its status and output (for a
    short command such as `python -m cog.schema`)."""
    docker = docker or Docker()
    return docker.run(
        *spec.run_args(detach=False, publish_server=False), timeout=timeout, check=False
    )
