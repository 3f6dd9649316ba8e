"""Setup failure, worker crashes, health checks, files, trainings and shutdown."""

import base64
import os
import pathlib
import signal
import subprocess
import time

import pytest

from .conftest import OLDEST_PYTHON
from .receiver import Receiver


@pytest.mark.every_python
def test_the_server_and_worker_run_on_the_python_they_were_started_with(
    serve, model_python, request
):
    # `str | None` in echo's signature is read at run time there too (3.10 added the syntax).
    with serve("echo") as server, server.client() as client:
        python = server.health()["version"]["python"]
        body = client.post("/predictions", json={"input": {"text": "hi", "note": "n"}}).json()
    expected = subprocess.run(
        [model_python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert python == expected
    if request.node.callspec.params["model_python"] == OLDEST_PYTHON:
        assert python.startswith(f"{OLDEST_PYTHON}.")
    assert body["status"] == "succeeded" and body["output"] == "hi"


@pytest.mark.every_python
def test_setup_failure_is_reported_with_the_traceback(serve):
    with serve("failing_setup") as server, server.client() as client:
        health = server.health()
        response = client.post("/predictions", json={"input": {}})
    assert health["status"] == "SETUP_FAILED"
    assert health["setup"]["status"] == "failed"
    assert "weights are missing" in health["setup"]["logs"]
    assert "about to fail" in health["setup"]["logs"]
    assert response.status_code == 503


@pytest.mark.every_python
def test_a_crashed_worker_fails_the_prediction_and_is_defunct(serve):
    with serve("crash") as server, server.client() as client:
        body = client.post("/predictions", json={"input": {"how": "exit"}}).json()
        health = server.health()
        after = client.post("/predictions", json={"input": {}})
    assert body["status"] == "failed"
    assert "Worker crashed" in body["error"]
    assert health["status"] == "DEFUNCT"
    assert after.status_code == 503


def test_segfault_too(serve):
    with serve("crash") as server, server.client() as client:
        body = client.post("/predictions", json={"input": {"how": "segfault"}}).json()
    assert body["status"] == "failed" and "Worker crashed" in body["error"]


@pytest.mark.every_python
def test_user_healthcheck(serve):
    flag = pathlib.Path("/tmp/pycog-healthy-flag")
    flag.unlink(missing_ok=True)
    with serve("healthcheck") as server:
        unhealthy = server.health()
        flag.write_text("1")
        healthy = server.health()
    flag.unlink()
    assert unhealthy["status"] == "UNHEALTHY"
    assert "returned False" in unhealthy["user_healthcheck_error"]
    assert healthy["status"] == "READY"


def test_a_healthcheck_that_hangs_is_unhealthy_in_cogs_words(serve):
    with serve("hanging_healthcheck") as server, server.client() as client:
        assert server.health()["status"] == "READY"
        client.post("/predictions", json={"input": {"hang": True}})
        health = server.health()
    assert health["status"] == "UNHEALTHY"
    assert health["user_healthcheck_error"] == (
        "Healthcheck failed: user-defined healthcheck timed out after 5.0 seconds"
    )


@pytest.mark.every_python
def test_file_inputs_and_outputs_as_data_urls(serve):
    source = "data:text/plain;base64," + base64.b64encode(b"hello").decode()
    with serve("files") as server, server.client() as client:
        single = client.post("/predictions", json={"input": {"source": source}}).json()
        many = client.post(
            "/predictions", json={"input": {"source": source, "mode": "list"}}
        ).json()
        nested = client.post(
            "/predictions", json={"input": {"source": source, "mode": "nested"}}
        ).json()
        buffer = client.post(
            "/predictions", json={"input": {"source": source, "mode": "buffer"}}
        ).json()
    assert single["output"] == "data:text/plain;base64," + base64.b64encode(b"HELLO").decode()
    assert [item.split(";")[0] for item in many["output"]] == ["data:text/plain", "data:image/png"]
    assert nested["output"]["caption"] == "5 bytes"
    assert nested["output"]["image"].startswith("data:text/plain;base64,")
    assert base64.b64decode(buffer["output"].split(",", 1)[1]) == b"raw bytes"


def test_file_inputs_from_urls_and_uploads(serve):
    with Receiver() as receiver:
        receiver_url = receiver.url
        source = f"{receiver_url}/missing.txt"
        with (
            serve("files", args=("--upload-url", receiver_url + "/uploads/")) as server,
            server.client() as client,
        ):
            data = "data:text/plain;base64," + base64.b64encode(b"abc").decode()
            uploaded = client.post(
                "/predictions", json={"input": {"source": data, "mode": "nested"}}
            ).json()
            broken = client.post("/predictions", json={"input": {"source": source}}).json()
    assert uploaded["status"] == "succeeded"
    assert uploaded["output"]["image"].startswith("http://files.test/uploads/pycog-test-out-")
    assert "?" not in uploaded["output"]["image"]
    ((body, content_type),) = receiver.uploads.values()
    assert body == b"ABC" and content_type == "text/plain"
    assert broken["status"] == "failed" and "source" in broken["error"]


def test_prediction_temp_dirs_are_removed(serve):
    root = pathlib.Path("/tmp/pycog/predictions")
    before = set(root.iterdir()) if root.exists() else set()
    source = "data:text/plain;base64," + base64.b64encode(b"x").decode()
    with serve("files") as server, server.client() as client:
        for _ in range(3):
            client.post("/predictions", json={"input": {"source": source}})
    after = set(root.iterdir()) if root.exists() else set()
    assert after - before == set()


@pytest.mark.every_python
def test_trainings(serve):
    with serve("train", args=("--x-mode", "train")) as server, server.client() as client:
        root = client.get("/").json()
        body = client.post("/trainings", json={"input": {"steps": 3}}).json()
        sse = client.post("/trainings", json={"input": {}}, headers={"Accept": "text/event-stream"})
    assert root["trainings_url"] == "/trainings"
    assert body["status"] == "succeeded"
    assert base64.b64decode(body["output"]["weights"].split(",", 1)[1]) == b"www"
    assert sse.status_code == 406


@pytest.mark.every_python
def test_shutdown_endpoint_and_sigterm(serve):
    with serve("echo") as server, server.client() as client:
        assert client.post("/shutdown").json() == {}
        server.process.wait(timeout=20)
    assert server.process.returncode == 0
    with serve("echo", args=("--await-explicit-shutdown", "true")) as server:
        server.process.send_signal(signal.SIGTERM)
        time.sleep(1)
        assert server.process.poll() is None  # SIGTERM ignored until /shutdown
        with server.client() as client:
            client.post("/shutdown")
        server.process.wait(timeout=20)
    with serve("echo") as server:
        os.kill(server.process.pid, signal.SIGTERM)
        server.process.wait(timeout=20)
    assert server.process.returncode == 0
