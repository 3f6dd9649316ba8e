"""`cog playground`: a web page for any running Cog-compatible model server."""

from __future__ import annotations

import time

import click

from ..errors import CogError
from .console import say
from .errors import as_click_error

DEFAULT_TARGET = "http://127.0.0.1:8393"  # where `cog serve` listens by default
DEFAULT_PORT = 0  # a free port, as in Cog


@click.command("playground")
@click.option(
    "--target",
    default=DEFAULT_TARGET,
    show_default=True,
    help="URL of the running model server (pycog's or Cog's).",
)
@click.option(
    "-p",
    "--port",
    type=int,
    default=DEFAULT_PORT,
    show_default=True,
    help="Port to listen on (0 picks a free port).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind (loopback only unless you say otherwise).",
)
@click.option(
    "--webhook-host",
    help="Host name the model uses to reach this playground for async runs' webhooks "
    "(default: the address the page was opened at; e.g. host.docker.internal for a model "
    "in a container, with --host 0.0.0.0).",
)
def command(target: str, port: int, host: str, webhook_host: str | None) -> None:
    """Serve a page that runs the model at --target from its schema, until Ctrl-C.

    Requests go through this server, so the model needs no CORS headers; the webhooks of
    async runs come back to it and are relayed to the page."""
    from ..playground.server import PlaygroundServer

    try:
        server = PlaygroundServer(target, host=host, port=port, webhook_host=webhook_host)
        server.start()
    except CogError as exc:
        raise as_click_error(exc) from None
    say(f"Playground for {target} at {server.url} (Ctrl-C to stop)")
    try:
        while server.alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        say("Stopped.")
    finally:
        server.stop()
