import cog
from cog import BasePredictor, ConcatenateIterator


class Predictor(BasePredictor):
    @cog.streaming
    def predict(self, tokens: int = 200) -> ConcatenateIterator[str]:
        for index in range(tokens):
            yield f"tok{index} "
