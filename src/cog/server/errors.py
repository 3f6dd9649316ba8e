"""Errors of the prediction server.

CogError
└── ServerError          the server cannot do what a request asked; the message says why
    ├── BadRequest       the request itself cannot be used (an HTTP status and Cog's text)
    ├── Busy             every prediction slot is taken
    │   └── QueueFull    ... and the wait queue (COG_MAX_QUEUE) is full too
    ├── NotReady         setup has not finished, or failed
    │   └── WorkerCrashed  the worker process exited: nothing can run any more
    ├── UploadError      an output file could not be uploaded; the prediction fails with it
    └── MetricsUnavailable  GET /metrics in an environment without prometheus_client

Nothing here imports Starlette or uvicorn at import time, so a transport-agnostic core can
raise these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import CogError

if TYPE_CHECKING:
    from starlette.responses import PlainTextResponse


class ServerError(CogError):
    """Base of the server's own errors."""


class BadRequest(ServerError):
    """The request cannot be used: the status, and the plain-text line Cog answers with."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text

    @property
    def response(self) -> PlainTextResponse:
        from starlette.responses import PlainTextResponse

        # After a 413 the rest of the body is not wanted: no reading it to reuse the connection.
        headers = {"Connection": "close"} if self.status == 413 else None
        return PlainTextResponse(self.text, status_code=self.status, headers=headers)


class Busy(ServerError):
    """Every slot is taken."""


class QueueFull(Busy):
    """Every slot is busy and the wait queue is full."""

    def __init__(self, waiting: int, retry_after: int) -> None:
        super().__init__(
            f"Queue full - all prediction slots busy and {waiting} request(s) waiting "
            f"(COG_MAX_QUEUE={waiting}); retry after {retry_after} s"
        )
        self.retry_after = retry_after


class NotReady(ServerError):
    """Setup has not finished (or failed)."""


class WorkerCrashed(NotReady):
    """The worker process exited while the server was serving: nothing can run any more."""


class UploadError(ServerError):
    """An output file could not be uploaded; the prediction fails with this message."""


class MetricsUnavailable(ServerError):
    """prometheus_client is missing from the model's environment (made before pycog's server
    depended on it): the server serves, but not its metrics."""

    def __init__(self) -> None:
        super().__init__(
            "GET /metrics needs prometheus_client, which this environment lacks: install it "
            "(pip install 'prometheus_client>=0.17'), or rebuild the environment with this "
            "pycog (its server depends on it)"
        )
