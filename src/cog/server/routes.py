"""The HTTP routes of Cog's prediction API."""

from __future__ import annotations

import asyncio
import json
import platform
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from .._version import __version__
from .prediction import Prediction
from .requests import BadRequest, Envelope, new_prediction_id, read_envelope, response_mode
from .supervisor import Busy, NotReady, Supervisor
from .webhooks import WebhookSender

KEEPALIVE_SECONDS = 15.0
NOT_READY = {
    "error": "Setup has not finished yet. Wait until it has finished, or GET /health-check for status.",
    "status": "failed",
}
AT_CAPACITY = {"error": "At capacity - all prediction slots busy", "status": "failed"}
NO_STREAMING = {
    "error": "This model does not support streaming responses. Add @cog.streaming to "
    "predict() to enable SSE."
}


def supervisor_of(request: Request) -> Supervisor:
    supervisor: Supervisor = request.app.state.supervisor
    return supervisor


async def root(request: Request) -> Response:
    body = {
        "cog_version": __version__,
        "docs_url": "/docs",
        "openapi_url": "/openapi.json",
        "shutdown_url": "/shutdown",
        "healthcheck_url": "/health-check",
        "predictions_url": "/predictions",
        "predictions_idempotent_url": "/predictions/{prediction_id}",
        "predictions_cancel_url": "/predictions/{prediction_id}/cancel",
    }
    if _serves_trainings(supervisor_of(request)):
        body |= {
            "trainings_url": "/trainings",
            "trainings_idempotent_url": "/trainings/{training_id}",
            "trainings_cancel_url": "/trainings/{training_id}/cancel",
        }
    return JSONResponse(body)


def _serves_trainings(supervisor: Supervisor) -> bool:
    schemas = (supervisor.schema or {}).get("components", {}).get("schemas", {})
    return supervisor.settings.has_train or "TrainingInput" in schemas


async def health_check(request: Request) -> Response:
    supervisor = supervisor_of(request)
    status = supervisor.status()
    body: dict[str, Any] = {
        "status": status,
        "setup": supervisor.setup.as_json(),
        "version": {
            "pycog": __version__,
            "python_sdk": __version__,
            "python": platform.python_version(),
        },
    }
    if status in ("READY", "BUSY"):
        error = await supervisor.user_healthcheck()
        if error is not None:
            body["status"] = "UNHEALTHY"
            body["user_healthcheck_error"] = error
    if body["status"] == "READY":
        request.app.state.ready_file.mark()
    return JSONResponse(body)


async def openapi(request: Request) -> Response:
    schema = supervisor_of(request).schema
    if schema is None or supervisor_of(request).state == "STARTING":
        return JSONResponse({"error": "OpenAPI schema not available"}, status_code=503)
    return JSONResponse(schema)


async def shutdown(request: Request) -> Response:
    request.app.state.request_shutdown()
    return JSONResponse({})


# -- predictions and trainings -------------------------------------------------------------


async def create_prediction(request: Request) -> Response:
    return await _create(request, _kind(request), None)


async def create_prediction_idempotent(request: Request) -> Response:
    kind = _kind(request)
    path_id = request.path_params["prediction_id"]
    try:
        envelope = await read_envelope(request)
    except BadRequest as exc:
        return exc.response
    if envelope.id is not None and envelope.id != path_id:
        noun = "training" if kind == "training" else "prediction"
        detail = [
            {
                "loc": ["body", "id"],
                "msg": f"{noun} ID must match the ID supplied in the URL",
                "type": "value_error",
            }
        ]
        return JSONResponse({"detail": detail}, status_code=422)
    envelope.id = path_id
    return await _create(request, kind, envelope)


async def cancel_prediction(request: Request) -> Response:
    prediction_id = request.path_params["prediction_id"]
    found = supervisor_of(request).cancel(prediction_id)
    return JSONResponse({}, status_code=200 if found else 404)


def _kind(request: Request) -> str:
    return "training" if request.url.path.startswith("/trainings") else "prediction"


async def _create(request: Request, kind: str, envelope: Envelope | None) -> Response:
    supervisor = supervisor_of(request)
    mode = response_mode(request)
    try:
        envelope = envelope or await read_envelope(request)
    except BadRequest as exc:
        return exc.response
    if mode == "sse":
        if kind == "training":
            return JSONResponse(
                {"error": "Training endpoints do not support streaming responses."}, status_code=406
            )
        if not supervisor.streams and not _schema_streams(supervisor):
            return JSONResponse(NO_STREAMING, status_code=406)
    existing = supervisor.predictions.get(envelope.id or "")
    if existing is not None:
        return await _attach(request, existing, mode)
    component = "TrainingInput" if kind == "training" else "Input"
    validator = supervisor.validator(component)
    inputs = envelope.input
    if validator is not None:
        inputs, errors = validator.validate(inputs)
        if errors:
            return JSONResponse({"detail": errors}, status_code=422)
    prediction = Prediction(envelope.id or new_prediction_id(), inputs)
    if envelope.webhook:
        prediction.webhook = WebhookSender(
            envelope.webhook,
            envelope.webhook_events_filter,
            prediction.snapshot,
            supervisor.http,
            _trace_headers(request),
        )
    prediction.cancel_on_disconnect = mode == "sse"
    try:
        supervisor.submit(prediction, envelope.context)
    except NotReady:
        return JSONResponse(NOT_READY, status_code=503)
    except Busy:
        return JSONResponse(AT_CAPACITY, status_code=409)
    if mode == "async":
        return JSONResponse({"id": prediction.id, "status": "starting"}, status_code=202)
    if mode == "sse":
        return _stream(request, prediction)
    return await _wait(request, prediction)


def _schema_streams(supervisor: Supervisor) -> bool:
    post = (supervisor.schema or {}).get("paths", {}).get("/predictions", {}).get("post", {})
    return bool(post.get("x-cog-streaming"))


def _trace_headers(request: Request) -> dict[str, str]:
    return {k: v for k in ("traceparent", "tracestate") if (v := request.headers.get(k))}


async def _attach(request: Request, prediction: Prediction, mode: str) -> Response:
    if mode == "sse":
        return _stream(request, prediction)
    if mode == "async" or request.method == "PUT":
        return JSONResponse(prediction.snapshot(), status_code=202)
    return await _wait(request, prediction)


async def _wait(request: Request, prediction: Prediction) -> Response:
    """Answer when the prediction ends; a client that goes away cancels it."""
    done = asyncio.ensure_future(prediction.done.wait())
    gone = asyncio.ensure_future(_disconnected(request))
    finished, _ = await asyncio.wait({done, gone}, return_when=asyncio.FIRST_COMPLETED)
    if done not in finished:
        done.cancel()
        supervisor_of(request).cancel(prediction.id)
        return Response(status_code=499)
    gone.cancel()
    return JSONResponse(prediction.snapshot())


async def _disconnected(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def _stream(request: Request, prediction: Prediction) -> Response:
    supervisor = supervisor_of(request)

    async def events() -> AsyncIterator[bytes]:
        queue = prediction.subscribe()
        try:
            if prediction.dropped:
                body = {
                    "error": "SSE stream replay truncated; events were dropped",
                    "skipped": prediction.dropped,
                }
                yield _sse("error", body)
                return
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if event is None:
                    return
                yield _sse(event.name, event.data)
                if event.name == "completed":
                    return
        finally:
            left = prediction.unsubscribe(queue)
            if left == 0 and prediction.cancel_on_disconnect and not prediction.done.is_set():
                supervisor.cancel(prediction.id)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


def _sse(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
