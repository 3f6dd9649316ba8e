"""Model code as users write it: `mypy --strict` must accept it against pycog's SDK.

Checked by script/lint (not collected by pytest: no test functions here).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import cog
from cog import (
    AsyncConcatenateIterator,
    BaseModel,
    BasePredictor,
    BaseRunner,
    ConcatenateIterator,
    Input,
    Path,
    Secret,
    current_scope,
)


class Output(BaseModel):
    text: str
    image: Path | None = None


class Predictor(BasePredictor):
    def setup(self, weights: str | None = None) -> None:
        self.weights = weights

    def predict(
        self,
        prompt: str = Input(description="Prompt", min_length=1),
        steps: int = Input(default=20, ge=1, le=100),
        scale: float = Input(default=7.5),
        mode: str = Input(default="fast", choices=["fast", "slow"]),
        image: Path | None = Input(default=None, description="Optional image"),
        token: Secret = Input(description="API token"),
    ) -> Output:
        self.record_metric("steps", steps)
        current_scope().metrics.record("tokens", 1, mode="incr")
        key: str | None = token.get_secret_value()
        return Output(text=f"{prompt}{steps}{scale}{mode}{key}", image=image)


class Streamer(BaseRunner):
    @cog.streaming
    def run(self, n: int = Input(default=3)) -> ConcatenateIterator[str]:
        for i in range(n):
            yield str(i)


class AsyncStreamer(BaseRunner):
    @cog.concurrent(max=4)
    async def run(self, n: int = 3) -> AsyncConcatenateIterator[str]:
        for i in range(n):
            yield str(i)


class Batched(BasePredictor):
    @cog.batch(max_size=16, max_wait_ms=10)
    def predict(
        self,
        prompt: list[str] = Input(description="Prompt"),
        steps: list[int] = Input(default=20),
    ) -> list[str | Exception]:
        return [p * s if s else ValueError("no steps") for p, s in zip(prompt, steps)]


class AsyncBatched(BaseRunner):
    @cog.batch(max_size=8, max_wait_ms="auto")
    @cog.concurrent(max=2)
    async def run(self, prompt: list[str]) -> list[str]:
        return prompt


def predict(items: list[str]) -> Iterator[Path]:
    for item in items:
        yield Path(item)


async def train(steps: int = Input(default=1)) -> AsyncIterator[int]:
    yield steps
