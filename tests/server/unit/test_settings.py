"""What the server reads from the environment is resolved once, into ServerSettings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cog.server.prediction import StreamLimits
from cog.server.settings import resolve_settings

FIXTURES = Path(__file__).parents[1] / "fixtures"


def project(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURES / "echo", tmp_path / "echo")
    return tmp_path / "echo"


def test_defaults_are_cogs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WEBHOOK_AUTH_TOKEN", "COG_THROTTLE_RESPONSE_INTERVAL", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(name, raising=False)
    settings = resolve_settings(project(tmp_path))
    assert settings.stream_limits == StreamLimits(history=1024, backlog=1024, subscribers=1024)
    assert (settings.webhook_token, settings.webhook_interval) == (None, 0.5)
    assert settings.ready_file is None


def test_stream_webhook_and_ready_file_settings_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COG_STREAM_HISTORY_CAPACITY", "0")
    monkeypatch.setenv("PYCOG_STREAM_SUBSCRIBER_BACKLOG", "0")  # at least one event
    monkeypatch.setenv("PYCOG_STREAM_MAX_SUBSCRIBERS", "3")
    monkeypatch.setenv("WEBHOOK_AUTH_TOKEN", "s3cret")
    monkeypatch.setenv("COG_THROTTLE_RESPONSE_INTERVAL", "0")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("PYCOG_READY_FILE", str(tmp_path / "ready"))
    settings = resolve_settings(project(tmp_path))
    monkeypatch.setenv("WEBHOOK_AUTH_TOKEN", "changed later")  # read once: not seen
    assert settings.stream_limits == StreamLimits(history=0, backlog=1, subscribers=3)
    assert (settings.webhook_token, settings.webhook_interval) == ("s3cret", 0.0)
    assert settings.ready_file == tmp_path / "ready"


def test_result_keeping_and_the_wait_queue_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PYCOG_RESULT_TTL", "PYCOG_RESULT_COUNT", "COG_MAX_QUEUE"):
        monkeypatch.delenv(name, raising=False)
    defaults = resolve_settings(project(tmp_path))
    assert (defaults.result_ttl, defaults.result_count, defaults.max_queue) == (600.0, 1000, 0)
    monkeypatch.setenv("PYCOG_RESULT_TTL", "0")  # 0 is a setting (keep none), not "unset"
    monkeypatch.setenv("PYCOG_RESULT_COUNT", "-5")
    monkeypatch.setenv("COG_MAX_QUEUE", "12")
    settings = resolve_settings(tmp_path / "echo")
    assert (settings.result_ttl, settings.result_count, settings.max_queue) == (0.0, 0, 12)
