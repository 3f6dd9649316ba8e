"""The Deployment's probes, run exactly as it writes them, against real server processes."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import free_port, run_server

from .conftest import by_kind, manifests

PROBE_TIMEOUT = 30


@pytest.fixture(scope="module")
def container(tmp_path_factory) -> dict:
    deployment = by_kind(manifests("someone/model", cwd=tmp_path_factory.mktemp("m")))["Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def commands(container: dict) -> dict[str, list[str]]:
    probes = {
        kind: container[f"{kind}Probe"]["exec"]["command"]
        for kind in ("startup", "readiness", "liveness")
    }
    return {**probes, "preStop": container["lifecycle"]["preStop"]["exec"]["command"]}


def probe_env(port: int, ready_file: Path) -> dict[str, str]:
    # `python` of the manifest resolves, on PATH, to the interpreter that runs the tests (the
    # image's is the one that runs the server); the ready file moves out of /var/run.
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
    return {**os.environ, "PATH": path, "PORT": str(port), "PYCOG_READY_FILE": str(ready_file)}


class Prober:
    def __init__(self, container: dict, port: int, ready_file: Path) -> None:
        self.commands = commands(container)
        self.env = probe_env(port, ready_file)

    def passes(self, kind: str) -> bool:
        result = subprocess.run(
            self.commands[kind], env=self.env, capture_output=True, timeout=PROBE_TIMEOUT
        )
        assert result.returncode in (0, 1), result.stderr
        return result.returncode == 0


def server_env(ready_file: Path, **extra: str) -> dict[str, str]:
    return {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "PYCOG_READY_FILE": str(ready_file), **extra}


def port_of(server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def wait_until_setup_ended(server, timeout: float = 60) -> None:
    """Without a health check (which would write the ready file): the schema is served once
    setup has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.get(f"{server.url}/openapi.json").status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError("setup never ended")


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(") ", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def test_not_ready_during_setup_ready_after(container, tmp_path):
    ready_file = tmp_path / "ready"
    gate = tmp_path / "gate"
    env = server_env(ready_file, SETUP_GATE=str(gate))
    with run_server("gated_setup", tmp_path, env=env, wait=False) as server:
        prober = Prober(container, port_of(server), ready_file)
        assert server.health()["status"] == "STARTING"
        assert not prober.passes("startup")
        assert not prober.passes("readiness")
        assert prober.passes("liveness")  # a long setup is not a dead server
        gate.touch()
        wait_until_setup_ended(server)
        assert not ready_file.exists()
        assert prober.passes("readiness")  # its own health check wrote the file
        assert ready_file.exists()
        assert prober.passes("startup")
        assert prober.passes("liveness")


def test_liveness_passes_while_busy_and_fails_once_defunct(container, tmp_path):
    ready_file = tmp_path / "ready"
    gate = tmp_path / "gate"
    gate.touch()
    with run_server(
        "gated_setup", tmp_path, env=server_env(ready_file, SETUP_GATE=str(gate))
    ) as server:
        prober = Prober(container, port_of(server), ready_file)
        with server.client() as client:
            client.post(
                "/predictions",
                json={"id": "long", "input": {"seconds": 600}},
                headers={"Prefer": "respond-async"},
            )
        server.wait_for("BUSY")
        assert prober.passes("liveness")
        assert prober.passes("readiness")
        (worker,) = children_of(server.process.pid)
        os.kill(worker, signal.SIGKILL)
        server.wait_for("DEFUNCT")
        assert not prober.passes("liveness")
        assert server.process.poll() is None  # the kubelet, not the server, restarts it


def test_a_failed_setup_is_started_and_alive_but_never_ready(container, tmp_path):
    ready_file = tmp_path / "ready"
    with run_server("failing_setup", tmp_path, env=server_env(ready_file)) as server:
        prober = Prober(container, port_of(server), ready_file)
        assert server.health()["status"] == "SETUP_FAILED"
        assert prober.passes("startup")
        assert prober.passes("liveness")
        assert not prober.passes("readiness")
        assert not ready_file.exists()


def test_liveness_fails_when_nothing_answers(container, tmp_path):
    prober = Prober(container, free_port(), tmp_path / "ready")
    assert not prober.passes("liveness")
    assert not prober.passes("startup")
    assert not prober.passes("readiness")


def test_the_prestop_hook_waits_for_the_running_prediction(container, tmp_path):
    ready_file = tmp_path / "ready"
    gate = tmp_path / "gate"
    gate.touch()
    env = server_env(ready_file, SETUP_GATE=str(gate))
    with run_server("gated_setup", tmp_path, env=env) as server, server.client() as client:
        prober = Prober(container, port_of(server), ready_file)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            answer = pool.submit(client.post, "/predictions", json={"input": {"seconds": 12}})
            server.wait_for("BUSY")
            assert prober.passes("preStop")
            # The hook's settle time is shorter than the prediction: it returned because the
            # prediction ended, so the SIGTERM that follows has nothing to cancel.
            assert server.health()["status"] == "READY"
            body = answer.result(timeout=30).json()
    assert body["status"] == "succeeded"


def test_the_probe_imports_nothing_heavy(tmp_path):
    code = (
        "import sys, cog.kubernetes.probe\n"
        "heavy = {'httpx', 'starlette', 'uvicorn', 'yaml', 'jsonschema', 'cog.server', 'asyncio'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "[]", result.stderr
