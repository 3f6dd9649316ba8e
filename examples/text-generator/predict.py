"""Stream text from the character model trained by train.py (weights from setup)."""

from pathlib import Path as FsPath

from charmodel import fit, generate, load

import cog
from cog import BasePredictor, ConcatenateIterator, Input

DEFAULT_CORPUS = "the quick brown fox jumps over the lazy dog. " * 20


class Predictor(BasePredictor):
    def setup(self, weights: str | None = None) -> None:
        if weights:
            self.order, self.model = load(FsPath(weights))
        else:
            self.order, self.model = 3, fit(DEFAULT_CORPUS)

    @cog.streaming
    def predict(
        self,
        prompt: str = Input(description="Text to continue", default="the "),
        length: int = Input(description="Characters to generate", default=80, ge=1, le=10000),
        seed: int = Input(description="Random seed", default=0),
    ) -> ConcatenateIterator[str]:
        yield from generate(self.model, self.order, prompt, length, seed)
