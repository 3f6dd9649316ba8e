"""What a server process serves, from its command line, environment and cog.yaml."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from .. import envvars
from ..config import Config, ConfigError, load_config
from ..errors import CogError, PredictorNotSet
from ..queue.settings import QueueSettings
from ..runtime.tracing import TraceSettings
from .prediction import StreamLimits
from .tracing import resolve_tracing

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerSettings:
    """Everything `python -m cog.server.http` needs, resolved once at start."""

    project_dir: Path
    ref: str | None
    mode: str = "predict"
    host: str = "0.0.0.0"
    port: int = 5000
    upload_url: str | None = None
    await_explicit_shutdown: bool = False
    concurrency: int = 1
    # False when neither COG_MAX_CONCURRENCY nor concurrency.max chose the slot count: then
    # the predictor's @concurrent(max=N) does, once the worker has loaded it.
    concurrency_set: bool = True
    setup_timeout: float | None = None
    has_train: bool = False
    other_ref: str | None = None
    """The other mode's predictor (the trainer when serving predictions, and back), when cog.yaml
    sets both: /openapi.json describes both, whichever this server runs."""
    max_request_bytes: int = 100 * 1024**2
    idle_timeout: float = 30.0
    shutdown_grace: float = 30.0
    """Seconds a shutdown gives canceled predictions to end, then their terminal webhooks."""
    stream_limits: StreamLimits = StreamLimits()
    webhook_token: str | None = None
    """Sent as a bearer token with every webhook."""
    webhook_interval: float = 0.5
    """Minimum seconds between one prediction's non-terminal webhooks."""
    ready_file: Path | None = None
    """The Kubernetes ready file (None when not under Kubernetes)."""
    result_ttl: float = 600.0
    """Seconds a finished prediction is kept for polling and idempotent PUTs (0: none)."""
    result_count: int = 1000
    """Finished predictions kept at most (0: none)."""
    max_queue: int = 0
    """Requests that may wait for a slot (0: a busy model answers 409, as Cog's)."""
    tracing: TraceSettings | None = None
    """OpenTelemetry tracing (cog.yaml `observability:`, COG_TRACE_ENABLED, OTEL_*); None: off."""
    queue: QueueSettings | None = None
    """The Redis stream the server also takes predictions from (queue mode), if any."""


def _load_config(directory: Path) -> tuple[Config | None, CogError | None]:
    """cog.yaml, or the fault that stops the server reading its references from it.

    Only what `cog schema` checks can stop it (the server needs the references, not the build
    keys); a fault in another key is logged, in the words `cog serve` would refuse it with.
    """
    try:
        return load_config(directory), None
    except ConfigError as fault:
        try:
            config = load_config(directory, schema_only=True)
        except CogError as exc:
            return None, exc  # an image runs from its env vars: the caller decides
        log.warning("%s", fault)
        return config, None
    except CogError as exc:
        return None, exc


def resolve_settings(
    project_dir: str | os.PathLike[str] = ".",
    *,
    mode: str = "predict",
    host: str = "0.0.0.0",
    port: int | None = None,
    upload_url: str | None = None,
    await_explicit_shutdown: bool = False,
    queue: QueueSettings | None = None,
) -> ServerSettings:
    """Settings for a project: env vars (as a built image sets them) win over cog.yaml."""
    directory = Path(project_dir).resolve()
    predict_ref, train_ref, concurrency, observability = None, None, None, None
    config_fault: CogError | None = None
    if (directory / "cog.yaml").exists():
        config, config_fault = _load_config(directory)
        if config is not None:
            predict_ref, train_ref, concurrency, observability = (
                config.predict,
                config.train,
                config.concurrency_max,
                config.observability,
            )
    predict_ref = envvars.PREDICT_TYPE_STUB.get() or predict_ref
    train_ref = envvars.TRAIN_TYPE_STUB.get() or train_ref
    ref = train_ref if mode == "train" else predict_ref
    if ref is None and config_fault is not None:
        raise config_fault  # the real reason there is nothing to serve, as `cog schema` says it
    if config_fault is not None:
        log.warning("serving %s from the environment; %s", ref, config_fault)
    if ref is None:
        key = "train" if mode == "train" else "run"
        raise PredictorNotSet(
            f"no predictor to serve: set `{key}:` in cog.yaml or "
            f"COG_{'TRAIN' if mode == 'train' else 'PREDICT'}_TYPE_STUB"
        )
    chosen = envvars.MAX_CONCURRENCY.get_int() or concurrency
    slots = chosen or 1
    return ServerSettings(
        project_dir=directory,
        ref=ref,
        mode=mode,
        host=host,
        port=port if port is not None else (envvars.PORT.get_int() or 5000),
        upload_url=upload_url,
        await_explicit_shutdown=await_explicit_shutdown,
        concurrency=max(1, slots),
        concurrency_set=bool(chosen and chosen > 0),
        setup_timeout=envvars.SETUP_TIMEOUT.get_float() or None,
        has_train=train_ref is not None,
        other_ref=predict_ref if mode == "train" else train_ref,
        max_request_bytes=envvars.MAX_REQUEST_BYTES.get_int() or 100 * 1024**2,
        idle_timeout=envvars.IDLE_TIMEOUT.get_float() or 30.0,
        shutdown_grace=max(0.0, envvars.SHUTDOWN_GRACE.get_float() or 0.0),
        stream_limits=StreamLimits(
            history=envvars.STREAM_HISTORY_CAPACITY.get_int() or 0,
            backlog=max(1, envvars.STREAM_SUBSCRIBER_BACKLOG.get_int() or 1),
            subscribers=envvars.STREAM_MAX_SUBSCRIBERS.get_int() or 0,
        ),
        webhook_token=envvars.WEBHOOK_AUTH_TOKEN.get() or None,
        webhook_interval=envvars.THROTTLE_RESPONSE_INTERVAL.get_float() or 0.0,
        ready_file=_ready_file(),
        # 0 is a setting here (keep none, no queue), not "unset": no `or default`.
        result_ttl=max(0.0, envvars.RESULT_TTL.get_float() or 0.0),
        result_count=max(0, envvars.RESULT_COUNT.get_int() or 0),
        max_queue=max(0, envvars.MAX_QUEUE.get_int() or 0),
        tracing=resolve_tracing(observability),
        queue=queue,
    )


def _ready_file() -> Path | None:
    if envvars.KUBERNETES_SERVICE_HOST.get() is None:
        return None
    return Path(envvars.READY_FILE.get() or "/var/run/cog/ready")
