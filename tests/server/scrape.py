"""Reading a real server's GET /metrics with Prometheus' own text parser."""

from __future__ import annotations

import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: httpx.Client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[sample.name, frozenset(sample.labels.items())] = sample.value
    return samples


def value(samples: Samples, metric: str, /, **labels: str) -> float | None:
    return samples.get((metric, frozenset(labels.items())))


def ended(samples: Samples, status: str, kind: str = "prediction") -> float | None:
    return value(samples, "cog_predictions_total", kind=kind, status=status)


def scrape_until(client: httpx.Client, done, timeout: float = 30) -> Samples:
    """Scrape until `done(samples)` holds (what the server does next happens after a
    response: the end of a canceled prediction, a webhook's answer)."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(client)
        if done(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.05)


def wait_until(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
