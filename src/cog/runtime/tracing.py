"""OpenTelemetry tracing as both processes see it: what to trace and where spans go (resolved
once by the server, handed to its worker on the command line), the tracer provider each
process installs, and the worker's spans of one prediction.

Nothing of OpenTelemetry is imported here until a process installs a provider: a server or
worker without tracing never imports it, and its predictions pay one attribute check.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from .errors import TracingSetupError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

    from .events import Predict

Exporter = Literal["otlp", "console"]
Role = Literal["server", "worker"]
TRACEPARENT = "traceparent"


@dataclass(frozen=True)
class TraceSettings:
    """Tracing that is on: where its spans go and which traces are kept."""

    exporter: Exporter = "otlp"
    protocol: str = "http/protobuf"
    sampler: str = "parentbased_always_off"
    sampler_arg: float | None = None
    service_name: str = "cog"
    trace_header: str | None = None
    """An extra incoming header that may carry the parent (lower-case)."""
    trace_header_format: str = "w3c"
    config_file: str | None = None
    """cog.yaml's `observability.config`: a project-relative file that makes the worker's
    tracer provider (`create_tracer_provider()`)."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> TraceSettings:
        return cls(**json.loads(text))


def sdk_installed() -> bool:
    """Whether the OpenTelemetry SDK can be imported (the `pycog[tracing]` extra)."""
    try:
        # Finding a module imports its parents: only the `opentelemetry` namespace here.
        return importlib.util.find_spec("opentelemetry.sdk") is not None
    except ModuleNotFoundError:  # no `opentelemetry` package at all
        return False


def grpc_exporter_installed() -> bool:
    try:
        spec = importlib.util.find_spec("opentelemetry.exporter.otlp.proto.grpc")
    except ModuleNotFoundError:
        return False
    return spec is not None


def install_provider(
    settings: TraceSettings, role: Role, console: IO[str] | None = None
) -> TracerProvider:
    """Make the global tracer provider of this process, exporting as `settings` say
    (`console`: the stream of the console exporter, stdout by default)."""
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": settings.service_name, "cog.process.role": role})
    provider = TracerProvider(resource=resource, sampler=_sampler(settings), shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(_exporter(settings, console)))
    trace.set_tracer_provider(provider)
    return provider


def _exporter(settings: TraceSettings, console: IO[str] | None) -> Any:
    if settings.exporter == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        # One JSON object a line, which a log pipeline (and a test) can read back.
        return ConsoleSpanExporter(
            out=console or sys.stdout,
            formatter=lambda span: span.to_json(indent=None) + "\n",
        )
    if settings.protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found]  # an optional extra of an optional extra
                OTLPSpanExporter as GrpcExporter,
            )
        except ImportError:
            raise TracingSetupError(
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs opentelemetry-exporter-otlp-proto-grpc "
                "in the model's environment: add it to its requirements, or use http/protobuf"
            ) from None
        return GrpcExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()  # endpoint, headers, timeout: from OTEL_EXPORTER_OTLP_*


def _sampler(settings: TraceSettings) -> Any:
    from opentelemetry.sdk.trace import sampling

    ratio = 1.0 if settings.sampler_arg is None else settings.sampler_arg
    match settings.sampler:
        case "always_on":
            return sampling.ALWAYS_ON
        case "always_off":
            return sampling.ALWAYS_OFF
        case "parentbased_always_on":
            return sampling.DEFAULT_ON
        case "traceidratio":
            return sampling.TraceIdRatioBased(ratio)
        case "parentbased_traceidratio":
            return sampling.ParentBasedTraceIdRatio(ratio)
        case _:
            return sampling.DEFAULT_OFF


def shutdown_provider(provider: TracerProvider) -> None:
    """Export what is left (bounded), then stop: a process ending without this loses the
    spans of its last predictions."""
    provider.force_flush(timeout_millis=5000)
    provider.shutdown()


# -- the worker ----------------------------------------------------------------------------


class WorkerTracing:
    """The worker's provider and its spans of each prediction."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer: Tracer = provider.get_tracer("cog.runtime")

    @classmethod
    def start(
        cls, settings: TraceSettings, project_dir: Path, console: IO[str] | None
    ) -> WorkerTracing:
        """Install the worker's provider before the model is imported, so that the model's
        own spans (made with the global provider) join its predictions' traces."""
        if settings.config_file is None:
            return cls(install_provider(settings, "worker", console))
        return cls(_custom_provider(project_dir / settings.config_file))

    def spans(self, message: Predict) -> AttemptSpans | NoSpans:
        if TRACEPARENT not in message.trace:
            return NO_SPANS
        return AttemptSpans(self.tracer, message)

    def batch_invoke(
        self, requests: Sequence[AttemptSpans | NoSpans]
    ) -> contextlib.AbstractContextManager[Any]:
        """The span of one batched call, current while it runs (the model's spans nest in
        it), with a link to each sampled request's `cog.prediction.execute` (the others' traces
        are not kept: a link would lead nowhere). Its parent is the first sampled request's
        execute span, not a new root: parent-based samplers (Cog's default) would drop a root,
        and with it the model's spans."""
        traced = {
            spans.message.id: spans.span
            for spans in requests
            if isinstance(spans, AttemptSpans) and spans.span is not None
        }
        if not traced:
            return NoSpans._NOTHING
        from opentelemetry import trace

        sampled = {
            i: span for i, span in traced.items() if span.get_span_context().trace_flags.sampled
        }
        links = [
            trace.Link(span.get_span_context(), {"cog.prediction.id": prediction_id})
            for prediction_id, span in sampled.items()
        ]
        attributes: dict[str, Any] = {
            "cog.batch.size": len(requests),
            "cog.batch.prediction_ids": list(sampled),
        }
        parent = next(iter((sampled or traced).values()))
        return self.tracer.start_as_current_span(
            "cog.batch.invoke",
            context=trace.set_span_in_context(parent),
            links=links,
            attributes=attributes,
        )

    def shutdown(self) -> None:
        shutdown_provider(self.provider)


def _custom_provider(path: Path) -> TracerProvider:
    """The provider `observability.config` makes, installed, and its instrumentation run."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    spec = importlib.util.spec_from_file_location("_cog_telemetry", path)
    if spec is None or spec.loader is None:
        raise TracingSetupError(f"cannot load {path} (observability.config)")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    factory = getattr(module, "create_tracer_provider", None)
    if not callable(factory):
        raise TracingSetupError(
            f"{path.name} (observability.config) must define create_tracer_provider()"
        )
    provider = factory()
    if not isinstance(provider, TracerProvider):
        raise TracingSetupError(
            f"{path.name}: create_tracer_provider() must return an "
            f"opentelemetry.sdk.trace.TracerProvider, not {type(provider).__name__}"
        )
    trace.set_tracer_provider(provider)
    instrument = getattr(module, "configure_instrumentation", None)
    if instrument is not None:
        instrument()
    return provider


class AttemptSpans:
    """One prediction's spans in the worker: `cog.prediction.execute` (the attempt, a child
    of the server's `cog.prediction`), and in it `cog.prediction.prepare_input` (coercion,
    downloads) and `cog.prediction.invoke` (the model's call, with its own spans inside)."""

    def __init__(self, tracer: Tracer, message: Predict) -> None:
        self.tracer = tracer
        self.message = message
        self.span: Span | None = None
        """`cog.prediction.execute`, while it is open."""

    @contextlib.contextmanager
    def execute(self) -> Iterator[None]:
        from opentelemetry import context
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        parent = TraceContextTextMapPropagator().extract(self.message.trace)
        token = context.attach(parent)
        try:
            attributes = {"cog.prediction.id": self.message.id}
            with self.tracer.start_as_current_span(
                "cog.prediction.execute", attributes=attributes
            ) as self.span:
                yield
        finally:
            self.span = None
            context.detach(token)

    @contextlib.contextmanager
    def execute_batched(self) -> Iterator[None]:
        """`cog.prediction.execute` of a request in a batch: open, but never current, since one
        thread or task serves the whole batch (spans of its own parent on it explicitly)."""
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        parent = TraceContextTextMapPropagator().extract(self.message.trace)
        attributes = {"cog.prediction.id": self.message.id}
        span = self.tracer.start_span("cog.prediction.execute", parent, attributes=attributes)
        self.span = span
        try:
            yield
        finally:
            self.span = None
            span.end()

    def prepare_input(self) -> contextlib.AbstractContextManager[Any]:
        """A child of this request's execute span, whichever span is current."""
        from opentelemetry import trace

        parent = None if self.span is None else trace.set_span_in_context(self.span)
        return self.tracer.start_as_current_span("cog.prediction.prepare_input", parent)

    def invoke(self) -> contextlib.AbstractContextManager[Any]:
        return self.tracer.start_as_current_span("cog.prediction.invoke")


class NoSpans:
    """Tracing off (or a prediction the server did not trace): nothing is made."""

    _NOTHING = contextlib.nullcontext()  # reusable, and cheaper than a new one each time

    def execute(self) -> contextlib.AbstractContextManager[Any]:
        return self._NOTHING

    def execute_batched(self) -> contextlib.AbstractContextManager[Any]:
        return self._NOTHING

    def prepare_input(self) -> contextlib.AbstractContextManager[Any]:
        return self._NOTHING

    def invoke(self) -> contextlib.AbstractContextManager[Any]:
        return self._NOTHING


NO_SPANS = NoSpans()
