"""`cog kubernetes`: print the manifests that run a model image on Kubernetes.

The image and cog.yaml decide most of it: the name (from the image), a GPU when `build.gpu`,
the slots per replica from `concurrency.max`. Nothing is applied: pipe it to `kubectl apply -f -`.
"""

from __future__ import annotations

from pathlib import Path

import click

from .. import envvars
from ..config import Config
from ..errors import CogError
from ..kubernetes.errors import ManifestError
from ..kubernetes.manifests import Plan, Queue, build, to_yaml
from ..kubernetes.names import check_name, name_from_image
from .errors import as_click_error
from .options import find_project_dir, load_project


@click.command("kubernetes")
@click.argument("image", required=False)
@click.option("--name", help="Name of the objects (default: from the image).")
@click.option("--queue", "queue", help="Take work from this Redis stream (KEDA scales on it).")
@click.option("--redis-url", help="redis://HOST:PORT/DB of the queue (with --queue).")
@click.option("--replicas", type=int, help="Fixed replica count (default 1), without autoscaling.")
@click.option("--min", "min_replicas", type=int, help="Autoscaling lower bound (0 with --queue).")
@click.option("--max", "max_replicas", type=int, help="Autoscaling upper bound.")
@click.option("--port", type=int, default=5000, show_default=True, help="Server port.")
@click.option("--gpus", type=int, help="nvidia.com/gpu per replica (default: 1 if build.gpu).")
@click.option("--cpu", help="CPU request per replica, e.g. 2 or 500m.")
@click.option("--memory", help="Memory request per replica, e.g. 16Gi.")
@click.option("-e", "--env", "env", multiple=True, help="NAME=value for the model.")
@click.option("--image-pull-secret", help="Secret holding the registry's credentials.")
@click.option(
    "--shutdown-grace",
    type=float,
    help="Seconds the server gives cancelled predictions on SIGTERM (PYCOG_SHUTDOWN_GRACE, 30).",
)
@click.option(
    "--drain-timeout",
    type=int,
    default=60,
    show_default=True,
    help="Seconds a stopping pod waits for running predictions before SIGTERM (HTTP mode).",
)
@click.option(
    "--startup-timeout",
    type=int,
    default=1800,
    show_default=True,
    help="Seconds setup() may take before the container is restarted.",
)
@click.option("-f", "--file", "config_file", default="cog.yaml", show_default=True)
def command(
    image: str | None,
    name: str | None,
    queue: str | None,
    redis_url: str | None,
    replicas: int | None,
    min_replicas: int | None,
    max_replicas: int | None,
    port: int,
    gpus: int | None,
    cpu: str | None,
    memory: str | None,
    env: tuple[str, ...],
    image_pull_secret: str | None,
    shutdown_grace: float | None,
    drain_timeout: int,
    startup_timeout: int,
    config_file: str,
) -> None:
    """Print Kubernetes manifests (YAML) that serve IMAGE (default: cog.yaml's `image`)."""
    try:
        config = _project_config(config_file)
        image = image or (config.image if config else None)
        if not image:
            raise ManifestError("no image: pass IMAGE, or set `image:` in cog.yaml")
        plan = Plan(
            image=image,
            name=check_name(name) if name else name_from_image(image),
            port=port,
            replicas=replicas,
            min_replicas=min_replicas,
            max_replicas=max_replicas,
            gpus=gpus if gpus is not None else int(bool(config and config.build.gpu)),
            cpu=cpu,
            memory=memory,
            env=tuple(_pair(item) for item in env),
            shutdown_grace=_grace(shutdown_grace),
            drain_seconds=drain_timeout,
            startup_seconds=startup_timeout,
            concurrency=(config.concurrency_max if config else None) or 1,
            queue=_queue(queue, redis_url),
            image_pull_secret=image_pull_secret,
        )
        click.echo(to_yaml(build(plan)), nl=False)
    except CogError as exc:
        raise as_click_error(exc) from None


def _project_config(config_file: str) -> Config | None:
    """cog.yaml when there is one (IMAGE alone is enough to make manifests)."""
    directory = find_project_dir(Path.cwd(), config_file)
    if not (directory / config_file).is_file():
        return None
    return load_project(config_file, directory)


def _queue(queue: str | None, redis_url: str | None) -> Queue | None:
    if queue is None and redis_url is None:
        return None
    if not queue or not redis_url:
        raise ManifestError("queue mode needs both --queue NAME and --redis-url URL")
    return Queue(queue, redis_url)


def _grace(flag: float | None) -> float:
    if flag is not None:
        return flag
    return envvars.SHUTDOWN_GRACE.get_float() or 30.0


def _pair(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name:
        raise ManifestError(f"-e {item!r}: write NAME=value")
    return name, value
