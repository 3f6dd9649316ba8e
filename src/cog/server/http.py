"""`python -m cog.server.http`: serve the model in the current directory.

python -m cog.server.http [--host H] [--port P] [--x-mode predict|train]
                          [--upload-url URL] [--await-explicit-shutdown true]
"""

from __future__ import annotations

import argparse
import logging
import sys

from .. import envvars
from ..errors import CogError
from .settings import ServerSettings, resolve_settings
from .worker_process import WorkerProcess, spawn_worker


def serve(settings: ServerSettings, worker: WorkerProcess | None = None) -> None:
    """Run the server until /shutdown or a signal (blocking)."""
    import uvicorn

    from .app import create_app
    from .graceful import GracefulServer
    from .protocol import OneWriteProtocol

    server: GracefulServer | None = None

    def request_shutdown() -> None:
        if server is not None:
            server.should_exit = True

    app = create_app(settings, request_shutdown, worker)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=OneWriteProtocol,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=30,
        lifespan="on",
    )
    server = GracefulServer(config)
    server.ignore_sigterm = settings.await_explicit_shutdown
    server.run()


def _truthy(value: str) -> bool:
    # Cog parses this flag with argparse's `type=bool`: any non-empty string is true.
    return bool(value)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cog.server.http")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--x-mode", dest="mode", choices=["predict", "train"], default="predict")
    parser.add_argument("--upload-url", default=None)
    parser.add_argument("--await-explicit-shutdown", type=_truthy, default=False)
    parser.add_argument("--threads", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    name = (envvars.LOG_LEVEL.get() or "info").lower()
    level = {"warn": "WARNING"}.get(name, name.upper())
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # One INFO line per webhook delivery (the CLI follows logs by webhook) is noise.
    logging.getLogger("httpx").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    try:
        settings = resolve_settings(
            ".",
            mode=args.mode,
            host=args.host,
            port=args.port,
            upload_url=args.upload_url,
            await_explicit_shutdown=args.await_explicit_shutdown,
        )
    except CogError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    # The worker boots (imports the model, runs setup) while this process imports the HTTP stack.
    serve(settings, spawn_worker(settings))


if __name__ == "__main__":
    main()
