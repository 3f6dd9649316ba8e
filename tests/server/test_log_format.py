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

from .conftest import FIXTURES


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
