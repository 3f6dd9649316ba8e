"""One reading of annotations: what the schema describes is what predict() receives."""

import base64

import pytest


def _data_uri(text: str) -> str:
    return "data:text/plain;base64," + base64.b64encode(text.encode()).decode()


@pytest.mark.every_python
def test_files_and_secrets_reach_predict_as_their_annotated_types(serve):
    inputs = {
        "sequence": [_data_uri("s1"), _data_uri("s2")],
        "paths": [_data_uri("p1")],
        "old_paths": [_data_uri("o1")],
        "maybe": _data_uri("m"),
        "files": [_data_uri("f1"), _data_uri("f2")],
        "token": "abc",
        "tokens": ["de", "f"],
    }
    with serve("annotations") as server, server.client() as client:
        schema = client.get("/openapi.json").json()
        body = client.post("/predictions", json={"input": inputs}).json()
    assert body["status"] == "succeeded", body
    assert body["output"] == {
        "sequence": [{"type": "Path", "content": "s1"}, {"type": "Path", "content": "s2"}],
        "paths": [{"type": "Path", "content": "p1"}],
        "old_paths": [{"type": "Path", "content": "o1"}],
        "maybe": {"type": "Path", "content": "m"},
        "files": [{"type": "File", "content": "f1"}, {"type": "File", "content": "f2"}],
        "token": {"type": "Secret", "length": 3},
        "tokens": [{"type": "Secret", "length": 2}, {"type": "Secret", "length": 1}],
        "absent": {"type": "NoneType"},
    }
    # The schema read the same annotations: arrays of URIs, and secrets.
    described = schema["components"]["schemas"]["Input"]["properties"]
    assert described["sequence"]["items"]["format"] == "uri"
    assert described["tokens"]["items"]["x-cog-secret"] is True
