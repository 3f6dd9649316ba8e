"""cog.yaml `observability:` (Cog's tracing release): its keys and their faults."""

from cog.config import Observability, Traces, load_config

from .test_load import problems, project


def test_tracing_is_off_without_the_section(tmp_path):
    assert load_config(project(tmp_path, "predict: predict.py:Predictor\n")).observability == (
        Observability()
    )


def test_every_key_loads(tmp_path):
    text = """
        observability:
          config: telemetry.py
          traces:
            enabled: true
            sampler: parentbased_traceidratio
            sampler_arg: "0.25"
            trace_header: X-Company-Trace
            trace_header_format: jaeger
    """
    config = load_config(project(tmp_path, text, files=("telemetry.py",)))
    assert config.observability == Observability(
        Traces(True, "parentbased_traceidratio", "0.25", "x-company-trace", "jaeger"),
        "telemetry.py",
    )


def test_each_fault_is_named(tmp_path):
    text = """
        observability:
          config: telemetry.py
          traces:
            sampler: sometimes
            sampler_arg: "2"
            trace_header: Authorization
            trace_header_format: zipkin
    """
    found, _ = problems(tmp_path, text, files=("telemetry.py",))
    messages = {key: message for key, _, message, _ in found}
    assert messages == {
        "observability.config": "requires observability.traces.enabled to be true",
        "observability.traces": "`enabled` is required",
        "observability.traces.sampler": '"sometimes" is not a supported OpenTelemetry sampler',
        "observability.traces.sampler_arg": "is only valid for ratio samplers",
        "observability.traces.trace_header": (
            '"Authorization" must be a valid, non-reserved HTTP header name'
        ),
        "observability.traces.trace_header_format": "must be w3c or jaeger",
    }
    assert len(found) == len(messages)


def test_ratio_samplers_need_a_ratio_between_0_and_1(tmp_path):
    base = "observability:\n  traces:\n    enabled: true\n    sampler: traceidratio\n"
    found, _ = problems(tmp_path, base)
    assert found[0][:3] == (
        "observability.traces.sampler_arg",
        2,
        "is required for ratio samplers",
    )
    found, _ = problems(tmp_path, base + '    sampler_arg: "nan"\n')
    assert found[0][2] == '"nan" must be a number between 0 and 1'


def test_the_config_file_must_be_a_python_file_in_the_project(tmp_path):
    traces = "  traces:\n    enabled: true\n"
    for value, message in [
        ("/etc/telemetry.py", '"/etc/telemetry.py" must be a project-relative Python file'),
        ("../outside.py", '"../outside.py" must be a project-relative Python file'),
        ("telemetry.txt", '"telemetry.txt" must be a Python file ending in .py'),
        ("missing.py", f"missing.py does not exist in {tmp_path}"),
    ]:
        found, _ = problems(tmp_path, f"observability:\n  config: {value}\n{traces}")
        assert [(key, text) for key, _, text, _ in found] == [("observability.config", message)]


def test_tracing_variables_are_reserved_from_environment(tmp_path):
    found, _ = problems(
        tmp_path, "environment:\n  - OTEL_SERVICE_NAME=x\n  - COG_TRACE_ENABLED=1\n"
    )
    assert [message for _, _, message, _ in found] == [
        "OTEL_SERVICE_NAME is reserved by Cog and cannot be set here",
        "COG_TRACE_ENABLED is reserved by Cog and cannot be set here",
    ]
