"""The facts cog.yaml is checked against: known keys, supported versions, reserved names."""

from __future__ import annotations

import re

from .. import envvars

TOP_LEVEL_KEYS = (
    "build",
    "image",
    "model",
    "run",
    "predict",
    "train",
    "concurrency",
    "environment",
    "weights",
    "observability",
)
BUILD_KEYS = (
    "gpu",
    "cuda",
    "cudnn",
    "python_version",
    "python_requirements",
    "python_packages",
    "system_packages",
    "run",
    "pre_install",
    "sdk_version",
)
# Keys earlier Cog releases knew and later ones dropped: accepted (and ignored) with a warning,
# so that a model written for those releases still loads.
RETIRED_KEYS: dict[str, tuple[str, ...]] = {
    "": ("tests",),
    "build": ("fast", "cog_runtime", "python_overrides"),
}
# The only keys the schema of a model depends on; a problem anywhere else is only a warning
# for `cog schema`.
SCHEMA_KEYS = ("predict", "run", "train")
CONCURRENCY_KEYS = ("max", "default_target")
RUN_COMMAND_KEYS = ("command", "mounts")
MOUNT_KEYS = ("type", "id", "target")
OBSERVABILITY_KEYS = ("config", "traces")
TRACES_KEYS = ("enabled", "sampler", "sampler_arg", "trace_header", "trace_header_format")
TRACE_SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
RATIO_SAMPLERS = ("traceidratio", "parentbased_traceidratio")
TRACE_HEADER_FORMATS = ("w3c", "jaeger")
# Headers that cannot be the extra trace header: they mean something else, or are the W3C
# ones, always read.
RESERVED_TRACE_HEADERS = ("authorization", "cookie", "host", "traceparent", "tracestate")
HTTP_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
WEIGHT_KEYS = ("name", "target", "source")
WEIGHT_SOURCE_KEYS = ("uri", "include", "exclude")

# Cog's minimum is 3.10 (pkg/config: "minimum supported Python version is 3.10"), and its
# `concurrency.max` above 1 needs 3.11.
MIN_PYTHON = (3, 10)
MIN_PYTHON_FOR_CONCURRENCY = (3, 11)
MAX_PYTHON = (3, 14)
SUPPORTED_PYTHONS = "3.10–3.13"
MIN_CUDA_MAJOR = 11

PYTHON_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")
CUDA_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")
PREDICTOR_REFERENCE = re.compile(r"^[^:]+\.py(?::[A-Za-z_][A-Za-z0-9_]*)?$")
ENVIRONMENT_ENTRY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)
WEIGHT_NAME = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*$")
SDK_VERSION = re.compile(r"^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$")
WEIGHT_URI_SCHEMES = ("hf://", "file://", "https://")

RESERVED_ENVIRONMENT = (
    "PATH",
    "LD_LIBRARY_PATH",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "PYTHONUNBUFFERED",
    "LIBRARY_PATH",
    "HF_ENDPOINT",
    "HF_HUB_ENABLE_HF_TRANSFER",
    envvars.TRACE_ENABLED.name,  # tracing is switched where the model runs
)
RESERVED_ENVIRONMENT_PREFIXES = (
    "R8_",
    "REPLICATE_",
    "CUDA_",
    "NVIDIA_",
    "NV_",
    "PGET_",
    "KUBERNETES_",
    # Tracing is set where the model runs (collector, credentials), not in the model.
    "OTEL_",
)

_IMAGE_NAME_UNSAFE = re.compile(r"[^a-z0-9-]")


def default_image_name(directory_name: str) -> str:
    """Cog's image name for a project without `image:`: `cog-<dir>`, lowercased and sanitised."""
    name = directory_name.lower().replace(" ", "-")
    return ("cog-" + _IMAGE_NAME_UNSAFE.sub("", name))[:30]
