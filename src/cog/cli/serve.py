"""`cog serve`: the model's HTTP API on a local port until Ctrl-C."""

from __future__ import annotations

import time
from typing import Any

import click

from ..errors import CogError
from .console import reporter, say
from .errors import as_click_error
from .model import running_model
from .options import load_project, parse_env, runtime_options


@click.command("serve")
@click.option("-p", "--port", type=int, default=8393, show_default=True, help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--upload-url", help="PUT file outputs to this URL prefix instead of data URLs.")
@runtime_options
def command(
    port: int,
    host: str,
    upload_url: str | None,
    runtime: str,
    progress: str,
    env: tuple[str, ...],
    setup_timeout: float,
    config_file: str,
) -> None:
    """Serve the model's prediction API (Cog's HTTP API) until Ctrl-C."""
    config = load_project(config_file)
    try:
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
            _wait_forever(model)
    except KeyboardInterrupt:
        say("Stopped.")
    except CogError as exc:
        raise as_click_error(exc) from None


def _wait_forever(model: Any) -> None:
    while model.process is None or model.process.poll() is None:
        time.sleep(0.5)
