"""`cog train`: run the model's `train()` once; its output (the weights) is saved to `-o`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .console import warn
from .predict import predict_command, predict_options


@click.command("train")
@predict_options
def command(**options: Any) -> None:
    """Train the model (cog.yaml `train:`) and save the resulting weights (deprecated)."""
    # Cog 0.22 deprecates the command (cobra's notice, before anything else runs).
    warn(
        'Command "train" is deprecated, '
        "the train command will be removed in a future version of Cog"
    )
    if options.get("output") is None:
        options["output"] = Path("weights")
    predict_command(**options, mode="train")
