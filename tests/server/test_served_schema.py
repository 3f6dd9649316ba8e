"""What the server's schema is: read from the loaded predictor (a predictor whose schema cannot
be read is never served without validation), and both modes' when cog.yaml sets both."""

import json

import pytest

from cog.config import load_config
from cog.schema import generate_schema

from .conftest import FIXTURES

# A valid document for another predictor: the server must not fall back on it.
BUNDLED = {
    "openapi": "3.0.2",
    "info": {"title": "Cog", "version": "0.1.0"},
    "paths": {},
    "components": {"schemas": {"Input": {"type": "object", "properties": {}}}},
}


@pytest.mark.every_python
@pytest.mark.parametrize("bundled", [False, True], ids=["alone", "with-bundled-schema"])
def test_a_predictor_whose_schema_cannot_be_read_fails_setup_with_the_reason(
    serve, tmp_path, bundled
):
    if bundled:
        cog_dir = tmp_path / "unreadable_schema" / ".cog"
        cog_dir.mkdir(parents=True)
        (cog_dir / "openapi_schema.json").write_text(json.dumps(BUNDLED))
    with serve("unreadable_schema") as server, server.client() as client:
        health = server.health()
        refused = client.post("/predictions", json={"input": {"x": "not a number"}})
        schema = client.get("/openapi.json")
    assert health["status"] == "SETUP_FAILED"
    assert health["setup"]["status"] == "failed"
    logs = health["setup"]["logs"]
    assert "input 'x': unsupported type complex" in logs
    assert "cannot serve predict.py:Predictor" in logs
    assert refused.status_code == 503
    assert schema.status_code == 503


@pytest.mark.every_python
@pytest.mark.parametrize("mode", ["predict", "train"])
def test_openapi_has_prediction_and_training_paths_whichever_mode_serves(serve, mode):
    expected = generate_schema(FIXTURES / "train", load_config(FIXTURES / "train"))
    with serve("train", args=("--x-mode", mode)) as server, server.client() as client:
        served = client.get("/openapi.json").json()
    for path in ("/predictions", "/trainings", "/trainings/{training_id}/cancel"):
        assert path in served["paths"], path
    for component in ("Input", "Output", "TrainingInput", "TrainingOutput", "TrainingRequest"):
        assert component in served["components"]["schemas"], component
    assert served == expected
