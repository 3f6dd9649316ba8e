"""Tracing's SDK goes into a model's environment (image or local) only when cog.yaml turns
tracing on; every other project's requirements, and so its cached environment, stay as they
were."""

import zipfile

from cog.build.sdk_wheel import server_requirements
from cog.config import load_config
from cog.localenv.pip_settings import PipSettings
from cog.localenv.spec import spec_for

TRACED = "observability:\n  traces:\n    enabled: true\n"


def _project(tmp_path, text):
    (tmp_path / "cog.yaml").write_text('build:\n  python_version: "3.11"\n' + text)
    return load_config(tmp_path)


def test_the_local_environment_gets_the_tracing_extra_only_when_traced(tmp_path):
    plain = spec_for(_project(tmp_path, ""), "editable:x:y", PipSettings())
    traced = spec_for(_project(tmp_path, TRACED), "editable:x:y", PipSettings())
    assert plain.requirements == ()
    assert {line.split(">")[0] for line in traced.requirements} == {
        "opentelemetry-api",
        "opentelemetry-sdk",
        "opentelemetry-exporter-otlp-proto-http",
    }
    assert plain.digest() != traced.digest()


def test_an_image_gets_the_wheels_tracing_extra_only_when_traced(tmp_path):
    wheel = tmp_path / "pycog-1.0-py3-none-any.whl"
    metadata = "\n".join(
        [
            "Metadata-Version: 2.3",
            "Name: pycog",
            "Provides-Extra: server",
            "Provides-Extra: tracing",
            "Requires-Dist: click",
            "Requires-Dist: httpx; extra == 'server'",
            "Requires-Dist: opentelemetry-sdk>=1.20; extra == 'tracing'",
            "",
        ]
    )
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("pycog-1.0.dist-info/METADATA", metadata)
    assert server_requirements(wheel) == ["httpx"]
    assert server_requirements(wheel, tracing=True) == ["httpx", "opentelemetry-sdk>=1.20"]
