"""A running model for the CLI: its server started in the local environment or in a container.

`running_model(...)` picks the runtime (Docker when an engine answers, else the local
virtualenv, or what `--runtime` forces), starts `python -m cog.server.http`, waits for READY
and stops it on exit, whatever happened.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from rich.markup import escape

from .. import envvars
from ..config import Config
from ..mode import ModeName
from .console import say, warn
from .errors import CliError

Runtime = Literal["auto", "local", "docker"]
READY_POLL_SECONDS = 0.1
DEFAULT_SETUP_TIMEOUT = 300.0
STOP_GRACE_SECONDS = 15.0
INTERRUPTED_STOP_GRACE_SECONDS = 3.0


@dataclass
class RunningModel:
    """A model server the CLI talks to."""

    url: str
    runtime: str
    process: subprocess.Popen[str] | None = None
    """The local server process (None in a container)."""
    _output: list[str] = field(default_factory=list)

    def client(self, timeout: float | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout)

    def schema(self) -> dict[str, Any] | None:
        """The served OpenAPI document, or None when the server has none."""
        with self.client(10) as client:
            response = client.get("/openapi.json")
        return response.json() if response.status_code == 200 else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def choose_runtime(runtime: Runtime) -> str:
    """`local` or `docker`: what `--runtime` forces, else Docker when an engine answers."""
    if runtime != "auto":
        return runtime
    from ..build.docker_runtime import engine_available

    return "docker" if engine_available() else "local"


@contextlib.contextmanager
def running_model(
    config: Config,
    *,
    runtime: Runtime = "auto",
    mode: ModeName = "predict",
    report: Callable[[str], None] = say,
    env: dict[str, str] | None = None,
    upload_url: str | None = None,
    setup_timeout: float = DEFAULT_SETUP_TIMEOUT,
    host: str = "127.0.0.1",
    port: int | None = None,
    show_logs: bool = True,
    serve_failed_setup: bool = False,
    server_args: Sequence[str] = (),
) -> Iterator[RunningModel]:
    """`serve_failed_setup`: a setup that fails is reported, and the model yielded anyway (as
    `cog serve` keeps serving SETUP_FAILED, as Cog's does), instead of raising.
    `server_args`: more flags for `python -m cog.server.http` (the queue's)."""
    chosen = choose_runtime(runtime)
    reason = (
        "forced by --runtime"
        if runtime != "auto"
        else ("a Docker engine answered" if chosen == "docker" else "no Docker engine answered")
    )
    report(f"Runtime: {chosen} ({reason})")
    args = ["--x-mode", mode] + (["--upload-url", upload_url] if upload_url else [])
    args += server_args
    starter = _start_docker if chosen == "docker" else _start_local
    with starter(config, args, env or {}, report, host, port, show_logs) as model:
        _wait_ready(model, setup_timeout, serve_failed_setup)
        yield model


@contextlib.contextmanager
def _start_local(
    config: Config,
    args: list[str],
    env: dict[str, str],
    report: Callable[[str], None],
    host: str,
    port: int | None,
    show_logs: bool,
) -> Iterator[RunningModel]:
    from ..localenv import prepare_environment

    environment = prepare_environment(config, report, warn=warn)
    port = port or free_port()
    # The server's own INFO lines are noise in a terminal; the model's logs are shown anyway.
    variables = {
        envvars.LOG_LEVEL.name: "warning",
        **environment.variables(),
        **env,
        envvars.PORT.name: str(port),
    }
    # The server ends with this CLI even if it is killed (see cog.runtime.lifeline).
    variables[envvars.PARENT_PID.name] = str(os.getpid())
    command = [str(environment.python), "-m", "cog.server.http", "--host", host, *args]
    process = subprocess.Popen(
        command,
        cwd=config.project_dir,
        env=variables,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        # Its own session: Ctrl-C reaches only the CLI, which cancels the prediction first
        # and then stops the server (a SIGINT to both would race the cancel).
        start_new_session=True,
    )
    model = RunningModel(f"http://127.0.0.1:{port}", "local", process)
    pump = threading.Thread(target=_pump, args=(process, model._output, show_logs), daemon=True)
    pump.start()
    grace = STOP_GRACE_SECONDS
    try:
        yield model
    except KeyboardInterrupt:
        # The user is waiting: a prediction that ignores the cancel is not waited for long.
        grace = INTERRUPTED_STOP_GRACE_SECONDS
        raise
    finally:
        _stop(process, grace)
        pump.join(timeout=5)


def _pump(process: subprocess.Popen[str], sink: list[str], show: bool) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        sink.append(line)
        if show:
            sys.stderr.write(line)
            sys.stderr.flush()


def _stop(process: subprocess.Popen[str], grace: float) -> None:
    """SIGTERM (the server stops its worker), then SIGKILL to its whole session: the server
    and the worker it started, so no model process outlives the command."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


@contextlib.contextmanager
def _start_docker(
    config: Config,
    args: list[str],
    env: dict[str, str],
    report: Callable[[str], None],
    host: str,
    port: int | None,
    show_logs: bool,
) -> Iterator[RunningModel]:
    from ..build.docker_runtime import ContainerSpec, ModelContainer, build_dev_image

    image = build_dev_image(config)
    command = ["python", "-m", "cog.server.http", *args]
    spec = ContainerSpec(
        image,
        command=command,
        env=env,
        gpus="all" if config.build.gpu else None,
        project_dir=config.project_dir,
        host=host,
        host_port=port,
    )
    with ModelContainer(spec) as container:
        yield RunningModel(container.url, "docker")


def _wait_ready(model: RunningModel, timeout: float, serve_failed_setup: bool = False) -> None:
    deadline = time.monotonic() + timeout
    process = model.process
    with model.client(2) as client:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                output = "".join(model._output[-50:])
                raise CliError(f"the model server exited (status {process.returncode}):\n{output}")
            try:
                health = client.get("/health-check").json()
            except (httpx.HTTPError, ValueError):
                time.sleep(READY_POLL_SECONDS)
                continue
            status = health.get("status")
            if status in ("READY", "BUSY"):
                return
            if status in ("SETUP_FAILED", "DEFUNCT"):
                logs = (health.get("setup") or {}).get("logs", "")
                if status == "SETUP_FAILED" and serve_failed_setup:
                    warn(escape(f"model setup failed; predictions are refused:\n{logs}".rstrip()))
                    return
                raise CliError(f"model setup failed:\n{logs}".rstrip())
            time.sleep(READY_POLL_SECONDS)
    raise CliError(f"the model was not ready after {timeout:.0f}s (--setup-timeout to wait longer)")
