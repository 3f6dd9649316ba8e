"""The prediction server: Cog's HTTP API in front of a worker process.

settings     what a server serves (cog.yaml, env vars, flags), resolved once
errors       the server's errors (rooted in CogError)
predictions  the core: create / attach / wait / stream / cancel, no transport
prediction   one prediction's state machine and its event streams
supervisor   the worker process, health, slots, and worker events → their prediction
validation   inputs against the schema (Cog's 422 shape)
files        output files → data URLs or uploads
webhooks     throttled webhooks, retried terminal ones
requests     reading an HTTP request: body, envelope, response mode
fast_path    creating predictions over HTTP (POST, PUT, SSE), straight on ASGI
routes       the other HTTP routes (Starlette)
app          the application: the fast path in front of Starlette, one core
http         `python -m cog.server.http` and `serve()`
log_format   the server's log lines: for people, or JSON (LOG_FORMAT=json)
prediction_log  the log line at each prediction's end, with its id (an observer)
metrics      GET /metrics: Prometheus counters, histograms, gauges (an observer)
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # Imported on use, so that `python -m cog.server.http` does not import http.py twice.
    if name == "serve":
        from .http import serve

        return serve
    raise AttributeError(name)
