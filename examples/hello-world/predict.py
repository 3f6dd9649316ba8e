"""Hello, world: a predictor with one input and a text output."""

from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def setup(self) -> None:
        self.greeting = "Hello"

    def predict(self, name: str = Input(description="Who to greet", default="World")) -> str:
        return f"{self.greeting}, {name}!"
