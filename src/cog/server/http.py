"""`python -m cog.server.http`: serve the model in the current directory.

python -m cog.server.http [--host H] [--port P] [--x-mode predict|train]
                          [--upload-url URL] [--await-explicit-shutdown true]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator
from types import FrameType

import uvicorn

from ..errors import CogError
from .app import create_app
from .settings import ServerSettings, resolve_settings

SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Server(uvicorn.Server):
    """Uvicorn, except that SIGTERM is ignored under --await-explicit-shutdown, and a signal
    that asked for a graceful shutdown ends the process with status 0 once it is done."""

    ignore_sigterm = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and self.ignore_sigterm:
            return
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in SHUTDOWN_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve(settings: ServerSettings) -> None:
    """Run the server until /shutdown or a signal (blocking)."""
    server: _Server | None = None

    def request_shutdown() -> None:
        if server is not None:
            server.should_exit = True

    app = create_app(settings, request_shutdown)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=30,
        lifespan="on",
    )
    server = _Server(config)
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
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
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
    serve(settings)


if __name__ == "__main__":
    main()
