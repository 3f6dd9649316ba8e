"""The model: setup() runs once, run() once per request."""

from cog import BaseRunner, Input


class Runner(BaseRunner):
    def setup(self) -> None:
        """Load the model into memory, once."""
        self.prefix = "You said"

    def run(
        self,
        prompt: str = Input(description="Text to answer"),
        repeat: int = Input(description="How many times", default=1, ge=1, le=10),
    ) -> str:
        """Run one prediction."""
        return " ".join([f"{self.prefix}: {prompt}"] * repeat)
