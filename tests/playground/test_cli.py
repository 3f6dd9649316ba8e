"""`cog playground` and `cog serve --playground` as a person runs them, and the playground
server's proxy and webhook relay spoken to directly (no browser needed)."""

from __future__ import annotations

import json
import shutil
import signal
import socket

import httpx
import pytest

from tests.cli.conftest import run_cog
from tests.cli.processes import cog_process, wait_gone
from tests.server.conftest import free_port

from .conftest import FIXTURES, model_server, playground_for, wait_for_setup


def test_cog_serve_playground_serves_the_model_and_its_page(tmp_path) -> None:
    """1. `cog serve --playground` on two free ports; 2. the URL is printed; 3. the page and the
    proxied health answer on the second port; 4. Ctrl-C stops both."""
    project = tmp_path / "writer"
    shutil.copytree(FIXTURES / "writer", project)
    model_port, page_port = free_port(), free_port()
    args = ["serve", "--runtime", "local", "-p", str(model_port)]
    with cog_process(
        *args, "--playground", "--playground-port", str(page_port), cwd=project
    ) as cli:
        assert cli.read_until(f"Playground at http://127.0.0.1:{page_port}"), cli.stderr
        page = f"http://127.0.0.1:{page_port}"
        assert httpx.get(f"{page}/info").json() == {"target": f"http://127.0.0.1:{model_port}"}
        assert httpx.get(f"{page}/api/health-check").json()["status"] == "READY"
        assert 'type="module"' in httpx.get(page).text
        cli.remember_tree()
        cli.process.send_signal(signal.SIGINT)
        status, _, err = cli.finish()
    assert status == 0, err
    assert wait_gone([], {model_port, page_port}) == []


def test_cog_playground_on_a_taken_port_says_so(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cog("playground", "-p", str(port), cwd=tmp_path, timeout=60)
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--playground-port" in result.stderr or "-p" in result.stderr


def test_the_proxy_says_when_the_model_is_not_there(tmp_path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with playground_for(dead, tmp_path) as page:
        answer = httpx.get(f"{page.url}/api/health-check")
        assert answer.status_code == 502
        assert f"cannot reach the model at {dead}" in answer.json()["error"]
        assert httpx.get(f"{page.url}/static/js/main.js").status_code == 200


@pytest.mark.slow
def test_webhooks_of_an_async_run_are_relayed_as_events(tmp_path) -> None:
    """1. the relay starts an async prediction with a webhook to itself; 2. its event stream
    replays every body the model posted, the last one terminal; 3. unknown tokens are refused."""
    with model_server("writer", tmp_path) as model, playground_for(model.url, tmp_path) as page:
        wait_for_setup(page.url)  # the model server answers while it is still STARTING
        started = httpx.post(f"{page.url}/relay/predictions", json={"input": {"prompt": "w"}})
        body = started.json()
        assert body["status_code"] == 202, body
        assert body["request"]["webhook"].startswith(f"{page.url}/relay/webhook/")
        states = []
        with httpx.stream("GET", f"{page.url}/relay/events/{body['token']}", timeout=30) as events:
            for line in events.iter_lines():
                if line.startswith("data: "):
                    states.append(json.loads(line[6:]))
        assert states[-1]["status"] == "succeeded"
        assert states[-1]["output"] == ["w1 ", "w2 ", "w3 "]
        assert "processing" in [state["status"] for state in states[:-1]]
        assert httpx.post(f"{page.url}/relay/webhook/nope", json={}).status_code == 404
        assert httpx.get(f"{page.url}/relay/events/nope").status_code == 404


@pytest.mark.slow
def test_webhook_host_names_how_the_model_reaches_the_playground(tmp_path) -> None:
    with (
        model_server("writer", tmp_path) as model,
        playground_for(model.url, tmp_path, "--webhook-host", "localhost") as page,
    ):
        wait_for_setup(page.url)
        body = httpx.post(f"{page.url}/relay/predictions", json={"input": {"prompt": "l"}}).json()
        port = page.url.rsplit(":", 1)[1]
        assert body["request"]["webhook"].startswith(f"http://localhost:{port}/relay/webhook/")
        with httpx.stream("GET", f"{page.url}/relay/events/{body['token']}", timeout=30) as events:
            last = [line for line in events.iter_lines() if line.startswith("data: ")][-1]
        assert json.loads(last[6:])["status"] == "succeeded"


def test_cog_serve_refuses_one_port_for_both(tmp_path) -> None:
    shutil.copytree(FIXTURES / "writer", tmp_path / "writer")
    args = ("serve", "-p", "9123", "--playground", "--playground-port", "9123")
    result = run_cog(*args, cwd=tmp_path / "writer", timeout=60)
    assert result.returncode == 2
    assert "the playground port 9123 must differ from the model port 9123" in result.stderr


def test_other_sites_cannot_drive_the_playground(tmp_path) -> None:
    """1. a POST from another site's page (its Origin) is refused; 2. so is a request under a
    host name that is not loopback (DNS rebinding); 3. the page's own requests pass."""
    dead = f"http://127.0.0.1:{free_port()}"
    with playground_for(dead, tmp_path) as page:
        host = page.url.removeprefix("http://")
        cross_site = httpx.post(
            f"{page.url}/relay/predictions", json={}, headers={"origin": "http://evil.example"}
        )
        assert cross_site.status_code == 403
        assert "http://evil.example are not accepted" in cross_site.text
        rebound = httpx.get(f"{page.url}/info", headers={"host": "evil.example"})
        assert rebound.status_code == 403
        assert "loopback names only" in rebound.text
        own = httpx.post(
            f"{page.url}/api/predictions", json={}, headers={"origin": page.url, "host": host}
        )
        assert own.status_code == 502  # through the guard, to the (absent) model
        assert httpx.get(f"{page.url}/info", headers={"host": "localhost"}).status_code == 200
