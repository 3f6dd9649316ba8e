"""Which entry point of a model a process serves: `predict` (run) or `train`."""

from __future__ import annotations

from enum import Enum


class Mode(Enum):
    """The two kinds of work a Cog model does."""

    PREDICT = "predict"
    TRAIN = "train"

    def __str__(self) -> str:
        return str(self.value)
