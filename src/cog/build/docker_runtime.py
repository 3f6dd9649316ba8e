"""Running model images: what `cog predict|run|serve|train|exec --runtime docker` call.

    engine_available() -> bool
    build_dev_image(config, *, base=BaseImageChoice(), progress="auto", secrets=(),
                    docker=None) -> str
        builds the project (no labels, as Cog does for local runs) and returns the image name
    ModelContainer(ContainerSpec(...)) as container:   # starts; removed on exit
        container.wait_ready(timeout)   # polls /health-check until READY
        container.url                   # http://127.0.0.1:<published port>
    container_command(spec, argv, keep_stdin=, name=) -> argv  # `cog exec` runs it in the foreground
    run_in_container(spec, argv, interactive=False) -> int   # the same, its exit status
    container_output(spec) -> CompletedProcess             # a short command's captured output

Containers are started with `--rm`, so they disappear when they stop, and are stopped on exit
of the `with` block, on errors, and on Ctrl-C (KeyboardInterrupt unwinds through it).

None outlives the CLI, even killed by SIGKILL. A model container's `docker run` client stays in
the foreground with `--interactive`, its stdin a pipe only the CLI holds, and the server is
told (PYCOG_EXIT_ON_STDIN_EOF) to shut down when that stdin ends: the CLI's death closes the
pipe, the client passes the end of stream into the container. The client also gets SIGTERM
from the kernel when the CLI dies (Linux) and, as `docker run` does, hands it to the container.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

from .. import envvars
from ..config.model import Config
from ..runtime.lifeline import term_with_parent
from .base_image import BaseImageChoice
from .builder import BuildOptions, build_image, default_image_name
from .engine import Docker
from .errors import ContainerSetupFailed, DockerCommandFailed

SERVER_PORT = 5000
START_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 60.0


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
        self,
        *,
        detach: bool,
        publish_server: bool,
        interactive: bool = False,
        keep_stdin: bool = False,
        attach: tuple[str, ...] = (),
        name: str | None = None,
    ) -> list[str]:
        """`docker run` arguments. `interactive`: a terminal (`-it`); `keep_stdin`: stdin
        passed on (`-i`); `attach`: only these streams (default: all, when not detached)."""
        args = ["run", "--rm"]
        if name is not None:
            args += ["--name", name]
        for stream in attach:
            args += ["--attach", stream]
        if detach:
            args.append("--detach")
        if interactive:
            args += ["--interactive", "--tty"]
        elif keep_stdin:
            args.append("--interactive")
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
        self.client: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ModelContainer:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the container with a foreground `docker run -i` client (see the module's
        docstring) and find its published port."""
        name = container_name()
        spec = ContainerSpec(
            **{**self.spec.__dict__, "env": {**self.spec.env, envvars.EXIT_ON_STDIN_EOF.name: "1"}}
        )
        # Only stdin is attached: the server's output stays in `docker logs`, and a client
        # that nobody reads cannot hold the server back.
        args = spec.run_args(
            detach=False, publish_server=True, keep_stdin=True, attach=("stdin",), name=name
        )
        errors = tempfile.TemporaryFile()
        self.client = subprocess.Popen(
            [self.docker.binary, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env=self.docker._env(),
            # Its own session: Ctrl-C reaches only the CLI, which cancels the prediction
            # before it stops the container.
            start_new_session=True,
            preexec_fn=term_with_parent,
        )
        self.id = name
        try:
            self.url = f"http://{self.spec.host}:{self._published_port(errors)}"
        except BaseException:
            self.stop()
            raise
        finally:
            errors.close()

    def _published_port(self, errors: IO[bytes]) -> str:
        assert self.client is not None and self.id is not None
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            result = self.docker.run("port", self.id, f"{SERVER_PORT}/tcp", check=False)
            if result.returncode == 0 and result.stdout.split():
                return result.stdout.split()[0].rsplit(":", 1)[1]
            if self.client.poll() is not None:
                errors.seek(0)
                message = errors.read().decode(errors="replace")
                command = [self.docker.binary, "run", self.spec.image]
                raise DockerCommandFailed(command, self.client.returncode, message)
            if time.monotonic() > deadline:
                raise DockerCommandFailed(
                    [self.docker.binary, "run", self.spec.image],
                    -1,
                    f"the container did not start within {START_TIMEOUT_SECONDS:.0f}s",
                )
            time.sleep(0.05)

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
        if self.id is not None:
            try:
                self.docker.run("stop", "--time", "5", self.id, check=False, timeout=60)
            except DockerCommandFailed:
                pass
            # `--rm` removes a stopped container asynchronously: done here, and waited for, so
            # that when stop() returns the container is gone (and its name free).
            remove_container(self.id, self.docker)
            wait_removed(self.id, self.docker)
            self.id = None
        client, self.client = self.client, None
        if client is not None:
            # The client ends with its container; one that does not is not left behind.
            with contextlib.suppress(OSError):
                if client.stdin is not None:
                    client.stdin.close()
            try:
                client.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                client.kill()
                client.wait()


def container_name() -> str:
    """A name of our own for a container, known before `docker run` answers (to stop it)."""
    return f"pycog-{uuid.uuid4().hex[:12]}"


def remove_container(name: str, docker: Docker | None = None) -> None:
    """Remove a container whatever its state (gone already is fine)."""
    (docker or Docker()).run("rm", "--force", name, check=False, timeout=STOP_TIMEOUT_SECONDS)


def wait_removed(name: str, docker: Docker, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """Wait (bounded) until the engine no longer knows the container."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = docker.run("container", "inspect", name, check=False, timeout=30)
        if found.returncode != 0:
            return
        time.sleep(0.1)


def container_command(
    spec: ContainerSpec,
    argv: list[str],
    *,
    interactive: bool = False,
    keep_stdin: bool = False,
    name: str | None = None,
    docker: Docker | None = None,
) -> list[str]:
    """The `docker run` command line that runs `argv` in a fresh container, in the foreground."""
    docker = docker or Docker()
    spec = ContainerSpec(**{**spec.__dict__, "command": argv})
    args = spec.run_args(
        detach=False,
        publish_server=False,
        interactive=interactive,
        keep_stdin=keep_stdin,
        name=name,
    )
    return [docker.binary, *args]


def run_in_container(
    spec: ContainerSpec, argv: list[str], *, interactive: bool = False, docker: Docker | None = None
) -> int:
    """Run a command in a fresh container in the foreground; its exit status."""
    # Inherit the terminal: output streams live and Ctrl-C reaches `docker run`, which stops
    # the container it started.
    command = container_command(spec, argv, interactive=interactive, docker=docker)
    return subprocess.run(command, check=False).returncode


def container_output(
    spec: ContainerSpec, *, timeout: float = 600, docker: Docker | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the spec's command in a fresh container and capture its status and output (for a
    short command such as `python -m cog.schema`)."""
    docker = docker or Docker()
    return docker.run(
        *spec.run_args(detach=False, publish_server=False), timeout=timeout, check=False
    )
