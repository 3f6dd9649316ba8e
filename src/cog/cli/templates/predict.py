"""The model: setup() runs once, predict() once per request."""

from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def setup(self) -> None:
        """Load the model into memory, once."""
        self.prefix = "You said"

    def predict(
        self,
        prompt: str = Input(description="Text to answer"),
        repeat: int = Input(description="How many times", default=1, ge=1, le=10),
    ) -> str:
        """Run one prediction."""
        return " ".join([f"{self.prefix}: {prompt}"] * repeat)
