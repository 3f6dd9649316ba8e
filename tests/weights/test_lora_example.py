"""The lora-weights example: adapters fetched through the cache, reloaded only on URL change."""

import json
import pathlib

from cog.predictor import entry_function, load_predictor

EXAMPLE = pathlib.Path(__file__).parents[2] / "examples" / "lora-weights"


def test_adapters_reload_only_when_their_url_changes(origin, tmp_path, monkeypatch):
    for name, deltas in {"a1": [1, 0, 0, 0], "a2": [0, 2, 0, 0], "b1": [0, 0, 0, 1]}.items():
        origin.files[f"{name}.json"] = json.dumps({"deltas": deltas}).encode()
    monkeypatch.setenv("LORA_CACHE_DIR", str(tmp_path))
    predictor = load_predictor("predict.py:Predictor", EXAMPLE)
    predictor.setup()
    predict = entry_function(predictor)
    url = origin.url + "/f/{}.json"
    kwargs = {"vector": "1,1,1,1", "scale_a": 1.0, "scale_b": 1.0, "hf_token": None}
    assert predict(adapter_a=url.format("a1"), adapter_b=url.format("b1"), **kwargs) == "2,1,1,2"
    assert predict(adapter_a=url.format("a1"), adapter_b=url.format("b1"), **kwargs) == "2,1,1,2"
    assert predictor.loads == 2
    assert predict(adapter_a=url.format("a2"), adapter_b=url.format("b1"), **kwargs) == "1,3,1,2"
    assert predictor.loads == 3
    assert origin.requests["f/a1.json"] == 1
