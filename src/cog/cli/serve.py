"""`cog serve`: the model's HTTP API on a local port until Ctrl-C."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

import click

from ..errors import CogError
from .console import reporter, say
from .errors import as_click_error
from .model import running_model
from .options import load_project, parse_env, queue_options, runtime_options

if TYPE_CHECKING:
    from ..playground.server import PlaygroundServer


@click.command("serve")
@click.option("-p", "--port", type=int, default=8393, show_default=True, help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--upload-url", help="PUT file outputs to this URL prefix instead of data URLs.")
@click.option("--playground", is_flag=True, help="Also serve the playground page for the model.")
@click.option(
    "--playground-port",
    type=int,
    default=9000,
    show_default=True,
    help="Port of the playground (with --playground; 0 picks a free port).",
)
@queue_options
@runtime_options
def command(
    port: int,
    host: str,
    upload_url: str | None,
    playground: bool,
    playground_port: int,
    runtime: str,
    progress: str,
    env: tuple[str, ...],
    setup_timeout: float,
    config_file: str,
    **queue: Any,
) -> None:
    """Serve the model's prediction API (Cog's HTTP API) until Ctrl-C; with --redis-url and
    --queue, also take predictions from that Redis stream."""
    if playground and playground_port == port:
        raise click.UsageError(
            f"the playground port {playground_port} must differ from the model port {port}; "
            "choose another with --playground-port"
        )
    server_args = _queue_args(queue)
    config = load_project(config_file)
    try:
        # Bound before the model starts, so that a taken port fails at once, not after setup.
        page = _playground(host, port, playground_port) if playground else None
        with running_model(
            config,
            runtime=runtime,  # type: ignore[arg-type]
            report=reporter(progress),
            env=parse_env(env),
            upload_url=upload_url,
            setup_timeout=setup_timeout,
            host=host,
            port=port,
            serve_failed_setup=True,
            server_args=server_args,
        ) as model:
            say(f"Serving at http://{host}:{port} (Ctrl-C to stop)")
            if server_args:
                say(f"Taking predictions from the Redis stream {queue['queue']!r} too")
            with _serving(page) if page is not None else nullcontext():
                _wait_forever(model)
    except KeyboardInterrupt:
        say("Stopped.")
    except CogError as exc:
        raise as_click_error(exc) from None


def _queue_args(queue: dict[str, Any]) -> list[str]:
    """The queue flags for the server; both --redis-url and --queue, or neither."""
    if bool(queue["redis_url"]) != bool(queue["queue"]):
        raise click.UsageError("queue mode needs both --queue NAME and --redis-url URL")
    if not queue["queue"]:
        given = [name for name, value in queue.items() if value is not None]
        if given:
            flags = ", ".join("--" + name.replace("_", "-") for name in given)
            raise click.UsageError(f"{flags} need --queue NAME and --redis-url URL")
        return []
    args: list[str] = []
    for name, value in queue.items():
        if value is not None:
            args += ["--" + name.replace("_", "-"), str(value)]
    return args


def _playground(host: str, model_port: int, port: int) -> PlaygroundServer:
    from ..playground.server import PlaygroundServer, loopback_url

    return PlaygroundServer(loopback_url(host, model_port), host=host, port=port)


@contextmanager
def _serving(page: PlaygroundServer) -> Iterator[None]:
    page.start()
    say(f"Playground at {page.url}")
    try:
        yield
    finally:
        page.stop()


def _wait_forever(model: Any) -> None:
    while model.process is None or model.process.poll() is None:
        time.sleep(0.5)
