"""Differential: the same requests against the reference Cog 0.23.1 server and ours, compared
after normalising what may differ (ids, timings, and the fields we add to responses)."""

import contextlib
import json
import os
import shutil
import subprocess
import time

import httpx
import pytest

from cog.config import load_config
from cog.schema import dumps, generate_schema

from ..reference import reference_python
from .conftest import FIXTURES, free_port, run_server

KEPT = ("status", "output", "id")


@contextlib.contextmanager
def reference_server(name, tmp_path):
    project = tmp_path / f"ref-{name}"
    shutil.copytree(FIXTURES / name, project, ignore=shutil.ignore_patterns(".cog"))
    (project / ".cog").mkdir()
    schema = generate_schema(project, load_config(project), static=True)
    (project / ".cog" / "openapi_schema.json").write_text(dumps(schema))
    port = free_port()
    python = reference_python()
    # Its worker is started as `python -c ...` from PATH, as in an image: the venv comes first.
    path = f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {
        **os.environ,
        "PATH": path,
        "PORT": str(port),
        "COG_PREDICT_TYPE_STUB": "predict.py:Predictor",
    }
    process = subprocess.Popen(
        [str(python), "-m", "cog.server.http", "--host", "127.0.0.1"],
        cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health-check", timeout=2).json()["status"] == "READY":
                    break
            time.sleep(0.1)
        else:
            raise AssertionError("the reference server never became READY")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def normalise(response: httpx.Response) -> tuple[int, object]:
    try:
        body = response.json()
    except ValueError:
        return response.status_code, None
    if isinstance(body, dict) and "status" in body and "id" in body:
        kept = {key: body[key] for key in KEPT if key in body}
        kept["has_error"] = bool(body.get("error"))
        return response.status_code, kept
    return response.status_code, body


def send_retrying_busy(client, method, path, body, headers):
    """The reference frees its slot a moment after answering: a request sent at once may get
    409 (pycog never does, see test_predictions). Retry those, boundedly."""
    for _ in range(50):
        response = client.request(method, path, json=body, headers=headers)
        if response.status_code != 409:
            return response
        time.sleep(0.01)
    return response


REQUESTS = [
    ("POST", "/predictions", {"id": "p1", "input": {"text": "hi", "repeat": 2}}, {}),
    ("POST", "/predictions", {"id": "p2", "input": {"text": "x", "shout": True}}, {}),
    ("POST", "/predictions", {"input": {}}, {}),
    ("POST", "/predictions", {"input": {"text": "x", "repeat": 9}}, {}),
    ("PUT", "/predictions/abc", {"input": {"text": "put"}}, {}),
    ("PUT", "/predictions/abc", {"id": "xyz", "input": {"text": "x"}}, {}),
    ("POST", "/predictions/nope/cancel", None, {}),
    ("POST", "/predictions", {"input": {"text": "x"}}, {"Accept": "text/event-stream"}),
]


@pytest.mark.reference
def test_same_answers_as_the_reference_server(tmp_path):
    answers = {}
    for side in ("reference", "pycog"):
        if side == "reference":
            context = reference_server("echo", tmp_path)
        else:
            context = run_server("echo", tmp_path / "ours")
        with context as server:
            url = server if isinstance(server, str) else server.url
            with httpx.Client(base_url=url, timeout=30) as client:
                answers[side] = [
                    normalise(send_retrying_busy(client, method, path, body, headers))
                    for method, path, body, headers in REQUESTS
                ]
                answers[side].append(client.get("/").json())
                answers[side].append(client.get("/health-check").json()["status"])
    for index, (theirs, ours) in enumerate(
        zip(answers["reference"], answers["pycog"], strict=True)
    ):
        if index == 3:  # 422 for a bound: both point at the input; messages are the validator's own
            assert theirs[0] == ours[0] == 422
            assert theirs[1]["detail"][0]["loc"] == ours[1]["detail"][0]["loc"]
            continue
        if index == len(REQUESTS):  # the index document: every key of theirs, same values
            assert theirs.items() <= ours.items(), f"{theirs} is not within {ours}"
            continue
        assert theirs == ours, f"request {index}: {json.dumps(theirs)} != {json.dumps(ours)}"


@pytest.mark.reference
def test_same_stream_as_the_reference_server(tmp_path):
    outputs = {}
    for side in ("reference", "pycog"):
        context = (
            reference_server("stream", tmp_path)
            if side == "reference"
            else run_server("stream", tmp_path / "ours")
        )
        with context as server:
            url = server if isinstance(server, str) else server.url
            with httpx.Client(base_url=url, timeout=30) as client:
                with client.stream(
                    "POST",
                    "/predictions",
                    json={"input": {"count": 4}},
                    headers={"Accept": "text/event-stream"},
                ) as response:
                    events = [
                        line
                        for line in response.iter_lines()
                        if line.startswith(("event:", "data:"))
                    ]
        names = [line[6:].strip() for line in events if line.startswith("event:")]
        chunks = [
            json.loads(line[5:])["chunk"]
            for line in events
            if line.startswith("data:") and '"chunk"' in line
        ]
        outputs[side] = (names[0], names[-1], chunks)
    assert outputs["reference"] == outputs["pycog"]
