"""The server's OpenTelemetry spans of a prediction, as Cog's tracing release makes them:

    POST /predictions                  the request (its parent: the caller's `traceparent`)
    └── cog.prediction                 creation to terminal state (id, kind, status, ...)
        ├── cog.prediction.validate    the input against the schema
        ├── cog.prediction.execute     in the worker (runtime/tracing.py), with
        │   ├── cog.prediction.prepare_input   its coercion and downloads, and
        │   └── cog.prediction.invoke          the model's call (and the model's own spans)
        └── cog.prediction.upload_output / encode_output   each output file

Whether tracing is on is resolved once (`resolve_tracing`, into `ServerSettings.tracing`);
this module imports OpenTelemetry only when a `ServerTracing` is made, which happens only
then. Off, the server never imports it and its hot path tests one attribute for None.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .. import envvars
from ..config import Observability
from ..config.rules import RATIO_SAMPLERS, TRACE_SAMPLERS
from ..runtime.tracing import (
    TraceSettings,
    grpc_exporter_installed,
    install_provider,
    sdk_installed,
    shutdown_provider,
)

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span

    from .prediction import Prediction
    from .predictions import Order, Verdict
    from .settings import ServerSettings

log = logging.getLogger("cog.server")

# Caller tags: request `context` entries named `trace.*`, on `cog.prediction` as `caller.*`
# (Cog's bounds: untrusted input must not swell every span).
CALLER_PREFIX = "trace."
MAX_CALLER_TAGS = 16
MAX_CALLER_KEY_BYTES = 64
MAX_CALLER_VALUE_BYTES = 128
MAX_CALLER_BYTES = 4096
MAX_ID_CHARS = 128
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
_ERROR_TYPES = {"invalid": "validation_error", "busy": "at_capacity", "not_ready": "not_ready"}


# -- is it on? -------------------------------------------------------------------------------


def _switch(var: envvars.EnvVar) -> bool | None:
    """A boolean variable: True, False, or None when unset (or unreadable, with a warning)."""
    value = (var.get() or "").strip().lower()
    if not value:
        return None
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    log.warning("%s=%s is neither true nor false; ignored", var.name, value)
    return None


def resolve_tracing(observability: Observability | None) -> TraceSettings | None:
    """Tracing as cog.yaml and the environment set it; None when off. A setting that cannot
    work (no collector, no SDK) turns it off with one warning: tracing never stops a model
    from serving."""
    enabled = observability is not None and observability.traces.enabled
    switch = _switch(envvars.TRACE_ENABLED)
    if switch is not None:
        enabled = switch
    if not enabled or _switch(envvars.OTEL_SDK_DISABLED):
        return None
    exporter = (envvars.OTEL_TRACES_EXPORTER.get() or "otlp").strip().lower()
    if exporter == "none":
        return None
    problem = _problem(exporter)
    if problem is not None:
        log.warning("tracing is off: %s", problem)
        return None
    traces = observability.traces if observability is not None else None
    sampler = envvars.OTEL_TRACES_SAMPLER.get() or (traces.sampler if traces else None)
    sampler = sampler or TraceSettings.sampler
    if sampler not in TRACE_SAMPLERS:
        log.warning(
            "tracing is off: OTEL_TRACES_SAMPLER=%s is not one of %s",
            sampler,
            ", ".join(TRACE_SAMPLERS),
        )
        return None
    ratio = _ratio(envvars.OTEL_TRACES_SAMPLER_ARG.get() or (traces and traces.sampler_arg))
    if sampler in RATIO_SAMPLERS and ratio is None:
        log.warning("tracing is off: the %s sampler needs a ratio between 0 and 1", sampler)
        return None
    return TraceSettings(
        exporter="console" if exporter == "console" else "otlp",
        protocol=_protocol(),
        sampler=sampler,
        sampler_arg=ratio,
        service_name=envvars.OTEL_SERVICE_NAME.get() or "cog",
        trace_header=traces.trace_header if traces else None,
        trace_header_format=traces.trace_header_format if traces else "w3c",
        config_file=observability.config if observability is not None else None,
    )


def _protocol() -> str:
    protocol = (
        envvars.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL.get()
        or envvars.OTEL_EXPORTER_OTLP_PROTOCOL.get()
        or "http/protobuf"
    )
    return "http/protobuf" if protocol == "http" else protocol


def _problem(exporter: str) -> str | None:
    """Why tracing cannot export as asked, or None."""
    if exporter not in ("otlp", "console"):
        return f"OTEL_TRACES_EXPORTER={exporter} is not one of otlp, console, none"
    if exporter == "otlp" and not (
        envvars.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT.get()
        or envvars.OTEL_EXPORTER_OTLP_ENDPOINT.get()
    ):
        return (
            "no collector: set OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_TRACES_EXPORTER=console "
            "to print spans)"
        )
    if exporter == "otlp" and _protocol() not in ("http/protobuf", "grpc"):
        return f"OTEL_EXPORTER_OTLP_PROTOCOL={_protocol()} is not http/protobuf or grpc"
    if not sdk_installed():
        return (
            "the OpenTelemetry SDK is not installed in the model's environment: install "
            "`pycog[tracing]` (or opentelemetry-sdk and opentelemetry-exporter-otlp-proto-http)"
        )
    if exporter == "otlp" and _protocol() == "grpc" and not grpc_exporter_installed():
        return (
            "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs opentelemetry-exporter-otlp-proto-grpc in "
            "the model's environment: add it to its requirements, or use http/protobuf"
        )
    return None


def _ratio(value: Any) -> float | None:
    try:
        ratio = float(value)
    except (TypeError, ValueError):
        return None
    return ratio if 0.0 <= ratio <= 1.0 else None


# -- the spans -------------------------------------------------------------------------------


class RequestSpan:
    """The HTTP request's span, current while the request is served; `watch(send)` records
    the status the response starts with."""

    def __init__(self, span: Span) -> None:
        self.span = span

    def watch(self, send: Any) -> Any:
        async def watched(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                self.span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    from opentelemetry.trace import StatusCode

                    self.span.set_status(StatusCode.ERROR)
            await send(message)

        return watched


class PredictionSpan:
    """`cog.prediction`: started before its input is validated, ended at its terminal state
    (or when it is refused)."""

    def __init__(self, tracing: ServerTracing, span: Span) -> None:
        self.tracing = tracing
        self.span = span
        self.context = tracing.trace_api.set_span_in_context(span)
        carrier: dict[str, str] = {}
        tracing.propagator.inject(carrier, context=self.context)
        self.carrier = carrier
        """Its W3C headers: for the worker and the webhooks."""

    def validate(self) -> contextlib.AbstractContextManager[Any]:
        return self.tracing.tracer.start_as_current_span(
            "cog.prediction.validate", context=self.context
        )

    def webhook_headers(self, incoming: dict[str, str]) -> dict[str, str]:
        """The headers a webhook carries: this span's context (the caller's only if it does
        not have one), and the configured extra header in its format."""
        headers = dict(self.carrier or incoming)
        extra = self.tracing.settings.trace_header
        if extra and "traceparent" in self.carrier:
            headers[extra] = _outgoing_custom(
                self.carrier["traceparent"], self.tracing.settings.trace_header_format
            )
        return headers

    def refused(self, verdict: Verdict) -> None:
        self.finish("failed", _ERROR_TYPES.get(verdict.value, verdict.value))

    def finish(self, status: str, error_type: str | None) -> None:
        span = self.span
        span.set_attribute("cog.prediction.status", status)
        if error_type is not None:
            from opentelemetry.trace import StatusCode

            span.set_attribute("error.type", error_type)
            span.set_status(StatusCode.ERROR)
        span.end()


class ServerTracing:
    """The server's tracer provider and its spans of predictions in flight; told of their
    end as an observer of the supervisor."""

    def __init__(self, settings: TraceSettings, provider: TracerProvider) -> None:
        from opentelemetry import trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.settings = settings
        self.provider = provider
        self.trace_api = trace
        self.tracer = provider.get_tracer("cog.server")
        self.propagator = TraceContextTextMapPropagator()
        self.in_flight: dict[str, PredictionSpan] = {}
        self.predictor = ""

    @classmethod
    def start(cls, server: ServerSettings) -> ServerTracing | None:
        """The server's tracing, or None when it is off or its provider cannot be made
        (then with a warning: tracing never stops a model from serving)."""
        settings = server.tracing
        if settings is None:
            return None
        try:
            provider = install_provider(settings, "server", sys.stdout)
        except Exception as exc:  # a broken exporter setup: serve without tracing
            log.warning("tracing is off: its provider cannot be made: %s", exc)
            return None
        tracing = cls(settings, provider)
        tracing.predictor = server.ref or ""
        return tracing

    def shutdown(self) -> None:
        shutdown_provider(self.provider)

    # -- a request -------------------------------------------------------------------------

    @contextlib.contextmanager
    def request(self, method: str, route: str, headers: Mapping[str, str]) -> Iterator[RequestSpan]:
        from opentelemetry.trace import SpanKind

        attributes = {"http.request.method": method, "http.route": route}
        with self.tracer.start_as_current_span(
            f"{method} {route}",
            context=self.parent(headers),
            kind=SpanKind.SERVER,
            attributes=attributes,
        ) as span:
            yield RequestSpan(span)

    def parent(self, headers: Mapping[str, str]) -> Context | None:
        """The caller's context: `traceparent`/`tracestate`, else the configured extra header;
        a malformed one is ignored (it never refuses a prediction)."""
        if "traceparent" in headers:
            context = self.propagator.extract(headers)
            if self._valid(context):
                return context
        extra = self.settings.trace_header
        value = headers.get(extra) if extra else None
        if value:
            traceparent = _incoming_custom(value, self.settings.trace_header_format)
            if traceparent is not None:
                context = self.propagator.extract({"traceparent": traceparent})
                if self._valid(context):
                    return context
        return None

    def _valid(self, context: Context) -> bool:
        return bool(self.trace_api.get_current_span(context).get_span_context().is_valid)

    # -- a prediction ----------------------------------------------------------------------

    def begin(self, order: Order, prediction_id: str | None) -> PredictionSpan:
        """`cog.prediction`, a child of the current span (the request's)."""
        attributes: dict[str, Any] = {
            "cog.prediction.kind": order.kind,
            "cog.prediction.response_mode": order.mode,
            "cog.predictor": self.predictor,
        }
        if prediction_id is not None:
            attributes["cog.prediction.id"] = prediction_id[:MAX_ID_CHARS]
        attributes.update(caller_attributes(order.envelope.context))
        return PredictionSpan(self, self.tracer.start_span("cog.prediction", attributes=attributes))

    def bind(self, prediction: Prediction, span: PredictionSpan) -> None:
        """The prediction was made (its id is known): its span ends when it does."""
        span.span.set_attribute("cog.prediction.id", prediction.id[:MAX_ID_CHARS])
        self.in_flight[prediction.id] = span

    def unbind(self, prediction: Prediction) -> None:
        self.in_flight.pop(prediction.id, None)

    def submitted(self, prediction: Prediction) -> None:
        pass

    def ended(self, prediction: Prediction) -> None:
        span = self.in_flight.pop(prediction.id, None)
        if span is None:
            return
        status = prediction.status.value
        error_type = {"failed": "prediction_failed", "canceled": "canceled"}.get(status)
        span.finish(status, error_type)

    # -- output files ----------------------------------------------------------------------

    @contextlib.contextmanager
    def within(self, prediction: Prediction) -> Iterator[None]:
        """Make the prediction's span current (for the task that resolves its files)."""
        span = self.in_flight.get(prediction.id)
        if span is None:
            yield
            return
        from opentelemetry import context

        token = context.attach(span.context)
        try:
            yield
        finally:
            context.detach(token)

    def output_file(
        self, name: str, size: int, media_type: str, uploaded: bool
    ) -> contextlib.AbstractContextManager[Any]:
        from opentelemetry.trace import SpanKind

        attributes: dict[str, str | int] = {
            "cog.output.bytes": size,
            "cog.output.mime_type": media_type,
            "cog.output.name": name,
        }
        if uploaded:
            return self.tracer.start_as_current_span(
                "cog.prediction.upload_output", kind=SpanKind.CLIENT, attributes=attributes
            )
        return self.tracer.start_as_current_span(
            "cog.prediction.encode_output", attributes=attributes
        )


def caller_attributes(context: Mapping[str, str]) -> dict[str, str]:
    """The request context's `trace.*` entries as `caller.*` attributes: keys of letters,
    digits, `._-` (at most 64 bytes), values cut to 128 bytes, at most 16 of them and 4 KiB in
    all, in the order of their names."""
    tags: list[tuple[str, str]] = []
    for key, value in context.items():
        if not key.startswith(CALLER_PREFIX) or not isinstance(value, str):
            continue
        suffix = key[len(CALLER_PREFIX) :]
        if not suffix or len(suffix) > MAX_CALLER_KEY_BYTES or not set(suffix) <= _KEY_CHARS:
            continue
        cut = value.encode()[:MAX_CALLER_VALUE_BYTES].decode(errors="ignore")
        tags.append((f"caller.{suffix}", cut))
    tags.sort()
    attributes: dict[str, str] = {}
    total = 0
    for key, value in tags[:MAX_CALLER_TAGS]:
        total += len(key) + len(value.encode())
        if total > MAX_CALLER_BYTES:
            break
        attributes[key] = value
    return attributes


def _incoming_custom(value: str, header_format: str) -> str | None:
    """The extra header's value as a traceparent: as it is (w3c), or from Jaeger's
    `trace-id:span-id:parent-id:flags`."""
    if header_format != "jaeger":
        return value.strip()
    parts = value.strip().split(":")
    if len(parts) != 4:
        return None
    trace_id, span_id, _, flags = parts
    try:
        sampled = int(flags, 16) & 1
        return f"00-{int(trace_id, 16):032x}-{int(span_id, 16):016x}-{sampled:02x}"
    except ValueError:
        return None


def _outgoing_custom(traceparent: str, header_format: str) -> str:
    if header_format != "jaeger":
        return traceparent
    _, trace_id, span_id, flags = traceparent.split("-")
    return f"{trace_id}:{span_id}:0:{flags}"
