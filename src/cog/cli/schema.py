"""`cog schema`: print the model's OpenAPI schema, as Cog writes `.cog/openapi_schema.json`."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import CogError
from .errors import as_click_error
from .options import load_project


@click.command("schema")
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--static", is_flag=True, help="Read the source only; never import the model.")
@click.option("-f", "--file", "config_file", default="cog.yaml", show_default=True)
def command(path: Path | None, static: bool, config_file: str) -> None:
    """Print the OpenAPI schema of the model in PATH (default: this directory)."""
    from ..schema import dumps, generate_schema

    config = load_project(config_file, path, schema_only=True)
    try:
        document = generate_schema(config.project_dir, config, static=static)
    except CogError as exc:
        raise as_click_error(exc) from None
    except ImportError as exc:
        raise click.ClickException(
            f"importing the model failed ({exc}); install its requirements, or use --static"
        ) from None
    click.echo(dumps(document))
