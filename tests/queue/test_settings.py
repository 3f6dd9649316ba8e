"""Queue settings resolve once, flags over environment, and refuse what cannot work."""

from __future__ import annotations

import pytest

from cog.queue.link import _shown
from cog.queue.settings import QueueSettingsError, resolve_queue_settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("COG_REDIS_URL", "COG_QUEUE", "COG_QUEUE_CLAIM_AFTER"):
        monkeypatch.delenv(name, raising=False)


def test_no_queue_is_http_only() -> None:
    assert resolve_queue_settings() is None


def test_defaults_follow_the_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COG_REDIS_URL", "redis://r:6379/2")
    monkeypatch.setenv("COG_QUEUE", "jobs")
    monkeypatch.setenv("COG_QUEUE_CLAIM_AFTER", "12")
    settings = resolve_queue_settings()
    assert settings is not None
    assert (settings.redis_url, settings.name, settings.group) == (
        "redis://r:6379/2",
        "jobs",
        "jobs",
    )
    assert settings.consumer.endswith(f"-{__import__('os').getpid()}")
    assert (settings.result_ttl, settings.claim_after, settings.max_deliveries) == (86400, 12.0, 3)
    assert settings.keepalive_every < settings.claim_after / 2


def test_flags_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COG_QUEUE", "from-env")
    monkeypatch.setenv("COG_QUEUE_CLAIM_AFTER", "12")
    settings = resolve_queue_settings(
        redis_url="redis://h:1/0", queue="from-flag", group="g", consumer="c", claim_after=2.5
    )
    assert settings is not None
    assert (settings.name, settings.group, settings.consumer) == ("from-flag", "g", "c")
    assert settings.claim_after == 2.5


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ({"queue": "jobs"}, "--redis-url"),
        ({"redis_url": "redis://h:1/0"}, "--queue"),
        ({"queue": "jobs", "redis_url": "http://h:1"}, "not a Redis URL"),
        ({"queue": "jobs", "redis_url": "redis://h:1/0", "max_deliveries": 0}, "at least 1"),
        ({"queue": "jobs", "redis_url": "redis://h:1/0", "claim_after": -1}, "claim-after"),
    ],
)
def test_what_cannot_work_is_refused(given: dict, words: str) -> None:
    with pytest.raises(QueueSettingsError, match=words):
        resolve_queue_settings(**given)


def test_logs_never_show_the_password() -> None:
    assert _shown("redis://user:secret@h:6379/0") == "redis://user:***@h:6379/0"
    assert _shown("redis://:secret@h:6379/0") == "redis://:***@h:6379/0"
    assert _shown("redis://h:6379/0") == "redis://h:6379/0"
