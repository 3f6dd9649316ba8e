"""A cog.yaml fault reaches the user in the words `cog schema` uses, from the server and `cog serve`."""

import os
import shutil
import subprocess
import sys

from .conftest import FIXTURES, RunningServer, free_port

CLI = [sys.executable, "-c", "from cog.cli.main import main; main()"]
SCHEMA_FAULT = 'build:\n  python_version: "3.11"\nrun: 12\n'
BUILD_FAULT = 'build:\n  python_version: "3.11"\n  gpu: maybe\npredict: "predict.py:Predictor"\n'


def _project(tmp_path, config: str):
    project = tmp_path / "echo"
    shutil.copytree(FIXTURES / "echo", project)
    (project / "cog.yaml").write_text(config)
    return project


def _schema_error(project) -> str:
    result = subprocess.run(
        [*CLI, "schema", "--static"], cwd=project, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    return result.stderr.strip().removeprefix("Error: ")


def test_the_server_refuses_with_the_fault_cog_schema_names(tmp_path):
    project = _project(tmp_path, SCHEMA_FAULT)
    expected = _schema_error(project)
    assert "cog.yaml:3: run: must be a string" in expected
    server = subprocess.run(
        [sys.executable, "-m", "cog.server.http", "--host", "127.0.0.1"],
        cwd=project, env={**os.environ, "PORT": str(free_port())},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert server.returncode == 1
    assert expected in server.stderr
    assert "no predictor to serve" not in server.stderr


def test_cog_serve_refuses_with_the_same_words(tmp_path):
    project = _project(tmp_path, SCHEMA_FAULT)
    expected = _schema_error(project)
    serve = subprocess.run(
        [*CLI, "serve", "-p", str(free_port())],
        cwd=project, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert serve.returncode == 1
    assert expected in serve.stderr
    assert "no predictor to serve" not in serve.stderr


def test_a_fault_outside_the_references_is_logged_and_the_model_still_serves(tmp_path):
    project = _project(tmp_path, BUILD_FAULT)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cog.server.http", "--host", "127.0.0.1"],
        cwd=project, env={**os.environ, "PORT": str(port)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    server = RunningServer(f"http://127.0.0.1:{port}", process, project)
    try:
        assert server.wait_for("READY", "SETUP_FAILED")["status"] == "READY"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert "cog.yaml:3: build.gpu:" in output
