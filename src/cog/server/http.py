"""`python -m cog.server.http`: serve the model in the current directory.

python -m cog.server.http [--host H] [--port P] [--x-mode predict|train]
                          [--upload-url URL] [--await-explicit-shutdown true]
                          [--redis-url URL --queue NAME [--queue-group G] [--queue-consumer C]
                           [--queue-result-ttl S] [--queue-claim-after S]
                           [--queue-max-deliveries N]]

With `--redis-url` and `--queue` (or COG_REDIS_URL and COG_QUEUE) the server also takes
predictions from that Redis stream (queue mode: see `cog.queue.settings` for the flags and
`cog.queue.worker` for the rules); its HTTP API serves as ever.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
import time
from typing import Any

from .. import envvars
from ..errors import CogError
from ..queue.settings import resolve_queue_settings
from ..runtime import lifeline
from .log_format import handler, wants_json
from .settings import ServerSettings, resolve_settings
from .worker_process import WorkerProcess, spawn_worker

# A server whose parent is gone and whose graceful shutdown hangs still ends: this long after
# the shutdown's own bound (its grace twice, once for predictions, once for their webhooks;
# in queue mode three times).
ORPHAN_EXIT_MARGIN = 20.0


class ParentWatch:
    """Shuts the server down once the CLI that started it is gone (even killed by SIGKILL)."""

    def __init__(self) -> None:
        self.server: Any = None
        self.gone = False
        self.exit_after = ORPHAN_EXIT_MARGIN

    def watch(self) -> None:
        parent = lifeline.expected_parent()
        if parent is not None:
            # SIGTERM from the kernel: the graceful shutdown a process manager would ask for.
            lifeline.die_with_parent(parent, signal.SIGTERM, self.parent_gone)
        lifeline.exit_on_stdin_eof(self.parent_gone)

    def parent_gone(self) -> None:
        """Called from a watcher thread: ask uvicorn to stop (it checks every 0.1 s), and end
        the process if that has not happened in time."""
        self.gone = True
        if self.server is not None:
            self.server.should_exit = True
        time.sleep(self.exit_after)
        os._exit(1)


def serve(
    settings: ServerSettings,
    worker: WorkerProcess | None = None,
    watch: ParentWatch | None = None,
    *,
    json_logs: bool = False,
) -> None:
    """Run the server until /shutdown, a signal, or the end of the process that started it
    (blocking). With `json_logs`, uvicorn's own lines go through the root logger's JSON handler
    instead of the console handlers uvicorn installs."""
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

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
        log_config=None if json_logs else LOGGING_CONFIG,
        # Requests waiting on predictions end once those end (within the grace); the margin
        # keeps uvicorn from cutting them off first.
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace) + 5,
        # Also how long a connection may take to send a request's head (see OneWriteProtocol).
        timeout_keep_alive=max(1, round(settings.idle_timeout)),
        lifespan="on",
    )
    server = GracefulServer(config)
    server.ignore_sigterm = settings.await_explicit_shutdown
    server.on_shutdown = app.begin_shutdown
    if watch is not None:
        # A queue worker first lets what runs finish, for one grace more (cog.queue.worker).
        graces = 2 if settings.queue is None else 3
        watch.exit_after = graces * settings.shutdown_grace + ORPHAN_EXIT_MARGIN
        watch.server = server
        server.should_exit = watch.gone
    server.run()


def _truthy(value: str) -> bool:
    # Cog parses this flag with argparse's `type=bool`: any non-empty string is true.
    return bool(value)


def _queue_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--queue", default=None)
    parser.add_argument("--queue-group", default=None)
    parser.add_argument("--queue-consumer", default=None)
    parser.add_argument("--queue-result-ttl", type=int, default=None)
    parser.add_argument("--queue-claim-after", type=float, default=None)
    parser.add_argument("--queue-max-deliveries", type=int, default=None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cog.server.http")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--x-mode", dest="mode", choices=["predict", "train"], default="predict")
    parser.add_argument("--upload-url", default=None)
    parser.add_argument("--await-explicit-shutdown", type=_truthy, default=False)
    parser.add_argument("--threads", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("-v", "--verbose", action="store_true")
    _queue_arguments(parser)
    args = parser.parse_args(argv)
    watch = ParentWatch()
    watch.watch()
    name = (envvars.LOG_LEVEL.get() or "info").lower()
    level = {"warn": "WARNING"}.get(name, name.upper())
    log_format = envvars.LOG_FORMAT.get()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else getattr(logging, level, logging.INFO),
        handlers=[handler(sys.stderr, log_format)],
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
            queue=resolve_queue_settings(
                redis_url=args.redis_url,
                queue=args.queue,
                group=args.queue_group,
                consumer=args.queue_consumer,
                result_ttl=args.queue_result_ttl,
                claim_after=args.queue_claim_after,
                max_deliveries=args.queue_max_deliveries,
            ),
        )
    except CogError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    # The worker boots (imports the model, runs setup) while this process imports the HTTP stack.
    serve(settings, spawn_worker(settings), watch, json_logs=wants_json(log_format))


if __name__ == "__main__":
    main()
