"""Running one prediction (or training) against a model server, as the CLI shows it."""

from __future__ import annotations

import contextlib
import json
import uuid
from typing import Any

import httpx

from .console import say, write_stdout
from .errors import CliError
from .logs import following_logs
from .model import RunningModel

PREDICTION_TIMEOUT = httpx.Timeout(connect=10, read=None, write=60, pool=10)


def run_prediction(
    model: RunningModel,
    inputs: dict[str, Any],
    *,
    endpoint: str = "/predictions",
    stream: bool = False,
) -> dict[str, Any]:
    """POST the prediction and return its final state; Ctrl-C cancels it on the server.

    A streaming model is followed as Server-Sent Events (text chunks and logs printed as they
    arrive); other models on the local runtime send their logs to a webhook of ours so they
    show while the prediction runs."""
    prediction_id = uuid.uuid4().hex
    body: dict[str, Any] = {"id": prediction_id, "input": inputs}
    with model.client(None) as client:
        try:
            if stream:
                return _stream(client, endpoint, body)
            if model.runtime != "local":
                # A container cannot reach the CLI's loopback webhook: logs come at the end.
                return _result(client.post(endpoint, json=body, timeout=PREDICTION_TIMEOUT))
            with following_logs() as (url, follower):
                body.update(webhook=url, webhook_events_filter=["logs"])
                result = _result(client.post(endpoint, json=body, timeout=PREDICTION_TIMEOUT))
                follower.finish(result.get("logs") or "")
                result["_logs_shown"] = True
                return result
        except KeyboardInterrupt:
            say("Canceling the prediction...")
            with contextlib.suppress(httpx.HTTPError):
                client.post(f"{endpoint}/{prediction_id}/cancel", timeout=10)
            raise


def _result(response: httpx.Response) -> dict[str, Any]:
    if response.status_code == 422:
        details = response.json().get("detail", [])
        lines = [f"  {_field(item)}: {item.get('msg')}" for item in details]
        raise CliError("invalid inputs:\n" + "\n".join(lines))
    if response.status_code >= 400:
        raise CliError(f"the model server answered {response.status_code}: {response.text}")
    result: dict[str, Any] = response.json()
    return result


def _field(item: dict[str, Any]) -> str:
    location = [str(part) for part in item.get("loc", []) if part not in ("body", "input")]
    return ".".join(location) or "input"


def _stream(client: httpx.Client, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    """Follow the prediction's Server-Sent Events, printing output and logs as they come."""
    headers = {"Accept": "text/event-stream"}
    final: dict[str, Any] | None = None
    printed_output = logs_shown = False
    with client.stream(
        "POST", endpoint, json=body, headers=headers, timeout=PREDICTION_TIMEOUT
    ) as response:
        if response.status_code != 200:
            response.read()
            return _result(response)
        event = ""
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data = json.loads(line[5:].strip())
                if event == "output" and isinstance(data.get("chunk"), str):
                    write_stdout(data["chunk"])
                    printed_output = True
                elif event == "log":
                    say(data.get("data", "").rstrip("\n"))
                    logs_shown = True
                elif event == "completed":
                    final = data
    if final is None:
        raise CliError("the model server closed the stream before the prediction completed")
    final["_logs_shown"] = logs_shown
    if printed_output:
        write_stdout("\n")
        final["_printed"] = True
    return final


def check_succeeded(result: dict[str, Any]) -> None:
    """Raise with the model's error and logs unless the prediction succeeded."""
    status = result.get("status")
    if status == "succeeded":
        return
    logs = result.get("logs") or ""
    detail = f"\n{logs.rstrip()}" if logs and not result.get("_logs_shown") else ""
    message = f'Prediction failed with status "{status}": {result.get("error") or ""}'
    raise CliError(message.rstrip() + detail)
