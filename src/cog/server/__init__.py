"""The prediction server: Cog's HTTP API in front of a worker process.

settings     what a server serves (cog.yaml, env vars, flags)
errors       the server's errors (rooted in CogError)
requests     the request envelope and response modes
validation   inputs against the schema (Cog's 422 shape)
prediction   one prediction's state and its event streams
supervisor   the worker process, health, slots, and worker events → predictions
files        output files → data URLs or uploads
webhooks     throttled webhooks, retried terminal ones
routes       the HTTP routes
app          the Starlette application
http         `python -m cog.server.http` and `serve()`
log_format   the server's log lines: for people, or JSON (LOG_FORMAT=json)
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # Imported on use, so that `python -m cog.server.http` does not import http.py twice.
    if name == "serve":
        from .http import serve

        return serve
    raise AttributeError(name)
