"""`cog exec`: run a command inside the model's environment (virtualenv or container)."""

from __future__ import annotations

import click

from ..errors import CogError
from .console import reporter, say, warn
from .errors import as_click_error
from .foreground import run_foreground
from .model import choose_runtime
from .options import load_project, parse_env, runtime_options


@click.command("exec", context_settings={"ignore_unknown_options": True})
@click.argument("argv", nargs=-1, required=True, type=click.UNPROCESSED)
@runtime_options
def command(
    argv: tuple[str, ...],
    runtime: str,
    progress: str,
    env: tuple[str, ...],
    setup_timeout: float,
    config_file: str,
) -> None:
    """Run ARGV in the model's environment, in the project directory.

    \b
    Example:
      cog exec python -c "import torch; print(torch.__version__)"
    """
    config = load_project(config_file)
    extra = parse_env(env)
    try:
        chosen = choose_runtime(runtime)  # type: ignore[arg-type]
        say(f"Runtime: {chosen}")
        if chosen == "docker":
            from ..build import docker_runtime as containers

            image = containers.build_dev_image(config)
            spec = containers.ContainerSpec(image, env=extra, project_dir=config.project_dir)
            name = containers.container_name()
            # In the foreground: the CLI's stop signal reaches the client, which hands it to
            # the container (tini passes it on to the command); a client that does not end in
            # time is killed and the container removed.
            command = containers.container_command(spec, list(argv), keep_stdin=True, name=name)
            status = run_foreground(command, after_stop=lambda: containers.remove_container(name))
        else:
            from ..localenv import prepare_environment

            environment = prepare_environment(config, reporter(progress), warn=warn)
            variables = {**environment.variables(), **extra}
            status = run_foreground(list(argv), cwd=config.project_dir, env=variables)
    except CogError as exc:
        raise as_click_error(exc) from None
    raise SystemExit(status)
