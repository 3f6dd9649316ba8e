"""The server's Prometheus metrics (`GET /metrics`), kept in a registry of its own.

An observer of the supervisor: it counts and times each prediction when it ends, from the
monotonic stamps the prediction already has, and counts the outcome of each of its webhooks.
What is a state rather than an event (predictions in flight, slots, health, setup) is read
from the supervisor when Prometheus scrapes, so serving a prediction costs nothing for it.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, get_args

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    Summary,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from .prediction import Kind, Prediction, Status
from .supervisor import Health, Supervisor
from .webhooks import Outcome

log = logging.getLogger("cog.server")

CONTENT_TYPE = CONTENT_TYPE_LATEST
SECONDS_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
)  # fmt: skip
"""From a few milliseconds (an echo) to an hour (a training): models span all of these."""
MAX_MODEL_METRIC_NAMES = 100
"""Distinct `record_metric` names kept as series; more would be a label Prometheus cannot bear
(a name made from an input, say), so later names are left out, and logged once."""
_KINDS: tuple[Kind, ...] = get_args(Kind)
_ENDED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELED)
_SERVER_METRICS = frozenset({"predict_time"})
"""Set by the server, not the model: `cog_prediction_duration_seconds` says it better."""


@dataclass(frozen=True)
class _KindSeries:
    """The series of one kind (predictions or trainings)."""

    ended: dict[Status, Counter]
    duration: Histogram
    wait: Histogram


class ServerMetrics:
    """The metrics of one supervisor; an `Observer` of its predictions."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        registry = self.registry
        self.totals = Counter(
            "cog_predictions",
            "Predictions (and trainings) that ended, by how they ended.",
            ["kind", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "cog_prediction_duration_seconds",
            "Time from the model starting a prediction to its end.",
            ["kind"],
            buckets=SECONDS_BUCKETS,
            registry=registry,
        )
        self.wait = Histogram(
            "cog_prediction_wait_seconds",
            "Time from a prediction taking its slot to the model starting it.",
            ["kind"],
            buckets=SECONDS_BUCKETS,
            registry=registry,
        )
        webhooks = Counter(
            "cog_webhook_deliveries",
            "Webhooks sent, by outcome: delivered (2xx), rejected (another status, not "
            "retried) or failed (no answer; for the terminal one, after its retries).",
            ["result"],
            registry=registry,
        )
        self.model_metrics = Summary(
            "cog_model_metric",
            "The numeric values a model records (record_metric), one per prediction; nested "
            "names joined with dots.",
            ["name"],
            registry=registry,
        )
        # Series made before they are needed are found by a dict lookup when a prediction
        # ends, and are there (at 0) before the first one, so that rate() sees its increase.
        # A training's are made when the first one ends: most models never train.
        self._kinds: dict[Kind, _KindSeries] = {}
        self._series("prediction")
        self._webhooks = {outcome: webhooks.labels(outcome) for outcome in get_args(Outcome)}
        self._model_names: set[str] = set()
        self._names_dropped = False
        registry.register(SupervisorCollector(supervisor))

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric (`CONTENT_TYPE`)."""
        return generate_latest(self.registry)

    # -- the observer ----------------------------------------------------------------------

    def submitted(self, prediction: Prediction) -> None:
        if prediction.webhook is not None:
            prediction.webhook.listeners.append(self._webhook_ended)

    def ended(self, prediction: Prediction) -> None:
        series = self._kinds.get(prediction.kind) or self._series(prediction.kind)
        series.ended[prediction.status].inc()
        started = prediction.started_monotonic
        if started:  # else the model never began it: neither a wait nor a duration
            series.wait.observe(started - prediction.created_monotonic)
            series.duration.observe(prediction.completed_monotonic - started)
        if len(prediction.metrics) > len(_SERVER_METRICS):
            self._observe_model_metrics(prediction.metrics)

    def _series(self, kind: Kind) -> _KindSeries:
        series = self._kinds[kind] = _KindSeries(
            {status: self.totals.labels(kind, status.value) for status in _ENDED},
            self.duration.labels(kind),
            self.wait.labels(kind),
        )
        return series

    def _webhook_ended(self, outcome: Outcome) -> None:
        self._webhooks[outcome].inc()

    def _observe_model_metrics(self, metrics: dict[str, Any]) -> None:
        for name, value in numbers(metrics):
            if name in _SERVER_METRICS:
                continue
            if name not in self._model_names:
                if len(self._model_names) >= MAX_MODEL_METRIC_NAMES:
                    self._drop_name(name)
                    continue
                self._model_names.add(name)
            self.model_metrics.labels(name).observe(value)

    def _drop_name(self, name: str) -> None:
        if not self._names_dropped:
            self._names_dropped = True
            log.warning(
                "the model recorded more than %d metric names; %r and later new ones are "
                "not exported to /metrics",
                MAX_MODEL_METRIC_NAMES,
                name,
            )


def numbers(metrics: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, float]]:
    """The numeric leaves of a prediction's metrics, their names dot-joined (bools, strings
    and lists are not measures)."""
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from numbers(value, f"{name}.")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            yield name, float(value)


class SupervisorCollector:
    """The supervisor's state, read at each scrape."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor

    def collect(self) -> Iterator[Metric]:
        supervisor = self.supervisor
        in_flight = GaugeMetricFamily(
            "cog_predictions_in_flight",
            "Predictions (and trainings) holding a slot now.",
            labels=["kind"],
        )
        kinds: tuple[Kind, ...] = _KINDS if supervisor.serves_trainings() else ("prediction",)
        counts = dict.fromkeys(kinds, 0)
        for prediction in supervisor.predictions.values():
            counts[prediction.kind] = counts.get(prediction.kind, 0) + 1
        for kind, count in counts.items():
            in_flight.add_metric([kind], count)
        yield in_flight
        # Free slots and taken ones: the capacity, whichever of the settings, the environment
        # or the model's @concurrent set it.
        yield GaugeMetricFamily(
            "cog_slots",
            "Predictions the model may run at once.",
            value=supervisor.slots + len(supervisor.predictions),
        )
        health = GaugeMetricFamily(
            "cog_health_status",
            "1 for the server's health now (as /health-check reports it, without running the "
            "model's own healthcheck), 0 for the others.",
            labels=["status"],
        )
        current = supervisor.health()
        for status in Health:
            health.add_metric([status.value], 1.0 if status is current else 0.0)
        yield health
        setup = supervisor.setup
        if setup.completed_at is not None:
            yield GaugeMetricFamily(
                "cog_setup_duration_seconds",
                "How long the model's setup took (present once it ended, well or not).",
                value=_seconds_between(setup.started_at, setup.completed_at),
            )


def _seconds_between(start: str, end: str) -> float:
    """Between two of Cog's timestamps (ISO 8601, `Z` for UTC: Python 3.10 reads no `Z`)."""
    parse = datetime.datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()
