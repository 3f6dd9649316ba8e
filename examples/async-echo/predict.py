"""An async predictor: up to concurrency.max predictions share one event loop."""

import asyncio

from cog import BasePredictor, Input


class Predictor(BasePredictor):
    async def setup(self) -> None:
        self.prefix = "echo"

    async def predict(
        self,
        text: str = Input(description="Text to echo"),
        delay: float = Input(description="Seconds to wait first", default=0.1, ge=0, le=60),
    ) -> str:
        await asyncio.sleep(delay)
        return f"{self.prefix}: {text}"
