"""Forward the page's `/api/...` requests to the model server, streaming the answer back.

Streaming matters: an SSE prediction's events reach the page as the model emits them, and a
page that goes away closes the upstream stream, which cancels the prediction (Cog's rule).
"""

from __future__ import annotations

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

# Request headers the model's API reads; the rest (cookies, the browser's Host) stay here.
FORWARDED_REQUEST_HEADERS = ("accept", "prefer", "content-type", "traceparent", "tracestate")
# Response headers that describe the body as it is re-sent (length and encoding are recomputed).
DROPPED_RESPONSE_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive"}


def upstream_client(target: str) -> httpx.AsyncClient:
    # No read timeout: a sync prediction answers when it ends, a stream lasts as long as it runs.
    return httpx.AsyncClient(base_url=target, timeout=httpx.Timeout(10.0, read=None))


def unreachable(target: str, exc: httpx.HTTPError) -> Response:
    message = f"cannot reach the model at {target} ({exc}); is it running?"
    return JSONResponse({"error": message}, status_code=502)


async def forward(request: Request) -> Response:
    client: httpx.AsyncClient = request.app.state.upstream
    path = "/" + request.path_params["path"]
    headers = {k: v for k in FORWARDED_REQUEST_HEADERS if (v := request.headers.get(k))}
    outgoing = client.build_request(
        request.method,
        path,
        params=request.query_params,
        headers=headers,
        content=await request.body(),
    )
    try:
        upstream = await client.send(outgoing, stream=True)
    except httpx.HTTPError as exc:
        return unreachable(str(client.base_url), exc)
    kept = {k: v for k, v in upstream.headers.items() if k.lower() not in DROPPED_RESPONSE_HEADERS}
    return StreamingResponse(
        upstream.aiter_raw(),
        status_code=upstream.status_code,
        headers=kept,
        background=BackgroundTask(upstream.aclose),
    )
