import os

from cog import BasePredictor, Path


class Predictor(BasePredictor):
    def setup(self) -> None:
        self.data = os.urandom(20 * 1024 * 1024)

    def predict(self, n: int = 1) -> Path:
        path = Path(f"/tmp/pycog-bench-{os.getpid()}.bin")
        path.write_bytes(self.data)
        return path
