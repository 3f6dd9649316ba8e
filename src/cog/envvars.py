"""Every environment variable pycog reads, declared once.

Code reads variables through these declarations (`SETUP_TIMEOUT.get()`), never with a bare
`os.environ[...]`, and docs/environment.md is rendered from this list (a test keeps it in step).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeVar


@dataclass(frozen=True)
class EnvVar:
    """One environment variable: its name, what it does, and the CLI flag it mirrors."""

    name: str
    description: str
    default: str | None = None
    flag: str | None = None
    where: str = "runtime"

    def get(self) -> str | None:
        """The variable's value, or its default when unset or empty."""
        return os.environ.get(self.name) or self.default

    def get_float(self) -> float | None:
        """The value as a number; unset, empty or unparsable values give the default."""
        return _number(self.get(), float, self.default)

    def get_int(self) -> int | None:
        """The value as an integer; unset, empty or unparsable values give the default."""
        return _number(self.get(), int, self.default)


N = TypeVar("N", int, float)


def _number(value: str | None, kind: type[N], default: str | None) -> N | None:
    for candidate in (value, default):
        if candidate is None:
            continue
        try:
            return kind(candidate)
        except ValueError:
            continue
    return None


PORT = EnvVar("PORT", "Port the prediction server listens on.", "5000", "--port")
PREDICT_TYPE_STUB = EnvVar(
    "COG_PREDICT_TYPE_STUB",
    "Predictor reference (`predict.py:Predictor`); overrides cog.yaml's `run`/`predict`.",
)
TRAIN_TYPE_STUB = EnvVar(
    "COG_TRAIN_TYPE_STUB", "Trainer reference (`train.py:train`); overrides cog.yaml's `train`."
)
MAX_CONCURRENCY = EnvVar(
    "COG_MAX_CONCURRENCY",
    "Predictions run at once (slots); overrides `concurrency.max`. Needs an async predictor "
    "above 1.",
)
SETUP_TIMEOUT = EnvVar(
    "COG_SETUP_TIMEOUT", "Seconds `setup()` may take before the server reports SETUP_FAILED."
)
THROTTLE_RESPONSE_INTERVAL = EnvVar(
    "COG_THROTTLE_RESPONSE_INTERVAL",
    "Minimum seconds between non-terminal webhooks of one prediction.",
    "0.5",
)
SHUTDOWN_GRACE = EnvVar(
    "PYCOG_SHUTDOWN_GRACE",
    "Seconds a graceful shutdown (SIGTERM, SIGINT, `/shutdown`) gives the predictions it cancels "
    "to end (those still running then fail), and then gives their terminal webhooks (pycog only).",
    "30",
)
STREAM_HISTORY_CAPACITY = EnvVar(
    "COG_STREAM_HISTORY_CAPACITY",
    "Server-Sent Events kept per prediction for clients that reconnect (0 disables replay).",
    "1024",
)
STREAM_MAX_SUBSCRIBERS = EnvVar(
    "PYCOG_STREAM_MAX_SUBSCRIBERS",
    "Server-Sent Events streams one prediction may have at once; more get 429 (pycog only).",
    "1024",
)
STREAM_SUBSCRIBER_BACKLOG = EnvVar(
    "PYCOG_STREAM_SUBSCRIBER_BACKLOG",
    "Events a slow Server-Sent Events client may fall behind before its stream ends with a "
    "`lagged` error (pycog only).",
    "1024",
)
RESULT_TTL = EnvVar(
    "PYCOG_RESULT_TTL",
    "Seconds a finished prediction stays readable by `GET /predictions/{id}` and answers a "
    "`PUT` of its id instead of running again; 0 keeps none (pycog only).",
    "600",
)
RESULT_COUNT = EnvVar(
    "PYCOG_RESULT_COUNT",
    "Finished predictions kept for `GET /predictions/{id}` and idempotent `PUT`s, the newest "
    "first; 0 keeps none (pycog only).",
    "1000",
)
MAX_QUEUE = EnvVar(
    "COG_MAX_QUEUE",
    "Requests that may wait, in order of arrival, for a busy model's slot; more get 429 with "
    "`Retry-After`. 0 answers 409 when every slot is busy, as Cog does (pycog only).",
    "0",
)
WEBHOOK_AUTH_TOKEN = EnvVar(
    "WEBHOOK_AUTH_TOKEN", "Sent as `Authorization: Bearer <token>` with every webhook."
)
WEIGHTS = EnvVar("COG_WEIGHTS", "Passed to `setup(weights=...)` when setup declares it.")
USER_AGENT = EnvVar("COG_USER_AGENT", "User-Agent of downloads of URL inputs.")
MAX_INPUT_FILE_BYTES = EnvVar(
    "PYCOG_MAX_INPUT_FILE_BYTES",
    "Largest file a URL input may download, in bytes (pycog only).",
    str(5 * 1024**3),
)
INPUT_DOWNLOAD_TIMEOUT = EnvVar(
    "PYCOG_INPUT_DOWNLOAD_TIMEOUT",
    "Seconds one URL input's whole download may take, however steadily bytes arrive (pycog only).",
    "600",
)
REFUSE_PRIVATE_URLS = EnvVar(
    "PYCOG_REFUSE_PRIVATE_URLS",
    "`1` refuses URL inputs whose host resolves to a loopback, private or link-local address, "
    "at every redirect (pycog only).",
)
MAX_REQUEST_BYTES = EnvVar(
    "PYCOG_MAX_REQUEST_BYTES",
    "Largest request body the server reads, in bytes (`data:` URIs included); a larger one "
    "gets 413 before it is read (pycog only).",
    str(100 * 1024**2),
)
IDLE_TIMEOUT = EnvVar(
    "PYCOG_IDLE_TIMEOUT",
    "Seconds a connection may stay open between requests, and may take to send a request's "
    "headers, before the server closes it (pycog only).",
    "30",
)
WORKER_FRAME_BYTES = EnvVar(
    "PYCOG_WORKER_FRAME_BYTES",
    "Largest message sent inline between the server and its worker, in bytes; larger inputs "
    "and outputs travel as spill files (pycog only).",
    str(8 * 1024**2),
)
KUBERNETES_SERVICE_HOST = EnvVar(
    "KUBERNETES_SERVICE_HOST",
    "Set by Kubernetes: the first health check that finds the model READY writes the ready "
    "file (a readiness probe can test for it).",
)
READY_FILE = EnvVar(
    "PYCOG_READY_FILE",
    "Where the Kubernetes ready file is written (pycog only).",
    "/var/run/cog/ready",
)
QUEUE = EnvVar(
    "COG_QUEUE",
    "The Redis stream the server also takes predictions from (queue mode, with COG_REDIS_URL); "
    "responses go to `NAME:response:ID`. The server's `--queue` flag wins over it; `cog "
    "kubernetes --queue` writes it into its manifests.",
    where="queue",
)
REDIS_URL = EnvVar(
    "COG_REDIS_URL",
    "The Redis server of COG_QUEUE (`redis://HOST:PORT/DB`); the server's `--redis-url` flag "
    "wins over it.",
    where="queue",
)
QUEUE_CLAIM_AFTER = EnvVar(
    "COG_QUEUE_CLAIM_AFTER",
    "Seconds a queue entry of another worker may stay idle (its worker presumably dead) before "
    "this worker takes it over; the server's `--queue-claim-after` flag wins over it.",
    "30",
    where="queue",
)
LOG_LEVEL = EnvVar("COG_LOG_LEVEL", "Server log level: debug, info, warning or error.", "info")
LOG_FORMAT = EnvVar(
    "LOG_FORMAT",
    "`json` writes the server's own log lines as one JSON object each (`logger`, `timestamp`, "
    "`severity`, `message`, `prediction_id` where known); otherwise they are for people.",
)
TRACE_ENABLED = EnvVar(
    "COG_TRACE_ENABLED",
    "`false` turns off the tracing cog.yaml's `observability.traces.enabled` turns on; `true` "
    "turns it on without cog.yaml (pycog only). Needs the `pycog[tracing]` extra.",
)
OTEL_SDK_DISABLED = EnvVar("OTEL_SDK_DISABLED", "`true` turns tracing off (OpenTelemetry's).")
OTEL_TRACES_EXPORTER = EnvVar(
    "OTEL_TRACES_EXPORTER",
    "Where spans go when tracing is on: `otlp` (needs an endpoint), `console` (the "
    "process's stdout, one JSON object per span) or `none`.",
    "otlp",
)
OTEL_EXPORTER_OTLP_ENDPOINT = EnvVar(
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "The OTLP collector (`/v1/traces` is appended); tracing to `otlp` without an endpoint is "
    "off, with a warning. `OTEL_EXPORTER_OTLP_HEADERS`, `..._TIMEOUT`, `..._CERTIFICATE` are "
    "read by the exporter.",
)
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = EnvVar(
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "The OTLP collector's traces URL, used as it is; wins over OTEL_EXPORTER_OTLP_ENDPOINT.",
)
OTEL_EXPORTER_OTLP_PROTOCOL = EnvVar(
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "`http/protobuf`, or `grpc` when opentelemetry-exporter-otlp-proto-grpc is installed. "
    "`OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` wins over it.",
    "http/protobuf",
)
OTEL_EXPORTER_OTLP_TRACES_PROTOCOL = EnvVar(
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "The OTLP protocol for traces only."
)
OTEL_SERVICE_NAME = EnvVar("OTEL_SERVICE_NAME", "The `service.name` of spans.", "cog")
OTEL_TRACES_SAMPLER = EnvVar(
    "OTEL_TRACES_SAMPLER",
    "The sampler, over cog.yaml's `observability.traces.sampler` (default "
    "`parentbased_always_off`: only requests with a sampled `traceparent` are traced).",
)
OTEL_TRACES_SAMPLER_ARG = EnvVar(
    "OTEL_TRACES_SAMPLER_ARG", "A ratio sampler's ratio, over cog.yaml's `sampler_arg`."
)
OPENAPI_SCHEMA = EnvVar(
    "COG_OPENAPI_SCHEMA",
    "Path of a prebuilt OpenAPI schema used instead of reading the predictor.",
    flag="--openapi-schema",
    where="build",
)
CACHE_DIR = EnvVar(
    "COG_CACHE_DIR",
    "Root of pycog's caches (local environments, weights).",
    where="cli",
)
SDK_WHEEL = EnvVar(
    "COG_SDK_WHEEL",
    "A pycog wheel file (or a directory holding one) to install into built images and local "
    "environments instead of the pycog that runs.",
    where="build",
)
COGLET_WHEEL = EnvVar(
    "COGLET_WHEEL",
    "Cog's Rust server wheel; pycog's server is in its own wheel, so this is only checked "
    "(a path that does not exist is an error, as in Cog) and otherwise ignored.",
    where="build",
)
DOCKER_CLI = EnvVar(
    "PYCOG_DOCKER_CLI",
    "The `docker` executable pycog drives (default: `docker` on PATH).",
    where="build",
)
PARENT_PID = EnvVar(
    "PYCOG_PARENT_PID",
    "Set by the CLI (and by the server for its worker): the server or worker exits when this "
    "process ends, even by SIGKILL (pycog only).",
)
EXIT_ON_STDIN_EOF = EnvVar(
    "PYCOG_EXIT_ON_STDIN_EOF",
    "Set by the CLI for containers: the server shuts down when its stdin is closed (pycog only).",
)
NO_COLOR = EnvVar("NO_COLOR", "Disable colour in the CLI's output.", where="cli")

ALL: tuple[EnvVar, ...] = tuple(
    value for value in list(globals().values()) if isinstance(value, EnvVar)
)


def render_markdown() -> str:
    """docs/environment.md: one table row per variable."""
    lines = [
        "# Environment variables",
        "",
        "Generated from `src/cog/envvars.py` (a test checks that it is in step).",
        "",
        "| variable | used by | default | flag | what it does |",
        "|---|---|---|---|---|",
    ]
    for var in sorted(ALL, key=lambda v: (v.where, v.name)):
        default = f"`{var.default}`" if var.default else ""
        flag = f"`{var.flag}`" if var.flag else ""
        lines.append(f"| `{var.name}` | {var.where} | {default} | {flag} | {var.description} |")
    return "\n".join(lines) + "\n"
