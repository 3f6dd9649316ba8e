import asyncio

from cog import BasePredictor


class Predictor(BasePredictor):
    async def predict(self, seconds: float = 0.1) -> str:
        await asyncio.sleep(seconds)
        return "done"
