"""The Starlette routes of Cog's API other than creating predictions (`fast_path`): the index,
health, schema, shutdown and cancel, each a thin adapter over the prediction core; and
pycog's `/metrics`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from .._version import COG_API_VERSION, __version__
from .errors import MetricsUnavailable
from .metrics import ServerMetrics
from .predictions import Predictions


def core_of(request: Request) -> Predictions:
    predictions: Predictions = request.app.state.predictions
    return predictions


async def root(request: Request) -> Response:
    body = {
        "cog_version": COG_API_VERSION,
        "pycog_version": __version__,
        "docs_url": "/docs",
        "openapi_url": "/openapi.json",
        "shutdown_url": "/shutdown",
        "healthcheck_url": "/health-check",
        "predictions_url": "/predictions",
        "predictions_idempotent_url": "/predictions/{prediction_id}",
        "predictions_cancel_url": "/predictions/{prediction_id}/cancel",
    }
    if core_of(request).serves_trainings():
        body |= {
            "trainings_url": "/trainings",
            "trainings_idempotent_url": "/trainings/{training_id}",
            "trainings_cancel_url": "/trainings/{training_id}/cancel",
        }
    return JSONResponse(body)


async def health_check(request: Request) -> Response:
    return JSONResponse(await core_of(request).health())


async def openapi(request: Request) -> Response:
    schema = core_of(request).schema()
    if schema is None:
        return JSONResponse({"error": "OpenAPI schema not available"}, status_code=503)
    return JSONResponse(schema)


async def metrics(request: Request) -> Response:
    """The Prometheus text exposition (not in Cog's API)."""
    server_metrics: ServerMetrics = request.app.state.metrics
    try:
        body, content_type = server_metrics.render()
    except MetricsUnavailable as exc:
        return PlainTextResponse(str(exc), status_code=503)
    return Response(body, headers={"Content-Type": content_type})


async def shutdown(request: Request) -> Response:
    request.app.state.request_shutdown()
    return JSONResponse({})


async def cancel_prediction(request: Request) -> Response:
    found = core_of(request).cancel(request.path_params["prediction_id"])
    return JSONResponse({}, status_code=200 if found else 404)
