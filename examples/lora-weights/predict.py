"""Compose a base model with two adapters whose weights come from user-supplied URLs.

The "model" is a tiny linear map over a vector so the example runs anywhere; the weights
handling is what real LoRA predictors do: each adapter URL is fetched through a WeightsCache
(hf://, Hugging Face, CivitAI, Replicate or plain URLs), and an adapter is reloaded only when
its URL changes between predictions.
"""

import json
import os
from pathlib import Path as FsPath

from cog import BasePredictor, Input, Secret
from cog.weights import WeightsCache

BASE_WEIGHTS = [1.0, 1.0, 1.0, 1.0]


class Predictor(BasePredictor):
    def setup(self) -> None:
        root = os.environ.get("LORA_CACHE_DIR", "/tmp/pycog-lora-cache")
        self.cache = WeightsCache(root, min_free_bytes=1 << 30)
        self.loaded: dict[str, tuple[str, list[float]]] = {}
        self.loads = 0

    def _adapter(self, slot: str, url: str, token: Secret | None) -> list[float]:
        current = self.loaded.get(slot)
        if current is not None and current[0] == url:
            return current[1]
        path = self.cache.ensure(url, hf_token=token)
        deltas = json.loads(FsPath(path).read_text())["deltas"]
        self.loaded[slot] = (url, deltas)
        self.loads += 1
        print(f"loaded adapter {slot} from {url}")
        return deltas

    def predict(
        self,
        vector: str = Input(description="Comma-separated numbers to transform", default="1,2,3,4"),
        adapter_a: str = Input(description="URL of the first adapter's weights"),
        adapter_b: str = Input(description="URL of the second adapter's weights"),
        scale_a: float = Input(description="Strength of adapter A", default=1.0, ge=0, le=2),
        scale_b: float = Input(description="Strength of adapter B", default=1.0, ge=0, le=2),
        hf_token: Secret = Input(description="Hugging Face token (private weights)", default=None),
    ) -> str:
        a = self._adapter("a", adapter_a, hf_token)
        b = self._adapter("b", adapter_b, hf_token)
        values = [float(v) for v in vector.split(",")]
        weights = [w + scale_a * da + scale_b * db for w, da, db in zip(BASE_WEIGHTS, a, b)]
        return ",".join(f"{v * w:g}" for v, w in zip(values, weights))
