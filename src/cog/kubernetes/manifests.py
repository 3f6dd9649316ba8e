"""The manifests `cog kubernetes` prints, as plain dicts in the order to apply them.

HTTP mode: a Deployment, a Service, and a HorizontalPodAutoscaler when `max_replicas` is set.
Queue mode: a Deployment (no Service: work arrives through Redis), a Secret when the Redis URL
holds credentials, and a KEDA ScaledObject.

Shutdown: on SIGTERM the server cancels what runs and gives it PYCOG_SHUTDOWN_GRACE seconds,
then as long again to its terminal webhooks (docs/compatibility.md). In HTTP mode a preStop
hook first waits, up to `drain_seconds`, for the predictions in flight to finish while the
Service stops routing new ones here; the pod's termination grace covers the hook and both
graces, so the kubelet's SIGKILL never cuts a prediction or a webhook short.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .. import envvars
from . import keda
from .errors import ManifestError

READY_DIRECTORY = "/var/run/cog"
PROBE = ("python", "-m", "cog.kubernetes.probe")
PROBE_TIMEOUT_SECONDS = 10
STARTUP_PERIOD_SECONDS = 10
DRAIN_SETTLE_SECONDS = 5
"""How long the preStop hook waits for the Service to stop routing to a terminating pod."""
TERMINATION_MARGIN_SECONDS = 10
"""Above the server's own bound (2 × grace + 5 s; 3 × in queue mode), for process exit and the kubelet."""

DEFAULT_QUEUE_MAX_REPLICAS = 10

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Queue:
    name: str
    redis_url: str

    @property
    def group(self) -> str:
        return self.name  # the queue worker's default consumer group


@dataclass(frozen=True)
class Plan:
    """Everything the manifests depend on; the CLI fills it from flags and cog.yaml."""

    image: str
    name: str
    port: int = 5000
    replicas: int | None = None
    """The fixed count (1 when unset); an autoscaler sets it otherwise."""
    min_replicas: int | None = None
    max_replicas: int | None = None
    gpus: int = 0
    cpu: str | None = None
    memory: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    shutdown_grace: float = 30.0
    drain_seconds: int = 60
    startup_seconds: int = 1800
    """How long setup may take before the kubelet restarts the container."""
    concurrency: int = 1
    """Predictions one replica runs at once: the queue work KEDA gives each replica."""
    target_cpu_percent: int = 80
    image_pull_secret: str | None = None
    queue: Queue | None = None
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def selector(self) -> dict[str, str]:
        return {"app.kubernetes.io/name": self.name}

    @property
    def all_labels(self) -> dict[str, str]:
        return {**self.selector, "app.kubernetes.io/component": "predictor", **self.labels}


def build(plan: Plan) -> list[Manifest]:
    check(plan)
    manifests: list[Manifest] = []
    redis = keda.parse_redis_url(plan.queue.redis_url) if plan.queue else None
    if plan.queue and redis and (redis.password or redis.username):
        manifests.append(redis_secret(plan, redis))
    manifests.append(deployment(plan, redis))
    if plan.queue is None:
        manifests.append(service(plan))
        if plan.max_replicas is not None:
            manifests.append(autoscaler(plan))
    elif redis is not None:
        manifests.append(
            keda.scaled_object(
                name=plan.name,
                labels=plan.all_labels,
                queue=plan.queue.name,
                group=plan.queue.group,
                redis=redis,
                min_replicas=0 if plan.min_replicas is None else plan.min_replicas,
                max_replicas=plan.max_replicas or DEFAULT_QUEUE_MAX_REPLICAS,
                entries_per_replica=plan.concurrency,
            )
        )
    return manifests


def check(plan: Plan) -> None:
    if not 1 <= plan.port <= 65535:
        raise ManifestError(f"--port {plan.port} is not a TCP port (1-65535)")
    if plan.replicas is not None and plan.replicas < 0:
        raise ManifestError("--replicas cannot be negative")
    if plan.replicas is not None and autoscaled(plan):
        raise ManifestError(
            "--replicas is a fixed count: with --max or --queue the autoscaler sets it "
            "(use --min for its lower bound)"
        )
    for flag, value in (
        ("--shutdown-grace", plan.shutdown_grace),
        ("--gpus", plan.gpus),
        ("--drain-timeout", plan.drain_seconds),
        ("--startup-timeout", plan.startup_seconds),
    ):
        if value < 0:
            raise ManifestError(f"{flag} cannot be negative")
    lowest = 0 if plan.queue else 1
    if plan.min_replicas is not None and plan.min_replicas < lowest:
        raise ManifestError(
            f"--min must be at least {lowest}"
            + ("" if plan.queue else " (scaling to zero needs --queue: KEDA wakes on its work)")
        )
    if plan.queue is None and plan.min_replicas is not None and plan.max_replicas is None:
        raise ManifestError("--min needs --max: the autoscaler needs both bounds")
    if plan.max_replicas is not None:
        if plan.max_replicas < 1:
            raise ManifestError("--max must be at least 1")
        if plan.min_replicas is not None and plan.min_replicas > plan.max_replicas:
            raise ManifestError(f"--min {plan.min_replicas} is above --max {plan.max_replicas}")


def termination_grace_seconds(plan: Plan) -> int:
    # HTTP mode: the preStop drain, then the grace twice (canceled predictions, their
    # webhooks). A queue worker first lets what runs finish, for one grace more.
    drain = plan.drain_seconds + DRAIN_SETTLE_SECONDS if plan.queue is None else 0
    graces = 2 if plan.queue is None else 3
    return drain + math.ceil(graces * plan.shutdown_grace) + 5 + TERMINATION_MARGIN_SECONDS


def deployment(plan: Plan, redis: keda.RedisTarget | None) -> Manifest:
    spec: Manifest = {
        "selector": {"matchLabels": plan.selector},
        "template": {
            "metadata": {"labels": plan.all_labels},
            "spec": {
                "terminationGracePeriodSeconds": termination_grace_seconds(plan),
                "containers": [container(plan, redis)],
                "volumes": [{"name": "cog-ready", "emptyDir": {}}],
            },
        },
    }
    if plan.image_pull_secret:
        pull = [{"name": plan.image_pull_secret}]
        spec["template"]["spec"]["imagePullSecrets"] = pull
    if not autoscaled(plan):  # an autoscaler owns the count; a fixed one would fight it on apply
        spec = {"replicas": 1 if plan.replicas is None else plan.replicas, **spec}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": plan.name, "labels": plan.all_labels},
        "spec": spec,
    }


def autoscaled(plan: Plan) -> bool:
    return plan.queue is not None or plan.max_replicas is not None


def container(plan: Plan, redis: keda.RedisTarget | None) -> Manifest:
    spec: Manifest = {
        "name": "model",
        "image": plan.image,
        "ports": [{"name": "http", "containerPort": plan.port, "protocol": "TCP"}],
        "env": environment(plan, redis),
    }
    resources = container_resources(plan)
    if resources:
        spec["resources"] = resources
    spec |= {
        # Each failure of the startup probe is one period of setup; liveness starts after it.
        "startupProbe": exec_probe(
            "started",
            period=STARTUP_PERIOD_SECONDS,
            failures=max(1, math.ceil(plan.startup_seconds / STARTUP_PERIOD_SECONDS)),
        ),
        "readinessProbe": exec_probe("ready", period=5, failures=3),
        "livenessProbe": exec_probe("live", period=10, failures=3),
        "volumeMounts": [{"name": "cog-ready", "mountPath": READY_DIRECTORY}],
    }
    if plan.queue is None:
        drain = [*PROBE, "drain", "--timeout", str(plan.drain_seconds)]
        drain += ["--settle", str(DRAIN_SETTLE_SECONDS)]
        spec["lifecycle"] = {"preStop": {"exec": {"command": drain}}}
    return spec


def exec_probe(check: str, *, period: int, failures: int) -> Manifest:
    return {
        "exec": {"command": [*PROBE, check]},
        "periodSeconds": period,
        "timeoutSeconds": PROBE_TIMEOUT_SECONDS,
        "failureThreshold": failures,
    }


def container_resources(plan: Plan) -> Manifest:
    requests: dict[str, str] = {}
    cpu = plan.cpu or ("1" if plan.queue is None and plan.max_replicas is not None else None)
    if cpu:  # the HPA's CPU utilisation is relative to the request, so it needs one
        requests["cpu"] = cpu
    if plan.memory:
        requests["memory"] = plan.memory
    resources: Manifest = {}
    if requests:
        resources["requests"] = requests
    if plan.gpus:
        resources["limits"] = {"nvidia.com/gpu": str(plan.gpus)}
    return resources


def environment(plan: Plan, redis: keda.RedisTarget | None) -> list[Manifest]:
    env: list[Manifest] = [
        {"name": "PORT", "value": str(plan.port)},
        {"name": envvars.SHUTDOWN_GRACE.name, "value": _number(plan.shutdown_grace)},
        {"name": envvars.READY_FILE.name, "value": f"{READY_DIRECTORY}/ready"},
    ]
    if plan.queue is not None and redis is not None:
        env.append({"name": envvars.QUEUE.name, "value": plan.queue.name})
        if redis.password or redis.username:
            env.append(_secret_env(envvars.REDIS_URL.name, plan, "url"))
            if redis.username:
                env.append(_secret_env(keda.USERNAME_ENV, plan, "username"))
            if redis.password:
                env.append(_secret_env(keda.PASSWORD_ENV, plan, "password"))
        else:
            env.append({"name": envvars.REDIS_URL.name, "value": plan.queue.redis_url})
    given = {name for name, _ in plan.env}
    env = [entry for entry in env if entry["name"] not in given]  # -e wins
    env += [{"name": name, "value": value} for name, value in plan.env]
    return env


def redis_secret(plan: Plan, redis: keda.RedisTarget) -> Manifest:
    assert plan.queue is not None
    data = {"url": plan.queue.redis_url}
    if redis.username:
        data["username"] = redis.username
    if redis.password:
        data["password"] = redis.password
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": _secret_name(plan), "labels": plan.all_labels},
        "type": "Opaque",
        "stringData": data,
    }


def _secret_name(plan: Plan) -> str:
    return f"{plan.name}-redis"


def _secret_env(name: str, plan: Plan, key: str) -> Manifest:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": _secret_name(plan), "key": key}}}


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def service(plan: Plan) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": plan.name, "labels": plan.all_labels},
        "spec": {
            "selector": plan.selector,
            "ports": [{"name": "http", "port": plan.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def autoscaler(plan: Plan) -> Manifest:
    assert plan.max_replicas is not None
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": plan.name, "labels": plan.all_labels},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": plan.name},
            "minReplicas": plan.min_replicas or 1,
            "maxReplicas": plan.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": plan.target_cpu_percent,
                        },
                    },
                }
            ],
        },
    }


def to_yaml(manifests: list[Manifest]) -> str:
    import yaml

    return yaml.safe_dump_all(manifests, sort_keys=False, default_flow_style=False)
