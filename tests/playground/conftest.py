"""Real model servers, a real `cog playground` in front of them, and headless Chromium.

The browser is Debian's chromium (script/test installs it); Playwright drives it and never
downloads a browser of its own. Without chromium (or Playwright) the browser tests skip and
say why; the relay and packaging tests run anyway.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.cli.conftest import cog_executable
from tests.server.conftest import free_port

FIXTURES = Path(__file__).parent / "fixtures"
CHROMIUM = Path(os.environ.get("PYCOG_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
STARTUP_SECONDS = 30.0


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]


def _wait_until_answering(url: str, process: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what} ended early:\n{process.communicate()[0]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not answer {url} within {STARTUP_SECONDS}s")


@contextlib.contextmanager
def _running(command: list[str], cwd: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate(timeout=5)


@contextlib.contextmanager
def model_server(name: str, tmp_path: Path, reference: bool = False) -> Iterator[Server]:
    """The fixture model `name` served by `python -m cog.server.http` on a free port, from
    the moment its health check answers (it may still be setting up). `reference`: by the
    reference Cog 0.23.1, set up as an image would have it (static schema, type stub)."""
    project = tmp_path / name
    shutil.copytree(FIXTURES / name, project)
    port = free_port()
    python, env = sys.executable, {"PORT": str(port)}
    if reference:
        python, env = _as_in_an_image(project, env)
    command = [python, "-m", "cog.server.http", "--host", "127.0.0.1"]
    with _running(command, project, env) as process:
        url = f"http://127.0.0.1:{port}"
        _wait_until_answering(f"{url}/health-check", process, f"the {name} model server")
        yield Server(url, process)


def _as_in_an_image(project: Path, env: dict[str, str]) -> tuple[str, dict[str, str]]:
    from cog.config import load_config
    from cog.schema import generate_schema
    from tests.reference import reference_python

    schema = generate_schema(project, load_config(project), static=True)
    (project / ".cog").mkdir()
    (project / ".cog" / "openapi_schema.json").write_text(json.dumps(schema))
    python = reference_python()
    # Its worker is started as `python` from PATH, as in an image: the venv comes first.
    path = f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return str(python), {**env, "PATH": path, "COG_PREDICT_TYPE_STUB": "predict.py:Predictor"}


@contextlib.contextmanager
def playground_for(target: str, cwd: Path, *options: str) -> Iterator[Server]:
    """`cog playground --target TARGET -p PORT [OPTIONS]`, the real CLI."""
    port = free_port()
    command = [cog_executable(), "playground", "--target", target, "-p", str(port), *options]
    with _running(command, cwd, {"NO_COLOR": "1"}) as process:
        url = f"http://127.0.0.1:{port}"
        _wait_until_answering(f"{url}/info", process, "cog playground")
        yield Server(url, process)


@contextlib.contextmanager
def model_and_playground(name: str, tmp_path: Path, reference: bool = False) -> Iterator[str]:
    """The fixture model `name` and a playground for it; yields the playground's URL."""
    with (
        model_server(name, tmp_path, reference) as model,
        playground_for(model.url, tmp_path) as page,
    ):
        yield page.url


def wait_for_setup(url: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while httpx.get(f"{url}/api/health-check").json()["status"] == "STARTING":
        assert time.monotonic() < deadline, f"{url} is still STARTING"
        time.sleep(0.05)


def _ready_playground(name: str) -> Any:
    """A module-scoped fixture: the fixture model `name` set up, behind a playground."""

    @pytest.fixture(scope="module", name=name)
    def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
        with model_and_playground(name, tmp_path_factory.mktemp(name)) as url:
            wait_for_setup(url)
            yield url

    return fixture


writer = _ready_playground("writer")
painter = _ready_playground("painter")
projector = _ready_playground("projector")
album = _ready_playground("album")


# Package scope: Playwright keeps an event loop running in this thread until it stops.
@pytest.fixture(scope="package")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(
            f"no Chromium at {CHROMIUM}: script/test installs it (apt-get install chromium)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed: pip install -e '.[dev]'")
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, tmp_path, request):
    """A fresh page; its screenshot is saved under tmp_path (and PYCOG_SCREENSHOTS if set)
    when the test ends, whatever the outcome."""
    context = browser.new_context(viewport={"width": 1200, "height": 860})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    # Everything the page loads comes from the playground itself: no CDN, no other host.
    origins: set[str] = set()
    opened.on("request", lambda sent: origins.add(urlsplit(sent.url).netloc))
    yield opened
    shots = [tmp_path / "screenshots"]
    if os.environ.get("PYCOG_SCREENSHOTS"):
        shots.append(Path(os.environ["PYCOG_SCREENSHOTS"]))
    for folder in shots:
        folder.mkdir(parents=True, exist_ok=True)
        opened.screenshot(path=str(folder / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert not errors, f"the page raised: {errors}"
    assert len(origins - {""}) <= 1, f"the page loaded from several hosts: {origins}"
