"""Which entry point of a model a process serves: `predict` (run) or `train`.

`Mode` is the enum Cog's SDK exposes as `cog.mode.Mode` (models import it); pycog's own code
passes modes as `ModeName` strings, so a mode reads and compares like the CLI flag it came from.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal

ModeName = Literal["predict", "train"]


class Mode(Enum):
    """The two kinds of work a Cog model does."""

    PREDICT = "predict"
    TRAIN = "train"

    def __str__(self) -> str:
        return str(self.value)
