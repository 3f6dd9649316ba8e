"""The parsed form of cog.yaml: what every other component reads.

`cog.config.load_config()` builds these from a file and validates them; nothing else in pycog
reads cog.yaml directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Mount:
    """A `build.run[].mounts[]` entry: a BuildKit mount for one `run:` step."""

    type: str  # only "secret" is defined by Cog
    id: str
    target: str


@dataclass(frozen=True)
class RunCommand:
    """One `build.run` step: a shell command and the mounts it needs."""

    command: str
    mounts: tuple[Mount, ...] = ()


@dataclass(frozen=True)
class WeightSource:
    """One source of a managed weight (`weights[].source`)."""

    uri: str
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Weight:
    """A managed weight (`weights[]`, experimental in Cog)."""

    name: str
    target: str
    sources: tuple[WeightSource, ...]


@dataclass(frozen=True)
class BuildConfig:
    """The `build:` section."""

    python_version: str = "3.13"
    gpu: bool = False
    cuda: str | None = None
    cudnn: str | None = None
    python_requirements: str | None = None
    python_packages: tuple[str, ...] = ()
    system_packages: tuple[str, ...] = ()
    run: tuple[RunCommand, ...] = ()
    pre_install: tuple[str, ...] = ()
    sdk_version: str | None = None


Sampler = str
"""One of `rules.TRACE_SAMPLERS` (OpenTelemetry's names)."""


@dataclass(frozen=True)
class Traces:
    """`observability.traces`: whether the model's server traces predictions, and how."""

    enabled: bool = False
    sampler: Sampler = "parentbased_always_off"
    sampler_arg: str | None = None
    """The ratio of a ratio sampler, as Cog keeps it: a string between "0" and "1"."""
    trace_header: str | None = None
    """One more incoming header that may carry the parent, besides `traceparent`."""
    trace_header_format: str = "w3c"
    """How `trace_header` is written: `w3c` (a traceparent) or `jaeger` (uber-trace-id)."""


@dataclass(frozen=True)
class Observability:
    """The `observability:` section (Cog's tracing release)."""

    traces: Traces = field(default_factory=Traces)
    config: str | None = None
    """A project-relative Python file defining `create_tracer_provider()` for the model's spans."""


@dataclass(frozen=True)
class Config:
    """A validated cog.yaml.

    `predict` holds the predictor reference whether the file says `run:` or the older
    `predict:`; `train` the trainer reference. `concurrency_max` is `concurrency.max` (None
    when unset). `environment` keeps the file's order.
    """

    project_dir: Path
    build: BuildConfig = field(default_factory=BuildConfig)
    predict: str | None = None
    train: str | None = None
    image: str | None = None
    model: str | None = None
    concurrency_max: int | None = None
    environment: dict[str, str] = field(default_factory=dict)
    weights: tuple[Weight, ...] = ()
    observability: Observability = field(default_factory=Observability)
    filename: str = "cog.yaml"
    raw: dict[str, Any] = field(default_factory=dict)
    """The document as parsed, for labels such as `run.cog.config`."""
    warnings: tuple[str, ...] = ()
    """Things that work but should change (deprecated keys...), one line each."""

    def requirements_lines(self) -> list[str]:
        """The pip requirement lines of the model: `python_requirements`' file content or the
        `python_packages` list, with comments and blank lines removed."""
        if self.build.python_requirements:
            text = (self.project_dir / self.build.python_requirements).read_text()
            lines = text.splitlines()
        else:
            lines = list(self.build.python_packages)
        stripped = (line.split(" #", 1)[0].strip() for line in lines)
        return [line for line in stripped if line and not line.startswith("#")]
