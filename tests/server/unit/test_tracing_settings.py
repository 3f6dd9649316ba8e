"""Whether tracing is on, from cog.yaml and the environment (resolved in process), and the
caller tags taken from a request's context."""

import logging

import pytest

from cog.config import Observability, Traces
from cog.runtime.tracing import TraceSettings, grpc_exporter_installed
from cog.server.tracing import caller_attributes, resolve_tracing

ON = Observability(Traces(enabled=True))
VARIABLES = (
    "COG_TRACE_ENABLED",
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_SERVICE_NAME",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")


def test_cog_yaml_turns_it_on_and_the_environment_off(monkeypatch):
    assert resolve_tracing(None) is None
    assert resolve_tracing(Observability()) is None
    assert resolve_tracing(ON) == TraceSettings()
    for name, value in [
        ("COG_TRACE_ENABLED", "false"),
        ("OTEL_SDK_DISABLED", "true"),
        ("OTEL_TRACES_EXPORTER", "none"),
    ]:
        with monkeypatch.context() as patch:
            patch.setenv(name, value)
            assert resolve_tracing(ON) is None, name


def test_cog_trace_enabled_turns_it_on_without_cog_yaml(monkeypatch):
    monkeypatch.setenv("COG_TRACE_ENABLED", "true")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "svc")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.5")
    assert resolve_tracing(None) == TraceSettings(
        sampler="traceidratio", sampler_arg=0.5, service_name="svc"
    )


def test_the_environment_wins_over_cog_yaml_and_keeps_its_headers(monkeypatch):
    traced = Observability(Traces(True, "always_on", None, "x-trace", "jaeger"), "telemetry.py")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    assert resolve_tracing(traced) == TraceSettings(
        exporter="console",
        sampler="always_off",
        trace_header="x-trace",
        trace_header_format="jaeger",
        config_file="telemetry.py",
    )


@pytest.mark.parametrize(
    ("name", "value", "warning"),
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "", "no collector: set OTEL_EXPORTER_OTLP_ENDPOINT"),
        ("OTEL_TRACES_EXPORTER", "zipkin", "OTEL_TRACES_EXPORTER=zipkin is not one of"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift", "is not http/protobuf or grpc"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "needs opentelemetry-exporter-otlp-proto-grpc"),
        ("OTEL_TRACES_SAMPLER", "sometimes", "OTEL_TRACES_SAMPLER=sometimes is not one of"),
        ("OTEL_TRACES_SAMPLER", "traceidratio", "needs a ratio between 0 and 1"),
    ],
)
def test_what_cannot_work_is_off_with_a_warning(monkeypatch, caplog, name, value, warning):
    if value == "grpc" and grpc_exporter_installed():
        pytest.skip("the gRPC exporter is installed here")
    monkeypatch.setenv(name, value)
    with caplog.at_level(logging.WARNING, "cog.server"):
        assert resolve_tracing(ON) is None
    assert warning in caplog.text


def test_a_traces_only_endpoint_is_enough(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/v1/traces")
    assert resolve_tracing(ON) == TraceSettings()


def test_settings_reach_the_worker_intact():
    settings = TraceSettings("console", "grpc", "traceidratio", 0.1, "s", "x-t", "jaeger", "t.py")
    assert TraceSettings.from_json(settings.to_json()) == settings


def test_caller_tags_are_opt_in_and_bounded():
    context = {
        "trace.model.name": "acme/model",
        "trace.bad key": "dropped",
        "trace.": "dropped",
        "ordinary": "not exported",
        "trace.long": "é" * 100,  # 200 bytes: cut at a character boundary
    }
    assert caller_attributes(context) == {
        "caller.long": "é" * 64,
        "caller.model.name": "acme/model",
    }
    many = caller_attributes({f"trace.k{index:02}": "v" for index in range(20)})
    assert list(many) == [f"caller.k{index:02}" for index in range(16)]  # the first 16 by name
    assert caller_attributes({f"trace.{'k' * 65}": "too long a name"}) == {}
