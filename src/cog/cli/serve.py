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
from .options import load_project, parse_env, runtime_options

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
) -> None:
    """Serve the model's prediction API (Cog's HTTP API) until Ctrl-C."""
    if playground and playground_port == port:
        raise click.UsageError(
            f"the playground port {playground_port} must differ from the model port {port}; "
            "choose another with --playground-port"
        )
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
        ) as model:
            say(f"Serving at http://{host}:{port} (Ctrl-C to stop)")
            with _serving(page) if page is not None else nullcontext():
                _wait_forever(model)
    except KeyboardInterrupt:
        say("Stopped.")
    except CogError as exc:
        raise as_click_error(exc) from None


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
