"""OpenTelemetry tracing over real servers: spans received by a real OTLP/HTTP collector on
loopback (or printed by the console exporter), their parents, attributes, the webhook's
traceparent, and nothing of OpenTelemetry loaded when tracing is off."""

from __future__ import annotations

import json
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the tracing extra is not installed")
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

from .conftest import run_server
from .receiver import Receiver

pytestmark = pytest.mark.timeout(120)
FAST_EXPORT = {"OTEL_BSP_SCHEDULE_DELAY": "50"}  # milliseconds between batch exports


@dataclass
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    kind: int
    status: int
    links: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    """(trace id, span id, attributes) of each linked span."""


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in any_value.array_value.values]
    return getattr(any_value, kind)


class Collector:
    """An OTLP/HTTP traces endpoint: decodes each export request's protobuf into spans."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest.FromString(body)
                with collector.lock:
                    for resource_spans in request.resource_spans:
                        resource = {
                            a.key: _value(a.value) for a in resource_spans.resource.attributes
                        }
                        for scope_spans in resource_spans.scope_spans:
                            for span in scope_spans.spans:
                                collector.spans.append(
                                    ReceivedSpan(
                                        span.name,
                                        span.trace_id.hex(),
                                        span.span_id.hex(),
                                        span.parent_span_id.hex(),
                                        {a.key: _value(a.value) for a in span.attributes},
                                        resource,
                                        span.kind,
                                        span.status.code,
                                        [
                                            (
                                                link.trace_id.hex(),
                                                link.span_id.hex(),
                                                {a.key: _value(a.value) for a in link.attributes},
                                            )
                                            for link in span.links
                                        ],
                                    )
                                )
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(
        self, names: set[str], trace_id: str, timeout: float = 30
    ) -> dict[str, list[ReceivedSpan]]:
        """The spans of one trace, by name, once every name has arrived."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                found: dict[str, list[ReceivedSpan]] = {}
                for span in self.spans:
                    if span.trace_id == trace_id:
                        found.setdefault(span.name, []).append(span)
            if names <= found.keys():
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"spans {sorted(names - found.keys())} never arrived: {found}")
            time.sleep(0.05)


@pytest.fixture
def collector():
    collector = Collector()
    yield collector
    collector.close()


def _traceparent() -> tuple[str, str, str]:
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{parent_id}-01", trace_id, parent_id


PREDICTION_SPANS = {
    "POST /predictions",
    "cog.prediction",
    "cog.prediction.validate",
    "cog.prediction.execute",
    "cog.prediction.prepare_input",
    "cog.prediction.invoke",
    "model.inference",
    "cog.prediction.encode_output",
}


def test_a_prediction_joins_the_callers_trace(tmp_path, collector):
    env = {**FAST_EXPORT, "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_SERVICE_NAME": "m"}
    traceparent, trace_id, caller_span = _traceparent()
    with Receiver() as webhooks, run_server("tracing", tmp_path, env=env) as server:
        with server.client() as client:
            # Not sampled by anyone (no traceparent; Cog's default parentbased_always_off).
            assert client.post("/predictions", json={"input": {"text": "untraced"}}).is_success
            body = {
                "input": {"text": "hello"},
                "context": {"trace.model.name": "acme/model", "ordinary": "not exported"},
                "webhook": f"{webhooks.url}/hook",
                "webhook_events_filter": ["completed"],
            }
            headers = {"traceparent": traceparent, "tracestate": "vendor=value"}
            response = client.post("/predictions", json=body, headers=headers)
            assert response.status_code == 200, response.text
            prediction_id = response.json()["id"]
            spans = collector.wait_for(PREDICTION_SPANS, trace_id)
            deadline = time.monotonic() + 10
            while not webhooks.webhook_headers and time.monotonic() < deadline:
                time.sleep(0.05)

    one = {name: found[0] for name, found in spans.items()}
    assert all(len(found) == 1 for found in spans.values()), spans
    request, prediction = one["POST /predictions"], one["cog.prediction"]
    assert request.parent_id == caller_span
    assert request.kind == 2  # SERVER
    assert request.attributes["http.response.status_code"] == 200
    assert request.attributes["http.route"] == "/predictions"
    assert prediction.parent_id == request.span_id
    for child in (
        "cog.prediction.validate",
        "cog.prediction.execute",
        "cog.prediction.encode_output",
    ):
        assert one[child].parent_id == prediction.span_id, child
    execute = one["cog.prediction.execute"]
    assert one["cog.prediction.prepare_input"].parent_id == execute.span_id
    assert one["cog.prediction.invoke"].parent_id == execute.span_id
    model = one["model.inference"]
    assert model.parent_id == one["cog.prediction.invoke"].span_id
    assert model.attributes == {"model.text": "hello"}

    assert prediction.attributes == {
        "cog.prediction.id": prediction_id,
        "cog.prediction.kind": "prediction",
        "cog.prediction.response_mode": "sync",
        "cog.prediction.status": "succeeded",
        "cog.predictor": "predict.py:Predictor",
        "caller.model.name": "acme/model",
    }
    assert prediction.resource["service.name"] == "m"
    assert prediction.resource["cog.process.role"] == "server"
    assert model.resource["cog.process.role"] == "worker"
    assert one["cog.prediction.encode_output"].attributes["cog.output.mime_type"] == "text/plain"

    # Nothing of the untraced prediction: all spans belong to the caller's trace.
    assert {span.trace_id for span in collector.spans} == {trace_id}

    # The webhook carries the prediction span's context, in the caller's trace.
    sent = {k.lower(): v for k, v in webhooks.webhook_headers[0].items()}
    assert sent["traceparent"] == f"00-{trace_id}-{prediction.span_id}-01"
    assert sent["tracestate"] == "vendor=value"


def test_refused_and_failed_predictions_say_why(tmp_path, collector):
    env = {
        **FAST_EXPORT,
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_TRACES_SAMPLER": "always_on",  # no caller's trace needed
    }
    with run_server("tracing", tmp_path, env=env) as server, server.client() as client:
        response = client.post("/predictions", json={"input": {"text": 3}})
        assert response.status_code == 422
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            refused = [s for s in collector.spans if s.name == "cog.prediction"]
            if refused:
                break
            time.sleep(0.05)
    assert refused[0].attributes["cog.prediction.status"] == "failed"
    assert refused[0].attributes["error.type"] == "validation_error"
    assert refused[0].status == 2  # ERROR
    validate = [s for s in collector.spans if s.name == "cog.prediction.validate"]
    assert validate[0].parent_id == refused[0].span_id
    # The request made its own trace (always_on): cog.prediction's parent is its span.
    request = next(s for s in collector.spans if s.name == "POST /predictions")
    assert request.parent_id == "" and request.attributes["http.response.status_code"] == 422


def test_uploaded_outputs_and_async_predictions(tmp_path, collector):
    env = {**FAST_EXPORT, "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url}
    traceparent, trace_id, _ = _traceparent()
    with Receiver() as uploads:
        args = ("--upload-url", f"{uploads.url}/upload")
        with run_server("tracing", tmp_path, env=env, args=args) as server:
            with server.client() as client:
                response = client.post(
                    "/predictions",
                    json={"input": {"text": "up"}},
                    headers={"traceparent": traceparent, "prefer": "respond-async"},
                )
                assert response.status_code == 202
                names = {"cog.prediction", "cog.prediction.upload_output", "model.inference"}
                spans = collector.wait_for(names, trace_id)
    upload = spans["cog.prediction.upload_output"][0]
    assert upload.parent_id == spans["cog.prediction"][0].span_id
    assert upload.kind == 3  # CLIENT
    assert upload.attributes["cog.output.bytes"] == 2
    assert spans["cog.prediction"][0].attributes["cog.prediction.response_mode"] == "async"
    assert spans["cog.prediction"][0].attributes["cog.prediction.status"] == "succeeded"


def test_the_console_exporter_prints_one_span_a_line(tmp_path):
    env = {**FAST_EXPORT, "OTEL_TRACES_EXPORTER": "console"}
    traceparent, trace_id, caller_span = _traceparent()
    with run_server("tracing", tmp_path, env=env) as server:
        with server.client() as client:
            response = client.post("/predictions", json={}, headers={"traceparent": traceparent})
            assert response.status_code == 200
        server.process.terminate()
        output, _ = server.process.communicate(timeout=30)
    spans = {}
    for line in output.splitlines():
        if line.startswith('{"name"'):
            span = json.loads(line)
            spans[span["name"]] = span
    assert PREDICTION_SPANS <= spans.keys(), output
    assert {span["context"]["trace_id"] for span in spans.values()} == {f"0x{trace_id}"}
    assert spans["POST /predictions"]["parent_id"] == f"0x{caller_span}"
    invoke = spans["cog.prediction.invoke"]["context"]["span_id"]
    assert spans["model.inference"]["parent_id"] == invoke


@pytest.mark.parametrize("traced", [False, True])
@pytest.mark.parametrize(("fixture", "name"), [("echo", "text"), ("batched", "prompt")])
def test_nothing_of_opentelemetry_is_imported_when_tracing_is_off(tmp_path, traced, fixture, name):
    """Every import of both processes, as `-X importtime` lists them (PYTHONPROFILEIMPORTTIME
    reaches the worker too): with tracing off, no opentelemetry module."""
    env = {"PYTHONPROFILEIMPORTTIME": "1", "COG_TRACE_ENABLED": "true" if traced else ""}
    if traced:
        env["OTEL_TRACES_EXPORTER"] = "console"
    with run_server(fixture, tmp_path, env=env) as server:
        with server.client() as client:
            assert client.post("/predictions", json={"input": {name: "x"}}).is_success
        server.process.terminate()
        output, _ = server.process.communicate(timeout=30)
    assert "cog.runtime.runners" in output  # the worker's imports are in it (not the server's)
    assert ("| opentelemetry" in output) is traced


def test_tracing_that_cannot_export_is_off_with_a_warning(tmp_path):
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "", "PYTHONPROFILEIMPORTTIME": "1"}
    with run_server("tracing", tmp_path, env=env) as server:
        with server.client() as client:
            response = client.post("/predictions", json={})
            assert response.status_code == 200  # the model itself imports the API
        server.process.terminate()
        output, _ = server.process.communicate(timeout=30)
    assert "tracing is off: no collector: set OTEL_EXPORTER_OTLP_ENDPOINT" in output
    assert "opentelemetry.sdk" not in output


def test_a_custom_provider_an_extra_jaeger_header_and_an_async_model(tmp_path, collector):
    """cog.yaml's `observability.config` makes the worker's provider; the parent comes in a
    configured Jaeger header, and goes out in it to the webhook."""
    env = {**FAST_EXPORT, "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url}
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    jaeger = f"{trace_id}:{caller_span}:0:1"
    with Receiver() as webhooks, run_server("tracing_custom", tmp_path, env=env) as server:
        with server.client() as client:
            body = {"input": {"text": "x"}, "webhook": f"{webhooks.url}/hook"}
            response = client.post("/predictions", json=body, headers={"x-company-trace": jaeger})
            assert response.status_code == 200, response.text
            names = {
                "POST /predictions",
                "cog.prediction",
                "cog.prediction.invoke",
                "model.async_step",
            }
            spans = collector.wait_for(names, trace_id)
            deadline = time.monotonic() + 10
            while not webhooks.webhook_headers and time.monotonic() < deadline:
                time.sleep(0.05)
        server.process.terminate()
        output, _ = server.process.communicate(timeout=30)
    assert "instrumentation configured" in output
    one = {name: found[0] for name, found in spans.items()}
    assert one["POST /predictions"].parent_id == caller_span
    assert one["model.async_step"].parent_id == one["cog.prediction.invoke"].span_id
    assert one["model.async_step"].resource["model.name"] == "acme/custom"
    assert "model.name" not in one["cog.prediction"].resource  # the server's own provider
    prediction = one["cog.prediction"].span_id
    sent = {k.lower(): v for k, v in webhooks.webhook_headers[-1].items()}
    assert sent["traceparent"] == f"00-{trace_id}-{prediction}-01"
    assert sent["x-company-trace"] == f"{trace_id}:{prediction}:0:01"


def test_a_broken_custom_provider_fails_setup(tmp_path):
    env = {"OTEL_TRACES_EXPORTER": "console"}
    with run_server("tracing_broken", tmp_path, env=env) as server:
        health = server.health()
    assert health["status"] == "SETUP_FAILED"
    assert (
        "create_tracer_provider() must return an opentelemetry.sdk.trace.TracerProvider, not int"
        in health["setup"]["logs"]
    )


def test_a_streamed_prediction_is_traced_to_its_end(tmp_path, collector):
    env = {**FAST_EXPORT, "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "COG_TRACE_ENABLED": "1"}
    traceparent, trace_id, _ = _traceparent()
    with run_server("stream", tmp_path, env=env) as server, server.client() as client:
        headers = {"accept": "text/event-stream", "traceparent": traceparent}
        with client.stream("POST", "/predictions", json={"input": {}}, headers=headers) as answer:
            events = [line for line in answer.iter_lines() if line.startswith("event: ")]
        assert events[-1] == "event: completed"
        names = {"POST /predictions", "cog.prediction", "cog.prediction.invoke"}
        spans = collector.wait_for(names, trace_id)
    prediction = spans["cog.prediction"][0]
    assert prediction.attributes["cog.prediction.response_mode"] == "sse"
    assert prediction.attributes["cog.prediction.status"] == "succeeded"
    assert spans["POST /predictions"][0].attributes["http.response.status_code"] == 200


@pytest.mark.parametrize("fixture", ["tracing_batched", "tracing_batched_async"])
def test_a_batched_call_links_every_request_of_its_batch(tmp_path, collector, fixture):
    env = {**FAST_EXPORT, "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url}
    callers = [_traceparent() for _ in range(4)]
    untraced = 1  # one request of the batch without a traceparent: served, never linked

    def predict(i: int) -> str:
        headers = {"traceparent": callers[i][0]} if i < len(callers) else {}
        response = client.post("/predictions", json={"input": {"text": f"t{i}"}}, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["output"] == f"T{i}"
        return str(response.json()["id"])

    with run_server(fixture, tmp_path, env=env) as server, server.client() as client:
        with ThreadPoolExecutor(len(callers) + untraced) as pool:
            ids = list(pool.map(predict, range(len(callers) + untraced)))
        traces = [
            collector.wait_for(
                {"cog.prediction", "cog.prediction.execute", "cog.prediction.prepare_input"}, t
            )
            for _, t, _ in callers
        ]
        deadline = time.monotonic() + 30
        while True:  # each call span is in one of the requests' traces
            with collector.lock:
                calls = [s for s in collector.spans if s.name == "cog.batch.invoke"]
                models = [s for s in collector.spans if s.name == "model.inference"]
            if sum(len(c.links) for c in calls) >= len(callers) and len(models) >= len(calls):
                break
            assert time.monotonic() < deadline, f"call spans never arrived: {calls}"
            time.sleep(0.05)

    # Each request: its own execute span in its own trace, under the server's cog.prediction.
    executes = {}
    for (_, trace_id, _), spans, prediction_id in zip(callers, traces, ids, strict=False):
        assert len(spans["cog.prediction.execute"]) == 1
        execute = spans["cog.prediction.execute"][0]
        assert execute.parent_id == spans["cog.prediction"][0].span_id
        assert execute.attributes["cog.prediction.id"] == prediction_id
        assert spans["cog.prediction.prepare_input"][0].parent_id == execute.span_id
        executes[(trace_id, execute.span_id)] = prediction_id

    # Each call: linked to every traced request it served, once; a child of one of them.
    linked = [(trace_id, span_id) for call in calls for trace_id, span_id, _ in call.links]
    assert sorted(linked) == sorted(executes)
    assert max(len(call.links) for call in calls) > 1  # a real batch happened
    for call in calls:
        served = [executes[(t, s)] for t, s, _ in call.links]
        assert [a["cog.prediction.id"] for _, _, a in call.links] == served
        assert set(call.attributes["cog.batch.prediction_ids"]) == set(served)
        size = call.attributes["cog.batch.size"]
        assert len(served) <= size <= len(served) + untraced
        assert (call.trace_id, call.parent_id) in executes
        model = next(m for m in models if m.parent_id == call.span_id)
        assert model.trace_id == call.trace_id
        assert model.attributes["model.batch"] == size
    assert len(models) == len(calls)
