"""`cog predict` and its newer name `cog run`: one prediction, from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .._decorators import declares_streaming
from ..config import Config
from ..errors import CogError
from .console import reporter, warn
from .errors import CliError, as_click_error
from .inputs import check_json_inputs, parse_pairs, read_json_inputs, type_inputs
from .model import RunningModel, running_model
from .options import load_project, parse_env, runtime_options
from .outputs import json_response, save_output, write_json_response
from .prediction import check_succeeded, run_prediction
from .validation import validate_inputs


def static_schema(config: Config) -> dict[str, Any] | None:
    """The schema read from source, to check inputs before anything starts (None when the
    source cannot be read statically: the served schema is used then)."""
    try:
        from ..schema import generate_schema
    except ImportError:
        return None
    try:
        schema: dict[str, Any] = generate_schema(config.project_dir, config, static=True)
        return schema
    except CogError as exc:
        warn(f"warning: inputs are checked once the model is up ({exc})")
        return None


def predict_options(fn: Any) -> Any:
    fn = click.option(
        "-i",
        "--input",
        "inputs",
        multiple=True,
        help="name=value (@path for files; repeat for lists).",
    )(fn)
    fn = click.option(
        "--json",
        "json_inputs",
        help="All inputs as JSON: '{...}', @file.json, or @- / - (stdin); prints the whole "
        "response as JSON.",
    )(fn)
    fn = click.option(
        "-o",
        "--output",
        "output",
        type=click.Path(path_type=Path),
        help="Where to write file outputs.",
    )(fn)
    return runtime_options(fn)


def predict_command(
    *,
    inputs: tuple[str, ...],
    json_inputs: str | None,
    output: Path | None,
    runtime: str,
    progress: str,
    env: tuple[str, ...],
    setup_timeout: float,
    config_file: str,
    mode: str = "predict",
) -> None:
    """Run one prediction (or training) and show or save its output.

    With `--json` the whole response is printed (or written to `-o`) as Cog prints it, and a
    prediction that did not succeed exits with status 1."""
    if inputs and json_inputs:
        raise click.ClickException("Must use one of --json or --input to provide model inputs")
    config = load_project(config_file)
    ref = config.train if mode == "train" else config.predict
    if not ref:
        key = "train" if mode == "train" else "run"
        raise click.ClickException(
            f"cog.yaml does not set `{key}`: add e.g. `{key}: predict.py:Predictor`"
        )
    component = "TrainingInput" if mode == "train" else "Input"
    try:
        schema = static_schema(config)
        typed = _inputs(inputs, json_inputs, schema, component)
        with running_model(
            config,
            runtime=runtime,  # type: ignore[arg-type]
            mode=mode,  # type: ignore[arg-type]
            report=reporter(progress),
            env=parse_env(env),
            setup_timeout=setup_timeout,
        ) as model:
            result = _predict(model, typed, schema, inputs, json_inputs, mode, component)
        if json_inputs:
            write_json_response(json_response(result, output), output)
            if result.get("status") != "succeeded":
                raise SystemExit(1)
            return
        check_succeeded(result)
        if not result.get("_printed"):
            save_output(result.get("output"), output)
    except KeyboardInterrupt:
        raise click.Abort() from None
    except CogError as exc:
        raise as_click_error(exc) from None


def _inputs(
    inputs: tuple[str, ...], json_inputs: str | None, schema: dict[str, Any] | None, component: str
) -> dict[str, Any] | None:
    """Typed inputs, or None when they can only be typed by the served schema."""
    if json_inputs:
        return check_json_inputs(read_json_inputs(json_inputs), schema, component)
    if schema is None:
        return None
    return type_inputs(parse_pairs(inputs), schema, component)


def _predict(
    model: RunningModel,
    typed: dict[str, Any] | None,
    schema: dict[str, Any] | None,
    inputs: tuple[str, ...],
    json_inputs: str | None,
    mode: str,
    component: str,
) -> dict[str, Any]:
    if schema is None:
        # The source could not be read statically: check against the schema the model serves.
        schema = model.schema()
        if typed is None:
            typed = type_inputs(parse_pairs(inputs), schema, component)
        elif schema is not None:
            validate_inputs(typed, schema, component)
    assert typed is not None  # typed by `_inputs` whenever the static schema was read
    endpoint = "/trainings" if mode == "train" else "/predictions"
    # `--json` prints one document at the end: streamed chunks must not reach stdout first.
    stream = declares_streaming(schema, endpoint) and not json_inputs
    return run_prediction(model, typed, endpoint=endpoint, stream=stream)


@click.command("predict")
@predict_options
def predict(**options: Any) -> None:
    """Run a prediction (deprecated name of `cog run`)."""
    warn('"cog predict" is deprecated, use "cog run"')
    predict_command(**options)


@click.command("run")
@predict_options
def run(**options: Any) -> None:
    """Run a prediction on the model in this directory.

    \b
    Examples:
      cog run -i prompt="a photo of a cat" -i steps=20
      cog run -i image=@input.png -o out.png
      cog run --json @inputs.json
    """
    predict_command(**options)


commands = (predict, run)
__all__ = ["CliError", "commands"]
