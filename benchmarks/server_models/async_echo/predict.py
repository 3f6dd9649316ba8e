from cog import BasePredictor


class Predictor(BasePredictor):
    async def predict(self, text: str = "") -> str:
        return text
