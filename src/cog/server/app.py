"""The application: the fast path (creating predictions) in front of Starlette's (the other
routes), both over one prediction core; the supervisor's life is the app's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import routes
from .fast_path import FastPredictions
from .metrics import ServerMetrics
from .prediction_log import PredictionLog
from .predictions import Predictions
from .settings import ServerSettings
from .supervisor import Supervisor
from .worker_process import WorkerProcess

if TYPE_CHECKING:
    from ..queue.worker import QueueWorker


def _warm_imports() -> None:
    """anyio modules Starlette imports on its first streaming or threaded response (~5 ms,
    which would otherwise land on the first prediction)."""
    import anyio.abc
    import anyio.lowlevel
    import anyio.streams.memory
    import anyio.streams.stapled
    import anyio.streams.tls

    with contextlib.suppress(ImportError):  # loaded lazily by anyio's module __getattr__
        import anyio._core._sockets
        import anyio._core._streams  # noqa: F401


async def _empty_answer(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods as Cog answers them: the status, no body (and for a wrong
    method, the methods the path allows)."""
    assert isinstance(exc, HTTPException)
    allowed = (exc.headers or {}).get("Allow")
    headers = {}
    if allowed:
        methods = sorted(m.strip() for m in allowed.split(","))
        headers["Allow"] = ",".join(sorted(methods, key=lambda m: m == "HEAD"))
    return Response(status_code=exc.status_code, headers=headers)


def _routes() -> list[Route]:
    table = [
        Route("/", routes.root, methods=["GET"]),
        Route("/health-check", routes.health_check, methods=["GET"]),
        Route("/openapi.json", routes.openapi, methods=["GET"]),
        Route("/metrics", routes.metrics, methods=["GET"]),
        Route("/shutdown", routes.shutdown, methods=["POST"]),
    ]
    # POST /predictions and PUT /predictions/{id} (and for trainings) are the fast path's.
    for prefix in ("/predictions", "/trainings"):
        table.append(
            Route(f"{prefix}/{{prediction_id}}/cancel", routes.cancel_prediction, methods=["POST"])
        )
    return table


def create_app(
    settings: ServerSettings,
    request_shutdown: Callable[[], None],
    worker: WorkerProcess | None = None,
) -> FastPredictions:
    """The app: Starlette's, with POST /predictions and /trainings taken first by the fast path."""
    supervisor = Supervisor(settings, worker)
    metrics = ServerMetrics(supervisor, waiting=lambda: predictions.waiting)
    supervisor.observers += [metrics, PredictionLog()]
    predictions = Predictions(supervisor)
    queue: QueueWorker | None = None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal queue
        await supervisor.start()
        if settings.queue is not None:
            from ..queue.worker import QueueWorker  # imports redis: only in queue mode

            queue = QueueWorker(settings.queue, predictions)
            queue.start()
        # While the worker runs setup(), import what the first response would import.
        asyncio.get_running_loop().call_soon(_warm_imports)
        try:
            yield
        finally:
            if queue is not None:
                await queue.stop()
            await predictions.stop()

    def begin_shutdown() -> None:
        # In queue mode, what runs may finish first (the queue worker cancels it after the
        # grace); over HTTP, Cog cancels it at once.
        if queue is not None:
            queue.begin_drain()
        else:
            predictions.begin_shutdown()

    handlers = {404: _empty_answer, 405: _empty_answer}
    app = Starlette(routes=_routes(), lifespan=lifespan, exception_handlers=handlers)
    app.router.redirect_slashes = False  # Cog answers `/predictions/` with 404, not 307
    app.state.predictions = predictions
    app.state.metrics = metrics
    app.state.request_shutdown = request_shutdown
    fast = FastPredictions(app, predictions)
    fast.begin_shutdown = begin_shutdown
    return fast
