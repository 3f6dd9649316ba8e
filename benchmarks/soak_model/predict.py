import asyncio
from collections.abc import AsyncIterator

from cog import BasePredictor


class Predictor(BasePredictor):
    async def predict(
        self, chunks: int = 1, seconds: float = 0.0, fail: bool = False
    ) -> AsyncIterator[str]:
        for index in range(chunks):
            print(f"chunk {index}")
            yield f"c{index}"
            await asyncio.sleep(seconds / max(chunks, 1))
        if fail:
            raise ValueError("asked to fail")
