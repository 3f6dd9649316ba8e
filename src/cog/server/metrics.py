"""The server's Prometheus metrics (`GET /metrics`), in a registry of its own.

An observer of the supervisor. When a prediction ends it is counted and timed from the
monotonic stamps the prediction already has, and each of its webhooks' outcomes is counted, in
plain numbers (a few additions, a fraction of a microsecond: prometheus_client's own metric
objects take a lock and cost microseconds each, on every prediction); what is a state rather
than an event (in flight, slots, health, setup) is not kept at all. A scrape reads both into
prometheus_client's metric families. Everything runs on the server's event loop, so nothing
needs a lock. prometheus_client is imported on the first scrape: ~50 ms (it imports http.server
and more) that would otherwise land on every server's start.
"""

from __future__ import annotations

import bisect
import datetime
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, get_args

from .errors import MetricsUnavailable
from .prediction import Kind, Prediction, Status
from .supervisor import Health, Supervisor
from .webhooks import Outcome, WebhookSender

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

log = logging.getLogger("cog.server")
SECONDS_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
)  # fmt: skip
"""From a few milliseconds (an echo) to an hour (a training): models span all of these."""
MAX_MODEL_METRIC_NAMES = 100
"""Distinct `record_metric` names kept as series; more would be a label Prometheus cannot bear
(a name made from an input, say), so later names are left out, and logged once."""
_ENDED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELED)
_SERVER_METRICS = frozenset({"predict_time"})
"""Set by the server, not the model: `cog_prediction_duration_seconds` says it better."""


class Histogram:
    """One histogram's counts: how many values fell at or under each bound (and above all)."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...] = SECONDS_BUCKETS) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    def buckets(self) -> list[tuple[str, float]]:
        """Prometheus' cumulative buckets, `+Inf` last."""
        cumulative, running = [], 0
        bounds = [repr(bound) for bound in self.bounds] + ["+Inf"]
        for bound, count in zip(bounds, self.counts, strict=True):
            running += count
            cumulative.append((bound, float(running)))
        return cumulative


class KindTally:
    """What ended of one kind (predictions or trainings), and how long it waited and ran."""

    __slots__ = ("duration", "ended", "wait")

    def __init__(self) -> None:
        self.ended = dict.fromkeys(_ENDED, 0)
        self.duration = Histogram()
        self.wait = Histogram()


class ModelMetric:
    """A summary of one `record_metric` name: how many values, and their sum."""

    __slots__ = ("count", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0


class ServerMetrics:
    """The metrics of one supervisor: an `Observer` of its predictions, and the collector a
    scrape reads."""

    def __init__(self, supervisor: Supervisor, waiting: Callable[[], int] | None = None) -> None:
        self.supervisor = supervisor
        self.waiting = waiting
        """How many predictions wait for a slot (COG_MAX_QUEUE), when there can be a queue."""
        self.kinds: dict[Kind, KindTally] = {"prediction": KindTally()}
        """A training's tally is made when the model serves trainings: most never do."""
        self.webhooks = dict.fromkeys(get_args(Outcome), 0)
        self.model_metrics: dict[str, ModelMetric] = {}
        self._names_dropped = False
        self._registry: CollectorRegistry | None = None

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition of every metric, and its content type."""
        try:
            from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
        except ImportError:
            raise MetricsUnavailable() from None

        if self._registry is None:
            self._registry = CollectorRegistry(auto_describe=False)
            self._registry.register(self)
        return generate_latest(self._registry), CONTENT_TYPE_LATEST

    # -- the observer (the hot path) -------------------------------------------------------

    def submitted(self, prediction: Prediction) -> None:
        for follower in prediction.followers:
            if isinstance(follower, WebhookSender):
                follower.listeners.append(self._webhook_ended)

    def ended(self, prediction: Prediction) -> None:
        tally = self.kinds.get(prediction.kind) or self._tally(prediction.kind)
        tally.ended[prediction.status] += 1
        started = prediction.started_monotonic
        if started:  # else the model never began it: neither a wait nor a duration
            tally.wait.observe(started - prediction.accepted_monotonic)
            tally.duration.observe(prediction.completed_monotonic - started)
        if len(prediction.metrics) > len(_SERVER_METRICS):
            self._observe_model_metrics(prediction.metrics)

    def _tally(self, kind: Kind) -> KindTally:
        tally = self.kinds[kind] = KindTally()
        return tally

    def _webhook_ended(self, outcome: Outcome) -> None:
        self.webhooks[outcome] += 1

    def _observe_model_metrics(self, metrics: dict[str, Any]) -> None:
        for name, value in numbers(metrics):
            if name in _SERVER_METRICS:
                continue
            summary = self.model_metrics.get(name)
            if summary is None:
                if len(self.model_metrics) >= MAX_MODEL_METRIC_NAMES:
                    self._drop_name(name)
                    continue
                summary = self.model_metrics[name] = ModelMetric()
            summary.count += 1
            summary.total += value

    def _drop_name(self, name: str) -> None:
        if not self._names_dropped:
            self._names_dropped = True
            log.warning(
                "the model recorded more than %d metric names; %r and later new ones are "
                "not exported to /metrics",
                MAX_MODEL_METRIC_NAMES,
                name,
            )

    # -- the collector (a scrape) ----------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, SummaryMetricFamily

        if "training" not in self.kinds and self.supervisor.serves_trainings():
            self._tally("training")
        yield from self._predictions()
        yield from self._state()
        webhooks = CounterMetricFamily(
            "cog_webhook_deliveries",
            "Webhooks sent, by outcome: delivered (2xx), rejected (another status, not "
            "retried) or failed (no answer; for the terminal one, after its retries).",
            labels=["result"],
        )
        for outcome, count in self.webhooks.items():
            webhooks.add_metric([outcome], count)
        yield webhooks
        model = SummaryMetricFamily(
            "cog_model_metric",
            "The numbers a model records (record_metric), one value per prediction; nested "
            "names joined with dots.",
            labels=["name"],
        )
        for name, summary in self.model_metrics.items():
            model.add_metric([name], summary.count, summary.total)
        yield model

    def _predictions(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        totals = CounterMetricFamily(
            "cog_predictions",
            "Predictions (and trainings) that ended, by how they ended.",
            labels=["kind", "status"],
        )
        duration = HistogramMetricFamily(
            "cog_prediction_duration_seconds",
            "Time from the worker starting a prediction to its end.",
            labels=["kind"],
        )
        wait = HistogramMetricFamily(
            "cog_prediction_wait_seconds",
            "Time from the server accepting a prediction (its input valid) to the worker "
            "starting it: the wait for a slot included.",
            labels=["kind"],
        )
        for kind, tally in self.kinds.items():
            for status, count in tally.ended.items():
                totals.add_metric([kind, status.value], count)
            duration.add_metric([kind], tally.duration.buckets(), tally.duration.total)
            wait.add_metric([kind], tally.wait.buckets(), tally.wait.total)
        yield from (totals, duration, wait)

    def _state(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        supervisor = self.supervisor
        in_flight = GaugeMetricFamily(
            "cog_predictions_in_flight",
            "Predictions (and trainings) holding a slot now.",
            labels=["kind"],
        )
        counts = dict.fromkeys(self.kinds, 0)
        for prediction in supervisor.predictions.values():
            counts[prediction.kind] = counts.get(prediction.kind, 0) + 1
        for kind, count in counts.items():
            in_flight.add_metric([kind], count)
        yield in_flight
        if self.waiting is not None:
            yield GaugeMetricFamily(
                "cog_predictions_waiting",
                "Predictions waiting for a slot (the COG_MAX_QUEUE wait queue's depth).",
                value=self.waiting(),
            )
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


def numbers(metrics: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, float]]:
    """The numeric leaves of a prediction's metrics, their names dot-joined (bools, strings
    and lists are not measures)."""
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from numbers(value, f"{name}.")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            yield name, float(value)


def _seconds_between(start: str, end: str) -> float:
    """Between two of Cog's timestamps (ISO 8601, `Z` for UTC: Python 3.10 reads no `Z`)."""
    parse = datetime.datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()
