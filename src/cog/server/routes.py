"""The HTTP routes of Cog's prediction API."""

from __future__ import annotations

import asyncio
import json
import platform
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.types import Receive

from .._version import COG_API_VERSION, __version__
from .echo import echoed
from .prediction import Prediction
from .requests import (
    BadRequest,
    Envelope,
    new_prediction_id,
    read_envelope,
    response_mode,
    trace_headers,
)
from .supervisor import Busy, NotReady, Supervisor, WorkerCrashed
from .validation import not_an_object
from .webhooks import WebhookSender

KEEPALIVE_SECONDS = 15.0
NOT_READY = {
    "error": "Setup has not finished yet. Wait until it has finished, or GET /health-check for status.",
    "status": "failed",
}
AT_CAPACITY = {"error": "At capacity - all prediction slots busy", "status": "failed"}
TOO_MANY_STREAMS = {"error": "Too many stream subscribers"}
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
NO_STREAMING = {
    "error": "This model does not support streaming responses. Add @cog.streaming to "
    "predict() to enable SSE."
}


def supervisor_of(request: Request) -> Supervisor:
    supervisor: Supervisor = request.app.state.supervisor
    return supervisor


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
            "python_sdk": COG_API_VERSION,
            "python": platform.python_version(),
        },
    }
    if status in ("READY", "BUSY"):
        error = await supervisor.user_healthcheck()
        if supervisor.state == "DEFUNCT":  # the worker died while the probe waited on it
            body["status"] = "DEFUNCT"
        elif error is not None:
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


@dataclass
class Call:
    """What creating a prediction needs of its HTTP request (from Starlette's request, or
    straight from the ASGI scope on the fast path)."""

    kind: str
    """`prediction` or `training`."""
    mode: str
    """`sync`, `async` or `sse` (see `mode_of`)."""
    put: bool
    trace: dict[str, str]
    """The W3C trace headers, passed on to webhooks."""
    receive: Receive
    """The ASGI receive channel, to notice a client that goes away."""


@dataclass
class Reply:
    """A JSON answer; plain text when `body` is a string, an empty body when it is None."""

    status: int
    body: Any = None


async def create_prediction(request: Request) -> Response:
    return await _respond(request, _call(request), None)


async def create_prediction_idempotent(request: Request) -> Response:
    call = _call(request)
    path_id = request.path_params["prediction_id"]
    try:
        envelope = await read_envelope(request, supervisor_of(request).settings.max_request_bytes)
    except BadRequest as exc:
        return exc.response
    if envelope.id is not None and envelope.id != path_id:
        noun = "training" if call.kind == "training" else "prediction"
        detail = [
            {
                "loc": ["body", "id"],
                "msg": f"{noun} ID must match the ID supplied in the URL",
                "type": "value_error",
            }
        ]
        return JSONResponse({"detail": detail}, status_code=422)
    envelope.id = path_id
    return await _respond(request, call, envelope)


async def cancel_prediction(request: Request) -> Response:
    prediction_id = request.path_params["prediction_id"]
    found = supervisor_of(request).cancel(prediction_id)
    return JSONResponse({}, status_code=200 if found else 404)


def _call(request: Request) -> Call:
    kind = "training" if request.url.path.startswith("/trainings") else "prediction"
    trace = trace_headers(request.headers)
    return Call(kind, response_mode(request), request.method == "PUT", trace, request.receive)


async def _respond(request: Request, call: Call, envelope: Envelope | None) -> Response:
    try:
        limit = supervisor_of(request).settings.max_request_bytes
        envelope = envelope or await read_envelope(request, limit)
    except BadRequest as exc:
        return exc.response
    answer = await create(supervisor_of(request), call, envelope)
    if isinstance(answer, Prediction):
        return _stream(request, answer)
    if answer.body is None:
        return Response(status_code=answer.status)
    if isinstance(answer.body, str):
        return PlainTextResponse(answer.body, status_code=answer.status)
    return JSONResponse(answer.body, status_code=answer.status)


async def create(supervisor: Supervisor, call: Call, envelope: Envelope) -> Reply | Prediction:
    """Start (or join) a prediction; the answer, or the prediction to stream as SSE."""
    if call.mode == "sse":
        if call.kind == "training":
            return Reply(406, {"error": "Training endpoints do not support streaming responses."})
        if not supervisor.streams and not _schema_streams(supervisor):
            return Reply(406, NO_STREAMING)
    existing = supervisor.predictions.get(envelope.id or "")
    if existing is not None:
        return await _attach(supervisor, call, existing)
    component = "TrainingInput" if call.kind == "training" else "Input"
    validator = supervisor.validator(component)
    inputs, shown = envelope.input, None
    if validator is not None:
        inputs, errors = validator.validate(inputs)
        if errors:
            return Reply(422, {"detail": errors})
        shown = validator.masked(inputs)
    elif not isinstance(inputs, dict):
        return Reply(422, {"detail": [not_an_object(inputs)]})
    shown = echoed(inputs if shown is None else shown)
    prediction_id = new_prediction_id() if envelope.id is None else envelope.id
    prediction = Prediction(prediction_id, inputs, None if shown is inputs else shown)
    if envelope.webhook:
        prediction.webhook = WebhookSender(
            envelope.webhook,
            envelope.webhook_events_filter,
            prediction.snapshot,
            supervisor.http,
            call.trace,
        )
    prediction.cancel_on_disconnect = call.mode == "sse"
    try:
        supervisor.submit(prediction, envelope.context)
    except WorkerCrashed as exc:
        return Reply(503, {"error": str(exc), "status": "failed"})
    except NotReady:
        return Reply(503, NOT_READY)
    except Busy:
        return Reply(409, AT_CAPACITY)
    if call.mode == "async":
        return Reply(202, {"id": prediction.id, "status": "starting"})
    if call.mode == "sse":
        return prediction
    return await _wait(supervisor, call, prediction)


def _schema_streams(supervisor: Supervisor) -> bool:
    post = (supervisor.schema or {}).get("paths", {}).get("/predictions", {}).get("post", {})
    return bool(post.get("x-cog-streaming"))


async def _attach(supervisor: Supervisor, call: Call, prediction: Prediction) -> Reply | Prediction:
    if call.mode == "sse":
        if not prediction.has_room_for_a_stream():
            return Reply(429, TOO_MANY_STREAMS)
        return prediction
    if call.mode == "async" or call.put:
        return Reply(202, prediction.snapshot())
    return await _wait(supervisor, call, prediction)


async def _wait(supervisor: Supervisor, call: Call, prediction: Prediction) -> Reply:
    """Answer when the prediction ends; a client that goes away cancels it."""
    ended = prediction.when_done()
    gone = asyncio.ensure_future(wait_for_disconnect(call.receive))
    gone.add_done_callback(lambda _: _settle(ended))
    try:
        await ended
    finally:
        gone.cancel()
    if not prediction.done.is_set():
        supervisor.cancel(prediction.id)
        return Reply(499)
    return Reply(200, prediction.snapshot())


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def wait_for_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


def _stream(request: Request, prediction: Prediction) -> Response:
    events = sse_events(supervisor_of(request), prediction)
    return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)


def sse_events(supervisor: Supervisor, prediction: Prediction) -> AsyncGenerator[bytes, None]:
    """A prediction's events as Server-Sent Events, from its start (replayed) to its end; the
    prediction is canceled when its last stream goes away early (if it was made to stream)."""
    prediction.streamed = True  # before the generator runs: it may first run after the end

    async def events() -> AsyncGenerator[bytes, None]:
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
                if queue.empty():  # wait_for costs a task: only when there is a wait
                    try:
                        event = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                    except TimeoutError:
                        yield b": keep-alive\n\n"
                        continue
                else:
                    event = queue.get_nowait()
                if event is None:
                    return
                yield _sse(event.name, event.data)
                if event.name == "completed":
                    return
        finally:
            left = prediction.unsubscribe(queue)
            if left == 0 and prediction.cancel_on_disconnect and not prediction.done.is_set():
                supervisor.cancel(prediction.id)

    return events()


def _sse(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
