"""LOG_FORMAT=json: the server's own log lines as one JSON object each."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import socket
import subprocess
import sys

from cog.server.log_format import handler, wants_json

from .conftest import FIXTURES, free_port
from .scrape import ended, scrape_until
from .scrape import value as metric_value


def _log_through(log_format: str | None, emit) -> str:
    stream = io.StringIO()
    logger = logging.getLogger(f"test.log_format.{log_format}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    out = handler(stream, log_format)
    logger.addHandler(out)
    try:
        emit(logger)
    finally:
        logger.removeHandler(out)
    return stream.getvalue()


def test_json_lines_carry_cogs_keys_and_the_prediction_id():
    text = _log_through(
        "json", lambda log: log.warning("webhook to %s failed", "x", extra={"prediction_id": "p1"})
    )
    (line,) = text.splitlines()
    entry = json.loads(line)
    assert entry["logger"] == "test.log_format.json"
    assert entry["severity"] == "WARNING"
    assert entry["message"] == "webhook to x failed"
    assert entry["prediction_id"] == "p1"
    assert entry["timestamp"].endswith("Z")


def test_a_record_without_a_prediction_has_no_id_and_a_traceback_stays_on_one_line():
    def emit(log: logging.Logger) -> None:
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            log.exception("handling a message")

    (line,) = _log_through("JSON", emit).splitlines()
    entry = json.loads(line)
    assert "prediction_id" not in entry
    assert "ValueError: boom" in entry["exception"]


def test_console_is_the_default_and_any_other_value():
    for value in (None, "", "console", "text"):
        assert not wants_json(value)
        text = _log_through(value, lambda log: log.info("hello"))
        assert text.rstrip().endswith(f"INFO test.log_format.{value}: hello")


def test_a_real_server_writes_json_lines(serve):
    env = {"LOG_FORMAT": "json", "COG_LOG_LEVEL": "info"}
    with serve("echo", env=env) as server, server.client() as client:
        assert client.post("/predictions", json={"input": {"text": "hi"}}).status_code == 200
        server.process.terminate()
        output, _ = server.process.communicate(timeout=30)
    # The model's own print during setup reaches the terminal as it is; the rest is the server's.
    lines = [line for line in output.splitlines() if line.strip() and line != "setting up echo"]
    entries = [json.loads(line) for line in lines]  # every server line parses
    assert any(entry["message"].startswith("setup succeeded") for entry in entries), entries
    assert all({"logger", "timestamp", "severity", "message"} <= entry.keys() for entry in entries)


def test_uvicorns_own_lines_are_json_too(tmp_path):
    """uvicorn logs through the root handler, not the console handlers it installs itself."""
    project = tmp_path / "echo"
    shutil.copytree(FIXTURES / "echo", project)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "cog.server.http", "--host", "127.0.0.1"],
            cwd=project,
            env={**os.environ, "PORT": str(port), "LOG_FORMAT": "json"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    entries = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    bind = [entry for entry in entries if entry["logger"] == "uvicorn.error"]
    assert bind and "address already in use" in bind[0]["message"], result.stderr


def _json_lines(server) -> list[dict]:
    server.process.terminate()
    output, _ = server.process.communicate(timeout=30)
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def _lines_about(entries: list[dict], prediction_id: str) -> list[str]:
    return [entry["message"] for entry in entries if entry.get("prediction_id") == prediction_id]


def test_the_servers_lines_about_a_prediction_carry_its_id(serve):
    """1. A prediction that fails, one whose output upload fails, one canceled, one whose
    webhook cannot be delivered (it succeeds: that is DEBUG, not logged at INFO).
    2. Each line about one of them names it by `prediction_id`; the setup line names none."""
    dead = f"http://127.0.0.1:{free_port()}"
    env = {"LOG_FORMAT": "json", "COG_LOG_LEVEL": "info"}
    with serve("metered", env=env, args=("--upload-url", dead)) as server:
        with server.client() as client:  # 1
            client.put("/predictions/p-fail", json={"input": {"how": "fail"}})
            client.put("/predictions/p-upload", json={"input": {"how": "file"}})
            hook = {"webhook": f"{dead}/hook", "webhook_events_filter": ["start"]}
            client.put("/predictions/p-hook", json={"input": {}, **hook})
            async_answer = {"Prefer": "respond-async"}
            client.put(
                "/predictions/p-cancel", json={"input": {"seconds": 60}}, headers=async_answer
            )
            client.post("/predictions/p-cancel/cancel")
            scrape_until(
                client,
                lambda s: (
                    metric_value(s, "cog_webhook_deliveries_total", result="failed") == 1
                    and ended(s, "canceled") == 1
                ),
            )
        entries = _json_lines(server)
    assert _lines_about(entries, "p-fail") == ["prediction failed: asked to fail"]  # 2
    (upload,) = _lines_about(entries, "p-upload")
    assert upload.startswith(f"prediction failed: uploading out.txt to {dead}/out.txt failed")
    (webhook,) = _lines_about(entries, "p-hook")
    assert webhook.startswith(f"webhook to {dead}/hook failed")
    assert _lines_about(entries, "p-cancel") == ["prediction canceled"]
    (setup,) = [entry for entry in entries if entry["message"].startswith("setup succeeded")]
    assert "prediction_id" not in setup


def test_a_worker_crash_is_logged_for_each_prediction_it_ended(serve):
    env = {"LOG_FORMAT": "json", "COG_LOG_LEVEL": "info"}
    with serve("crash", env=env) as server:
        with server.client() as client:
            client.put("/predictions/p-crash", json={"input": {}})
            server.wait_for("DEFUNCT")
        entries = _json_lines(server)
    assert _lines_about(entries, "p-crash") == ["prediction failed: Worker crashed (exit code 3)"]
    assert any("exited unexpectedly" in entry["message"] for entry in entries)
